package manifest_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/molt-go/molt/update/manifest"
)

// A package with many problems reports every one of them at once, each
// with its field path, in the order of the package's fields.
func TestValidateReportsEveryProblemWithItsPath(t *testing.T) {
	p, err := manifest.Load(strings.NewReader(`
updates:
  - kind: account
    from: [1, 2, 1]
    to: 0
    targets: {actors: [acct-1, acct-1, ""]}
  - kind: account
    to: 2
    targets: {labels: {zone: a}}
  - kind: ledger
    to: 2
    targets: {actors: [acct-1], all: true}
  - kind: ""
    from: [1]
    to: 1
    targets: {all: true, labels: {"": x}}
groups:
  - name: g
    members: [acct-1]
  - name: g
    members: [acct-1, ""]
  - name: ""
order:
  - name: a
    after: [b, a, b]
  - name: b
    after: [a]
  - name: a
  - name: account
    after: [ledger]
  - name: ledger
    after: [account]
quiescence: {perActor: 11m, package: -1s}
rollout: {strategy: fast, maxInFlight: -1, canaries: -1, pause: -1s, failureBudget: -2, onBudgetExceeded: explode}
probation: {}
`), manifest.FormatYAML)
	if err != nil {
		t.Fatal(err)
	}
	err = manifest.Validate(p)
	wantProblems(t, problemsOf(t, err),
		"id: required",
		"updates[0].to: must be >= 1",
		"updates[0].from[2]: 1 is already listed at from[0]",
		`updates[0].targets.actors[1]: "acct-1" is already listed at actors[0]`,
		"updates[0].targets.actors[2]: must not be empty",
		`updates[1].kind: "account" is already updated by updates[0]`,
		"updates[1].targets: give actors (a list of names) or all: true",
		"updates[1].targets.labels: labels filter all: true",
		"updates[2].targets: give actors or all: true, not both",
		`updates[2].targets.actors[0]: "acct-1" is already a target of updates[0]`,
		"updates[3].kind: required",
		"updates[3].from[0]: 1 is the target version",
		"updates[3].targets.labels: a label key must not be empty",
		`groups[1].name: "g" is already the name of groups[0]`,
		`groups[1].members[0]: "acct-1" is already a member of groups[0] ("g")`,
		"groups[1].members[1]: must not be empty",
		"groups[2].name: required",
		"groups[2].members: at least one member is required",
		`order[0].after[1]: "a" depends on itself`,
		`order[0].after[2]: "b" is already listed at after[0]`,
		`order[2].name: "a" is already listed at order[0]`,
		"order[2].after: at least one name is required",
		"order: cycle a -> b -> a",
		"order: cycle account -> ledger -> account",
		"quiescence.perActor: must be from 1ms to 10m (unset: 2s); got 11m",
		"quiescence.package: must be >= 0",
		`rollout.strategy: "fast" is not one of all-at-once, rolling`,
		"rollout.maxInFlight: must be >= 0; got -1",
		"rollout.failureBudget: must be >= 0; got -2",
		"rollout.canaries: must be >= 0; got -1",
		"rollout.pause: must be >= 0; got -1s",
		`rollout.onBudgetExceeded: "explode" is not one of halt, rollback`,
		"probation: give messages or duration")

	// The error text lists them one per line, after a count.
	lines := strings.Split(err.Error(), "\n")
	if lines[0] != "invalid update package: 33 problems" || len(lines) != 34 || lines[1] != "\tid: required: name the package" {
		t.Errorf("Error():\n%s", err)
	}
}

