package manifest_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update/manifest"
)

// Plain is the state of every version of the kinds of plainCatalog.
type Plain struct{ N int }

func (*Plain) Receive(actor.Context) {}

// plainCatalog registers versions 1 and 2 of each kind, with migrations
// both ways.
func plainCatalog(t testing.TB, kinds ...string) *registry.Catalog {
	t.Helper()
	cat := registry.New()
	for _, k := range kinds {
		must(t, registry.Register(cat, k, 1, func() *Plain { return &Plain{} }))
		must(t, registry.Register(cat, k, 2, func() *Plain { return &Plain{} }))
		must(t, registry.Migrate(cat, k, 1, 2, func(p *Plain) (*Plain, error) { return &Plain{N: p.N}, nil }))
		must(t, registry.Migrate(cat, k, 2, 1, func(p *Plain) (*Plain, error) { return &Plain{N: p.N}, nil }))
	}
	return cat
}

// all updates every live actor of a kind to version 2.
func all(kind string) manifest.KindUpdate {
	return manifest.KindUpdate{Kind: kind, To: 2, Targets: manifest.Targets{All: true}}
}

// shape describes a plan compactly: steps separated by " | ", each "names:"
// then its batches separated by " / " (a canary batch starts with "*"), each
// a list of units separated by ",", a group written "name(m1+m2)".
func shape(p *manifest.Plan) string {
	var steps []string
	for _, s := range p.Steps {
		var batches []string
		for _, b := range s.Batches {
			var units []string
			for _, u := range b.Units {
				if u.Group == "" {
					units = append(units, u.Name())
					continue
				}
				var ms []string
				for _, m := range u.Members {
					ms = append(ms, m.Name)
				}
				units = append(units, u.Group+"("+strings.Join(ms, "+")+")")
			}
			mark := ""
			if b.Canary {
				mark = "*"
			}
			batches = append(batches, mark+strings.Join(units, ","))
		}
		steps = append(steps, strings.Join(s.Names, ",")+": "+strings.Join(batches, " / "))
	}
	return strings.Join(steps, " | ")
}

func build(t *testing.T, p *manifest.Package, cat *registry.Catalog, dir *registry.Directory) *manifest.Plan {
	t.Helper()
	plan, err := manifest.Build(p, cat, dir)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return plan
}

// The example package against the bank: the ledger first, then the eu
// accounts, one canary, batches of two, the pair as one unit; acct-6 (us)
// is not selected and acct-7 (already at 2) is skipped.
func TestBuildBank(t *testing.T) {
	p := bankPackage()
	plan := build(t, p, bankCatalog(t, false), bankDirectory())
	want := "ledger: *main-ledger | account: *acct-3 / acct-4,acct-5 / pair-a(acct-1+acct-2)"
	if got := shape(plan); got != want {
		t.Errorf("plan:\n got %s\nwant %s", got, want)
	}
	m := plan.Steps[1].Batches[2].Units[0].Members[0]
	if m.Name != "acct-1" || m.Kind != "account" || m.From != 1 || m.To != 2 || !m.PID.Equal(pid("acct-1")) {
		t.Errorf("member: %+v", m)
	}
	wantSkip := []manifest.Skip{{PID: pid("acct-7"), Name: "acct-7", Kind: "account", Version: 2, Reason: "already at the target version"}}
	if !reflect.DeepEqual(plan.Skipped, wantSkip) {
		t.Errorf("skipped: %+v, want %+v", plan.Skipped, wantSkip)
	}
	if batches, units, actors := plan.Counts(); batches != 4 || units != 5 || actors != 6 {
		t.Errorf("Counts() = %d batches, %d units, %d actors; want 4, 5, 6", batches, units, actors)
	}

	// The plan's package is a copy with defaults filled; the package given
	// is unchanged.
	if plan.Package == p || !reflect.DeepEqual(p, bankPackage()) {
		t.Error("Build changed the package or kept it instead of a copy")
	}
	p2 := bankPackage()
	p2.Rollout.MaxInFlight = 0
	p2.Quiescence.PerActor = manifest.Duration{}
	plan = build(t, p2, bankCatalog(t, false), bankDirectory())
	if plan.Package.Rollout.MaxInFlight != 64 || plan.Package.Quiescence.PerActor.Duration != manifest.DefaultPerActor {
		t.Errorf("defaults not filled in Plan.Package: %+v", plan.Package)
	}
}

