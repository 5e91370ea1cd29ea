package manifest_test

import (
	"testing"

	"github.com/molt-go/molt/update/manifest"
)

// Validate and Build say the same thing of the same package every time:
// nothing they report may follow the order of a map.

// When several cycles are equally short, the one reported must not depend
// on the order in which the graph's virtual nodes were made. Here a
// depends on kinds b and c, each of which depends on a: a -> b -> a and
// a -> c -> a are both shortest, and b comes first by name.
func TestValidateReportsTheSameCycle(t *testing.T) {
	p := &manifest.Package{
		ID: "p",
		Updates: []manifest.KindUpdate{
			{Kind: "a", To: 2, Targets: manifest.Targets{Actors: []string{"a1"}}},
			{Kind: "b", To: 2, Targets: manifest.Targets{Actors: []string{"b1"}}},
			{Kind: "c", To: 2, Targets: manifest.Targets{Actors: []string{"c1"}}},
			{Kind: "d", To: 2, Targets: manifest.Targets{Actors: []string{"d1"}}},
		},
		// b1 and c1, named in order, make the kinds b and c stand for
		// more than one node: a dependency on them goes through a
		// virtual node.
		Order: []manifest.Dependency{
			{Name: "a", After: []string{"b", "c"}},
			{Name: "b", After: []string{"a"}},
			{Name: "c", After: []string{"a"}},
			{Name: "d", After: []string{"b1", "c1"}},
		},
	}
	for range 20 {
		wantProblems(t, problemsOf(t, manifest.Validate(p)), "order: cycle a -> b -> a")
	}
}