// Each rule, alone: a valid package with one thing wrong reports exactly
// that problem at its path.
func TestValidateRules(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(p *manifest.Package)
		want   []string // "path: part of the message"
	}{
		{"valid", func(*manifest.Package) {}, nil},
		{"no id", func(p *manifest.Package) { p.ID = "  " }, []string{"id: required"}},
		{"no updates", func(p *manifest.Package) { p.Updates = nil; p.Groups = nil; p.Order = nil }, []string{"updates: at least one"}},
		{"version 0", func(p *manifest.Package) { p.Updates[1].To = 0 }, []string{"updates[1].to: must be >= 1"}},
		{"from version 0", func(p *manifest.Package) { p.Updates[0].From = []uint32{0} }, []string{"updates[0].from[0]: must be >= 1"}},
		{"no targets", func(p *manifest.Package) { p.Updates[0].Targets = manifest.Targets{} }, []string{"updates[0].targets: give actors (a list of names) or all: true"}},
		{"labels on named actors", func(p *manifest.Package) { p.Updates[0].Targets.Labels = map[string]string{"a": "b"} }, []string{"updates[0].targets.labels: labels filter all: true"}},
		{"member not a target", func(p *manifest.Package) {
			p.Updates[1].Targets = manifest.Targets{Actors: []string{"acct-1", "acct-2"}}
			p.Groups[0].Members = append(p.Groups[0].Members, "acct-9")
		}, []string{`groups[0].members[2]: "acct-9" is not a target of any update`}},
		{"member in two groups", func(p *manifest.Package) {
			p.Groups = append(p.Groups, manifest.Group{Name: "pair-b", Members: []string{"acct-3", "acct-2"}})
		}, []string{`groups[1].members[1]: "acct-2" is already a member of groups[0] ("pair-a")`}},
		{"order names nothing", func(p *manifest.Package) {
			p.Updates[1].Targets = manifest.Targets{Actors: []string{"acct-1", "acct-2"}}
			p.Order[0].After = append(p.Order[0].After, "shop")
		}, []string{`order[0].after[1]: "shop" is neither a kind nor an actor this package updates`}},
		{"order without after", func(p *manifest.Package) { p.Order[0].After = nil }, []string{"order[0].after: at least one name"}},
		{"kind named like an actor", func(p *manifest.Package) {
			p.Updates[0].Targets.Actors = []string{"account"}
		}, []string{`order[0].name: "account" is both a kind and the name of an actor`}},
		{"cycle through an actor", func(p *manifest.Package) {
			p.Order = append(p.Order, manifest.Dependency{Name: "main-ledger", After: []string{"account"}})
		}, []string{"order: cycle account -> main-ledger -> account"}},
		{"negative per-actor deadline", func(p *manifest.Package) { p.Quiescence.PerActor = ms(-1) }, []string{"quiescence.perActor: must be from 1ms to 10m"}},
		// Below update.MinDeadline every actor would reject its update.
		{"per-actor deadline under the minimum", func(p *manifest.Package) { p.Quiescence.PerActor = manifest.Duration{Duration: time.Microsecond} }, []string{"quiescence.perActor: must be from 1ms to 10m (unset: 2s); got 1µs"}},
		{"strategy", func(p *manifest.Package) { p.Rollout.Strategy = "fast" }, []string{`rollout.strategy: "fast" is not one of all-at-once, rolling`}},
		{"canaries with all-at-once", func(p *manifest.Package) {
			p.Rollout.Strategy = "all-at-once"
			p.Rollout.BatchSize = 0
			p.Rollout.Pause = ms(0)
		}, []string{"rollout.canaries: only with strategy rolling"}},
		{"batches with all-at-once", func(p *manifest.Package) { p.Rollout.Strategy = ""; p.Rollout.Canaries = 0 }, []string{"rollout.batchSize: only with strategy rolling", "rollout.pause: only with strategy rolling"}},
		{"negative batch size", func(p *manifest.Package) { p.Rollout.BatchSize = -1 }, []string{"rollout.batchSize: must be >= 0"}},
		{"budget action", func(p *manifest.Package) { p.Rollout.OnBudgetExceeded = "panic" }, []string{`rollout.onBudgetExceeded: "panic" is not one of halt, rollback`}},
		{"empty probation", func(p *manifest.Package) { p.Probation = &manifest.Probation{} }, []string{"probation: give messages or duration"}},
		{"negative probation", func(p *manifest.Package) { p.Probation.Duration = ms(-5) }, []string{"probation.duration: must be between 0 and 24h0m0s"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := bankPackage()
			c.change(p)
			err := manifest.Validate(p)
			if c.want == nil {
				if err != nil {
					t.Fatalf("want no problem, got %v", err)
				}
				return
			}
			wantProblems(t, problemsOf(t, err), c.want...)
		})
	}
	if err := manifest.Validate(nil); err == nil {
		t.Error("Validate(nil): no error")
	}
}