// Labels keep only the actors spawned with all of them; without labels,
// every live actor of the kind is selected.
func TestBuildLabels(t *testing.T) {
	dir, w := newDirectory()
	w.Add(pid("a-eu-1"), "account", 1, map[string]string{"region": "eu", "tier": "gold"})
	w.Add(pid("a-eu-2"), "account", 1, map[string]string{"region": "eu"})
	w.Add(pid("a-us-1"), "account", 1, map[string]string{"region": "us", "tier": "gold"})
	w.Add(pid("a-none"), "account", 1, nil)
	w.Add(pid("ledger"), "ledger", 1, map[string]string{"region": "eu"})
	cat := plainCatalog(t, "account", "ledger")
	for _, c := range []struct {
		labels map[string]string
		want   string
	}{
		{nil, "account: a-eu-1,a-eu-2,a-none,a-us-1"},
		{map[string]string{"region": "eu"}, "account: a-eu-1,a-eu-2"},
		{map[string]string{"region": "eu", "tier": "gold"}, "account: a-eu-1"},
		{map[string]string{"tier": "silver"}, ""},
	} {
		u := all("account")
		u.Targets.Labels = c.labels
		plan := build(t, &manifest.Package{ID: "p", Updates: []manifest.KindUpdate{u}}, cat, dir)
		if got := shape(plan); got != c.want {
			t.Errorf("labels %v: got %q, want %q", c.labels, got, c.want)
		}
	}
}

// An actor already at the target version is skipped; one at a version not
// in from is no target; with from empty, every other version is one.
func TestBuildSkips(t *testing.T) {
	cat := registry.New()
	for v := uint32(1); v <= 3; v++ {
		must(t, registry.Register(cat, "k", v, func() *Plain { return &Plain{} }))
	}
	up := func(p *Plain) (*Plain, error) { return p, nil }
	must(t, registry.Migrate(cat, "k", 1, 2, up))
	must(t, registry.Migrate(cat, "k", 2, 3, up))
	dir, w := newDirectory()
	w.Add(pid("v1"), "k", 1, nil)
	w.Add(pid("v2"), "k", 2, nil)
	w.Add(pid("v3"), "k", 3, nil)

	u := manifest.KindUpdate{Kind: "k", From: []uint32{2}, To: 3, Targets: manifest.Targets{Actors: []string{"v1", "v2", "v3"}}}
	plan := build(t, &manifest.Package{ID: "p", Updates: []manifest.KindUpdate{u}}, cat, dir)
	if got, want := shape(plan), "k: v2"; got != want {
		t.Errorf("from [2]: got %q, want %q", got, want)
	}
	var reasons []string
	for _, s := range plan.Skipped {
		reasons = append(reasons, s.Name+": "+s.Reason)
	}
	if want := []string{"v1: version 1 is not in from [2]", "v3: already at the target version"}; !slices.Equal(reasons, want) {
		t.Errorf("skipped: %q, want %q", reasons, want)
	}

	u.From = nil
	plan = build(t, &manifest.Package{ID: "p", Updates: []manifest.KindUpdate{u}}, cat, dir)
	if got, want := shape(plan), "k: v1,v2"; got != want {
		t.Errorf("from empty: got %q, want %q", got, want)
	}
	if got := plan.Steps[0].Batches[0].Units[0].Members[0]; got.From != 1 || got.To != 3 {
		t.Errorf("v1 goes from %d to %d, want 1 to 3", got.From, got.To)
	}

	// Nothing left to do: an empty plan, not an error.
	u.To = 3
	u.Targets = manifest.Targets{Actors: []string{"v3"}}
	plan = build(t, &manifest.Package{ID: "p", Updates: []manifest.KindUpdate{u}}, cat, dir)
	if len(plan.Steps) != 0 || len(plan.Skipped) != 1 {
		t.Errorf("all at the target: %d steps, %d skipped; want 0, 1", len(plan.Steps), len(plan.Skipped))
	}
}

