package manifest_test

import (
	"fmt"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
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

// With all: true, the problems of actors that share a name come sorted by
// name, whatever the order of the directory's maps; of two actors so
// named, the one recorded first is the target, the other the problem.
func TestBuildReportsDuplicateNamesInOrder(t *testing.T) {
	cat := plainCatalog(t, "a")
	var live []registry.Entry
	var want []string
	for i := range 8 {
		name := fmt.Sprintf("a-%d", i)
		live = append(live,
			registry.Entry{PID: actor.NewPID("one:1", name), Kind: "a", Version: 1},
			registry.Entry{PID: actor.NewPID("two:2", name), Kind: "a", Version: 1},
			registry.Entry{PID: actor.NewPID("one:1", "lone-"+name), Kind: "a", Version: 1})
		want = append(want, fmt.Sprintf(`updates[0].targets: two live target actors are named %q (one:1/%s, a a, and two:2/%s, a a)`, name, name, name))
	}
	p := &manifest.Package{ID: "p", Updates: []manifest.KindUpdate{all("a")}}
	for range 20 {
		_, err := manifest.Build(p, cat, registry.DirectoryOf(live...))
		wantProblems(t, problemsOf(t, err), want...)
	}
}
