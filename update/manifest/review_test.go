package manifest_test

// Regression tests from a review of planning (manifest.Build and
// Validate); each failed before its fix.

import (
	"math"
	"testing"
	"time"

	"github.com/molt-go/molt/internal/directory"
	"github.com/molt-go/molt/update/manifest"
)

// A probation the update protocol will refuse (update.MaxProbation is 24h;
// a message window must fit in uint32) passes Validate and Build: every
// actor's update is then REJECTED at run time, instead of the package
// getting a field-path problem up front.
func TestProbationOutOfRangeIsAProblem(t *testing.T) {
	for name, pr := range map[string]*manifest.Probation{
		"25h":           {Duration: manifest.Duration{Duration: 25 * time.Hour}},
		"2^32 messages": {Messages: math.MaxUint32 + 1}, // sent as uint32(0): "probation has no window"
	} {
		p := &manifest.Package{
			ID:        "p",
			Updates:   []manifest.KindUpdate{{Kind: "account", From: []uint32{1}, To: 2, Targets: manifest.Targets{Actors: []string{"acct-1"}}}},
			Probation: pr,
		}
		if _, err := manifest.Build(p, bankCatalog(t, false), bankDirectory()); err == nil {
			t.Errorf("probation %s: Build accepts it; the protocol rejects it on every actor", name)
		}
	}
}

// A group member skipped because its version is not in from (not because
// it is already at to) is silently dropped from its group: the rest of the
// all-or-nothing group is updated without it.
func TestGroupMemberOutsideFromIsAProblem(t *testing.T) {
	dir := bankDirectory()
	directory.WriterOf(dir).Add(pid("acct-9"), "account", 3, map[string]string{"region": "eu"})
	p := &manifest.Package{
		ID:      "p",
		Updates: []manifest.KindUpdate{{Kind: "account", From: []uint32{1}, To: 2, Targets: manifest.Targets{Actors: []string{"acct-1", "acct-9"}}}},
		Groups:  []manifest.Group{{Name: "pair", Members: []string{"acct-1", "acct-9"}}},
	}
	plan, err := manifest.Build(p, bankCatalog(t, false), dir)
	if err == nil {
		u := plan.Steps[0].Batches[0].Units[0]
		t.Errorf("group pair planned as %q with %d member(s); acct-9 (version 3, not in from) left out: the group is no longer all-or-nothing", u.Group, len(u.Members))
	}
}