// Dependency levels: what a unit depends on is in an earlier step; an
// actor inherits its kind's dependencies, and a dependency on a kind covers
// every actor of it but the actor itself.
func TestBuildDependencyLevels(t *testing.T) {
	cat := plainCatalog(t, "db", "cache", "web", "queue")
	dir, w := newDirectory()
	for _, n := range []string{"db-primary", "db-replica", "db-other"} {
		w.Add(pid(n), "db", 1, nil)
	}
	w.Add(pid("cache-1"), "cache", 1, nil)
	w.Add(pid("web-1"), "web", 1, nil)
	w.Add(pid("web-2"), "web", 1, nil)
	w.Add(pid("queue-1"), "queue", 2, nil) // already updated

	for _, c := range []struct {
		name  string
		order []manifest.Dependency
		want  string
	}{
		{"none", nil, "cache,db,web: cache-1,db-other,db-primary,db-replica,web-1,web-2"},
		{"a chain of kinds", []manifest.Dependency{
			{Name: "web", After: []string{"cache"}},
			{Name: "cache", After: []string{"db"}},
		}, "db: db-other,db-primary,db-replica | cache: cache-1 | web: web-1,web-2"},
		{"an actor after another of its kind", []manifest.Dependency{
			{Name: "db-replica", After: []string{"db-primary"}},
			{Name: "cache", After: []string{"db"}},
		}, "db,db-primary,web: db-other,db-primary,web-1,web-2 | db-replica: db-replica | cache: cache-1"},
		{"a kind after one of its actors", []manifest.Dependency{
			{Name: "db", After: []string{"db-primary"}},
		}, "cache,db-primary,web: cache-1,db-primary,web-1,web-2 | db: db-other,db-replica"},
		{"an actor inherits its kind's", []manifest.Dependency{
			{Name: "web", After: []string{"cache"}},
			{Name: "web-2", After: []string{"web-1"}},
		}, "cache,db: cache-1,db-other,db-primary,db-replica | web-1: web-1 | web-2: web-2"},
		{"transitive through a kind with nothing to do", []manifest.Dependency{
			{Name: "web", After: []string{"queue"}},
			{Name: "queue", After: []string{"db"}},
		}, "cache,db: cache-1,db-other,db-primary,db-replica | web: web-1,web-2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := &manifest.Package{ID: "p", Updates: []manifest.KindUpdate{all("db"), all("cache"), all("web"), all("queue")}, Order: c.order}
			if got := shape(build(t, p, cat, dir)); got != c.want {
				t.Errorf("\n got %s\nwant %s", got, c.want)
			}
		})
	}
}