// Validate accepts a package whose settings are unset, and one whose
// defaults are filled.
func TestValidateDefaults(t *testing.T) {
	p := &manifest.Package{ID: "p", Updates: []manifest.KindUpdate{{Kind: "account", To: 2, Targets: manifest.Targets{All: true}}}}
	if err := manifest.Validate(p); err != nil {
		t.Fatalf("unset settings: %v", err)
	}
	p.SetDefaults()
	want := manifest.Package{
		ID:         "p",
		Updates:    p.Updates,
		Quiescence: manifest.Quiescence{PerActor: manifest.Duration{Duration: 2 * time.Second}},
		Rollout:    manifest.Rollout{Strategy: "all-at-once", MaxInFlight: 64, OnBudgetExceeded: "halt"},
	}
	if !reflect.DeepEqual(*p, want) {
		t.Errorf("SetDefaults:\n got %+v\nwant %+v", *p, want)
	}
	if err := manifest.Validate(p); err != nil {
		t.Errorf("defaults filled: %v", err)
	}

	p.Rollout.Strategy = "rolling"
	p.Rollout.MaxInFlight = 8
	p.SetDefaults()
	if p.Rollout.BatchSize != 100 || p.Rollout.MaxInFlight != 8 {
		t.Errorf("rolling: batch size %d, max in flight %d; want 100 (default), 8 (kept)", p.Rollout.BatchSize, p.Rollout.MaxInFlight)
	}
}

// A ValidationError is found by errors.As through wrapping, and its
// problems keep their paths.
func TestValidationErrorAs(t *testing.T) {
	p := bankPackage()
	p.Updates[0].To = 0
	err := manifest.Validate(p)
	var ve *manifest.ValidationError
	if !errors.As(errors.Join(errors.New("context"), err), &ve) {
		t.Fatalf("errors.As: not a *ValidationError: %v", err)
	}
	if len(ve.Problems) != 1 || ve.Problems[0].Path != "updates[0].to" {
		t.Errorf("problems: %+v", ve.Problems)
	}
	if got, want := err.Error(), "invalid update package: 1 problem\n\tupdates[0].to: must be >= 1 (versions are numbered from 1)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// Clone is deep: changing the copy leaves the original alone.
func TestClone(t *testing.T) {
	p := bankPackage()
	c := p.Clone()
	if !reflect.DeepEqual(p, c) {
		t.Fatal("the clone differs")
	}
	c.Updates[0].From[0] = 9
	c.Updates[0].Targets.Actors[0] = "x"
	c.Updates[1].Targets.Labels["region"] = "us"
	c.Groups[0].Members[0] = "x"
	c.Order[0].After[0] = "x"
	c.Probation.Messages = 1
	if !reflect.DeepEqual(p, bankPackage()) {
		t.Errorf("changing the clone changed the original: %+v", p)
	}
}

// TestValidateRefusesGroupsLargerThanAnUpdateCanName: a group is staged as
// one update that names every member, which an actor refuses beyond
// update.MaxGroupMembers names; Validate says so first.
func TestValidateRefusesGroupsLargerThanAnUpdateCanName(t *testing.T) {
	members := make([]string, manifest.MaxGroupMembers+1)
	for i := range members {
		members[i] = fmt.Sprintf("a%d", i)
	}
	p := &manifest.Package{
		ID:      "big-group",
		Updates: []manifest.KindUpdate{{Kind: "k", To: 2, Targets: manifest.Targets{Actors: members}}},
		Groups:  []manifest.Group{{Name: "g", Members: members}},
	}
	err := manifest.Validate(p)
	if want := "groups[0].members: 4097 members, over the limit of 4096"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Validate of a %d-member group: got %v, want a problem %q", len(members), err, want)
	}
	p.Groups[0].Members = members[:manifest.MaxGroupMembers]
	if err := manifest.Validate(p); err != nil {
		t.Fatalf("Validate of a %d-member group: %v", manifest.MaxGroupMembers, err)
	}
}