// Rolling: in each step, the first Canaries units alone in canary batches,
// then batches of BatchSize units, in name order. All at once: one batch
// per step.
func TestBuildRollingBatches(t *testing.T) {
	cat := plainCatalog(t, "k", "j")
	dir, w := newDirectory()
	for i := 7; i >= 1; i-- {
		w.Add(pid(fmt.Sprintf("k-%d", i)), "k", 1, nil)
	}
	w.Add(pid("j-1"), "j", 1, nil)
	w.Add(pid("j-2"), "j", 1, nil)
	for _, c := range []struct {
		rollout manifest.Rollout
		want    string
	}{
		{manifest.Rollout{Strategy: "rolling", Canaries: 2, BatchSize: 3},
			"j: *j-1 / *j-2 | k: *k-1 / *k-2 / k-3,k-4,k-5 / k-6,k-7"},
		{manifest.Rollout{Strategy: "rolling", BatchSize: 4},
			"j: j-1,j-2 | k: k-1,k-2,k-3,k-4 / k-5,k-6,k-7"},
		{manifest.Rollout{Strategy: "rolling", Canaries: 9},
			"j: *j-1 / *j-2 | k: *k-1 / *k-2 / *k-3 / *k-4 / *k-5 / *k-6 / *k-7"},
		{manifest.Rollout{Strategy: "rolling"}, // default batch size 100
			"j: j-1,j-2 | k: k-1,k-2,k-3,k-4,k-5,k-6,k-7"},
		{manifest.Rollout{},
			"j: j-1,j-2 | k: k-1,k-2,k-3,k-4,k-5,k-6,k-7"},
	} {
		p := &manifest.Package{ID: "p", Updates: []manifest.KindUpdate{all("k"), all("j")},
			Order: []manifest.Dependency{{Name: "k", After: []string{"j"}}}, Rollout: c.rollout}
		if got := shape(build(t, p, cat, dir)); got != c.want {
			t.Errorf("%+v:\n got %s\nwant %s", c.rollout, got, c.want)
		}
	}
}

// A fleet: every live actor of a kind, in batches.
func TestBuildFleet(t *testing.T) {
	const n = 10_000
	cat := plainCatalog(t, "k")
	dir, w := newDirectory()
	for i := range n {
		w.Add(pid(fmt.Sprintf("k-%05d", i)), "k", 1, nil)
	}
	p := &manifest.Package{ID: "fleet", Updates: []manifest.KindUpdate{all("k")},
		Rollout: manifest.Rollout{Strategy: "rolling", Canaries: 3, BatchSize: 100}}
	plan := build(t, p, cat, dir)
	batches, units, actors := plan.Counts()
	if len(plan.Steps) != 1 || batches != 3+100 || units != n || actors != n {
		t.Fatalf("%d steps, %d batches, %d units, %d actors; want 1, 103, %d, %d", len(plan.Steps), batches, units, actors, n, n)
	}
	bs := plan.Steps[0].Batches
	if !bs[2].Canary || bs[3].Canary || len(bs[3].Units) != 100 || len(bs[102].Units) != 97 {
		t.Errorf("batches: canary %t %t, sizes %d %d", bs[2].Canary, bs[3].Canary, len(bs[3].Units), len(bs[102].Units))
	}
	if first, last := bs[0].Units[0].Name(), bs[102].Units[96].Name(); first != "k-00000" || last != "k-09999" {
		t.Errorf("order: first %s, last %s", first, last)
	}
}

// A group is one unit: its members together, sorted, in one batch; a
// member already at the target is left out of it; a group with nothing left
// to do disappears.
func TestBuildGroupsAreUnits(t *testing.T) {
	cat := plainCatalog(t, "account")
	dir, w := newDirectory()
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		w.Add(pid(n), "account", 1, nil)
	}
	w.Add(pid("done-1"), "account", 2, nil)
	w.Add(pid("done-2"), "account", 2, nil)
	p := &manifest.Package{
		ID:      "p",
		Updates: []manifest.KindUpdate{all("account")},
		Groups: []manifest.Group{
			{Name: "g2", Members: []string{"e", "b", "done-1"}},
			{Name: "g1", Members: []string{"d", "c"}},
			{Name: "finished", Members: []string{"done-2"}},
		},
		Rollout: manifest.Rollout{Strategy: "rolling", Canaries: 1, BatchSize: 2},
	}
	plan := build(t, p, cat, dir)
	if got, want := shape(plan), "account: *a / g1(c+d),g2(b+e)"; got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
}

// All members of a group must fall in one dependency step.
func TestBuildGroupAcrossSteps(t *testing.T) {
	p := bankPackage()
	p.Groups[0].Members = []string{"acct-1", "main-ledger"}
	_, err := manifest.Build(p, bankCatalog(t, false), bankDirectory())
	wantProblems(t, problemsOf(t, err),
		"groups[0]: members fall in different dependency steps (acct-1 in step 2, main-ledger in step 1)")
}

// Problems found against the catalogue and the directory are reported all
// at once, with their paths; registry errors stay visible to errors.Is.
func TestBuildReportsEveryProblem(t *testing.T) {
	p, err := manifest.Load(strings.NewReader(`
id: broken
updates:
  - {kind: account, from: [1, 3], to: 2, targets: {actors: [acct-1, main-ledger, ghost]}}
  - {kind: ledger, to: 9, targets: {all: true}}
  - {kind: shop, to: 1, targets: {all: true}}
groups: [{name: g, members: [acct-1, acct-6, nobody]}]
order:
  - {name: account, after: [shop, ghost2]}
`), manifest.FormatYAML)
	if err != nil {
		t.Fatal(err)
	}
	_, err = manifest.Build(p, bankCatalog(t, false), bankDirectory())
	wantProblems(t, problemsOf(t, err),
		`updates[0].targets.actors[1]: "main-ledger" is a live actor of kind "ledger", not "account"`,
		`updates[0].targets.actors[2]: no live actor is named "ghost"`,
		"updates[0]: from 3 to 2: registry: no migration path",
		"updates[1].to: registry: unknown version: ledger has no version 9 (registered: 1, 2)",
		`updates[2].kind: registry: unknown kind "shop" (the catalogue has: account, ledger)`,
		`groups[0].members[1]: "acct-6" is not a target of any update`,
		`groups[0].members[2]: "nobody" is not a target of any update`,
		`order[0].after[1]: "ghost2" is neither a kind nor an actor this package updates`)
	for _, sentinel := range []error{registry.ErrNoPath, registry.ErrUnknownVersion, registry.ErrUnknownKind} {
		if !errors.Is(err, sentinel) {
			t.Errorf("errors.Is(err, %v) = false", sentinel)
		}
	}
}

// A package that can roll back (probation, or onBudgetExceeded: rollback)
// needs the down migrations; one that cannot does not.
func TestBuildRollbackNeedsDownMigrations(t *testing.T) {
	oneWay := bankCatalog(t, true)
	p := bankPackage()
	_, err := manifest.Build(p, oneWay, bankDirectory())
	wantProblems(t, problemsOf(t, err),
		"updates[0]: back from 2 to 1 (probation and onBudgetExceeded: rollback roll back): registry: no migration path",
		"updates[1]: back from 2 to 1 (probation and onBudgetExceeded: rollback roll back): registry: no migration path")

	p.Probation = nil
	_, err = manifest.Build(p, oneWay, bankDirectory())
	wantProblems(t, problemsOf(t, err),
		"updates[0]: back from 2 to 1 (onBudgetExceeded: rollback rolls back)",
		"updates[1]: back from 2 to 1 (onBudgetExceeded: rollback rolls back)")

	p.Rollout.OnBudgetExceeded = "halt"
	build(t, p, oneWay, bankDirectory())
}

// Names that only live actors resolve are checked by Build: a cycle that
// goes through actors selected with all: true, an ambiguous name.
func TestBuildLiveNames(t *testing.T) {
	cat := plainCatalog(t, "a", "b")
	dir, w := newDirectory()
	w.Add(pid("a-1"), "a", 1, nil)
	w.Add(pid("b-1"), "b", 1, nil)
	p := &manifest.Package{ID: "p", Updates: []manifest.KindUpdate{all("a"), all("b")},
		Order: []manifest.Dependency{{Name: "b", After: []string{"a"}}, {Name: "a-1", After: []string{"b-1"}}}}
	_, err := manifest.Build(p, cat, dir)
	wantProblems(t, problemsOf(t, err), "order: cycle a-1 -> b-1 -> a-1")

	w.Add(actor.NewPID("elsewhere:8090", "a-1"), "a", 1, nil)
	p.Order = nil
	_, err = manifest.Build(p, cat, dir)
	wantProblems(t, problemsOf(t, err), `updates[0].targets: two live target actors are named "a-1"`)

	p.Updates[0] = manifest.KindUpdate{Kind: "a", To: 2, Targets: manifest.Targets{Actors: []string{"a-1"}}}
	_, err = manifest.Build(p, cat, dir)
	wantProblems(t, problemsOf(t, err), `updates[0].targets.actors[0]: 2 live a actors are named "a-1" (elsewhere:8090/a-1, nonhost/a-1)`)

	// An actor found by all: true and named like a kind.
	dir, w = newDirectory()
	w.Add(pid("a"), "b", 1, nil)
	p = &manifest.Package{ID: "p", Updates: []manifest.KindUpdate{all("a"), all("b")},
		Order: []manifest.Dependency{{Name: "b", After: []string{"a"}}}}
	_, err = manifest.Build(p, cat, dir)
	wantProblems(t, problemsOf(t, err), `order[0].after[0]: "a" is both a kind and the name of an actor`)

	if _, err := manifest.Build(p, nil, dir); err == nil {
		t.Error("Build without a catalogue: no error")
	}
}

// Build reads the catalogue and the directory and changes nothing: the
// directory lists the same actors at the same versions with the same
// labels, the package is unchanged, and building again gives the same plan.
func TestBuildChangesNothing(t *testing.T) {
	cat := bankCatalog(t, false)
	dir := bankDirectory()
	before := dir.List("")
	p := bankPackage()
	plan := build(t, p, cat, dir)
	text := plan.String()
	if _, err := plan.WriteTo(new(strings.Builder)); err != nil {
		t.Fatal(err)
	}
	if after := dir.List(""); !reflect.DeepEqual(before, after) {
		t.Errorf("the directory changed:\nbefore %+v\nafter  %+v", before, after)
	}
	if !reflect.DeepEqual(p, bankPackage()) {
		t.Errorf("the package changed: %+v", p)
	}
	if again := build(t, p, cat, dir).String(); again != text {
		t.Errorf("a second dry run differs:\n%s\n---\n%s", text, again)
	}
}

// Two updates with all: true that find actors of one name, of different
// kinds on different nodes: the second one's actor is the problem, and
// the first one's a target, whether found by all or by name.
func TestBuildDuplicateNamesAcrossUpdates(t *testing.T) {
	cat := plainCatalog(t, "a", "b")
	dir, w := newDirectory()
	w.Add(pid("a-1"), "a", 1, nil)
	w.Add(pid("a-2"), "a", 1, nil)
	w.Add(actor.NewPID("elsewhere:8090", "a-1"), "b", 1, nil)
	w.Add(pid("b-1"), "b", 1, nil)
	want := `updates[1].targets: two live target actors are named "a-1" (nonhost/a-1, a a, and elsewhere:8090/a-1, a b)`
	p := &manifest.Package{ID: "p", Updates: []manifest.KindUpdate{all("a"), all("b")}}
	_, err := manifest.Build(p, cat, dir)
	wantProblems(t, problemsOf(t, err), want)

	p.Updates[0] = manifest.KindUpdate{Kind: "a", To: 2, Targets: manifest.Targets{Actors: []string{"a-2", "a-1"}}}
	_, err = manifest.Build(p, cat, dir)
	wantProblems(t, problemsOf(t, err), want)

	// Alone on its node, b-1 is a target like any other.
	w.Remove(actor.NewPID("elsewhere:8090", "a-1"))
	p.Groups = []manifest.Group{{Name: "g", Members: []string{"b-1", "a-1"}}}
	plan := build(t, p, cat, dir)
	if got, want := shape(plan), "a,b: a-2,g(a-1+b-1)"; got != want {
		t.Errorf("plan %s, want %s", got, want)
	}
}
