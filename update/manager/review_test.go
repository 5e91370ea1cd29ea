package manager_test

// Regression tests from a review of the update manager; each failed before
// its fix. The comment above each says what went wrong.

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
	"github.com/molt-go/molt/update/manifest"
)

// The "gm" kind: like acct, plus a message that keeps the actor busy (nap),
// a version 2 that can be slow to take over (slow-switch), and a down
// migration that can fail (down-fails). Flags combine: "a+b".

type nap struct {
	D       time.Duration
	Started chan struct{} // closed when the nap begins, if not nil
}

type gmV1 struct{ faults }

func (g *gmV1) Receive(ctx pa.Context) { g.handle(ctx) }

type gmV2 struct{ faults }

func (g *gmV2) Receive(ctx pa.Context) {
	if g.handle(ctx) {
		return
	}
	switch ctx.Message().(type) {
	case *update.VersionChanged:
		if strings.Contains(g.Fail, "slow-switch") {
			time.Sleep(200 * time.Millisecond)
		}
	case *boom:
		if strings.Contains(g.Fail, "probation-panic") {
			panic("gm version 2 fails on boom")
		}
	}
}

func setupGM(t testing.TB) (*molt.Node, *manager.Manager) {
	t.Helper()
	cat := registry.New()
	must(t, registry.Register(cat, "gm", 1, func() *gmV1 { return &gmV1{} }))
	must(t, registry.Register(cat, "gm", 2, func() *gmV2 { return &gmV2{} }))
	must(t, registry.Migrate(cat, "gm", 1, 2, func(o *gmV1) (*gmV2, error) {
		if strings.Contains(o.Fail, "up-fails") {
			return nil, errors.New("up migration armed to fail")
		}
		return &gmV2{faults: o.faults}, nil
	}))
	must(t, registry.Migrate(cat, "gm", 2, 1, func(o *gmV2) (*gmV1, error) {
		if strings.Contains(o.Fail, "down-fails") {
			return nil, errors.New("down migration armed to fail")
		}
		return &gmV1{faults: o.faults}, nil
	}))
	node := molt.NewNode(cat)
	m := manager.Spawn(node)
	t.Cleanup(func() {
		m.Stop()
		node.Shutdown()
	})
	return node, m
}

// runWithin runs pkg and fails the test if it has not ended within d.
func runWithin(t *testing.T, m *manager.Manager, pkg *manifest.Package, d time.Duration, onEvent func(*manager.Event)) (*manager.Event, *recorder) {
	t.Helper()
	rec := &recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	done, err := m.Run(ctx, pkg, func(e *manager.Event) {
		rec.add(e)
		if onEvent != nil {
			onEvent(e)
		}
	})
	if err != nil {
		t.Fatalf("run %s: %v\nevents so far: %v", pkg.ID, err, rec.types())
	}
	return done, rec
}

func (r *recorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		s := e.GetType().String()
		if e.GetActor() != "" {
			s += "(" + e.GetActor() + " " + e.GetOutcome().String() + ")"
		}
		out = append(out, s)
	}
	return out
}

func rollingPause(id string, pause time.Duration, actors ...string) *manifest.Package {
	return &manifest.Package{
		ID:      id,
		Updates: []manifest.KindUpdate{{Kind: "acct", To: 2, Targets: manifest.Targets{Actors: actors}}},
		Rollout: manifest.Rollout{Strategy: manifest.StrategyRolling, BatchSize: 1, Pause: manifest.Duration{Duration: pause}},
	}
}

// A target that stops between planning and its update never answers:
// the request goes to dead letters, whose DeadLetterResponse the manager
// drops. The package never ends, not even at its own deadline.
func TestStoppedTargetEndsItsUnit(t *testing.T) {
	node, m := setup(t)
	pids := spawn(t, node, "acct", "a", "b")
	pkg := rollingPause("stopped-target", 200*time.Millisecond, "a", "b")
	pkg.Quiescence.Package = manifest.Duration{Duration: time.Second}
	pkg.Quiescence.PerActor = manifest.Duration{Duration: 200 * time.Millisecond} // b's silence is taken as its answer after 2 x 200ms + 1s
	done, _ := runWithin(t, m, pkg, 5*time.Second, func(e *manager.Event) {
		if e.GetType() == manager.EventType_ACTOR_UPDATED && e.GetActor() == "a" {
			node.Root().Stop(pids[1]) // b stops during the pause
		}
	})
	if done.GetPackageOutcome() == manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED {
		t.Errorf("b stopped and was never updated, yet the package says COMPLETED: %v", done)
	}
}

// 1b. The same in a rollback: an updated actor that stops before its
// rollback leaves the rollback, and so the package, waiting forever.
func TestStoppedActorEndsItsRollback(t *testing.T) {
	node, m := setup(t)
	pids := spawn(t, node, "acct", "a", "b")
	ask(t, node, pids[1], &arm{Fail: "migrate"})
	pkg := rollingPause("stopped-rollback", 200*time.Millisecond, "a", "b")
	pkg.Rollout.OnBudgetExceeded = manifest.OnBudgetRollback
	pkg.Quiescence.PerActor = manifest.Duration{Duration: 200 * time.Millisecond}
	runWithin(t, m, pkg, 5*time.Second, func(e *manager.Event) {
		if e.GetType() == manager.EventType_ACTOR_UPDATED && e.GetActor() == "a" {
			node.Root().Stop(pids[0]) // a, updated, stops before b fails
		}
	})
}

// Cancel during a pause: "no new batch starts", but PACKAGE_DONE waits
// for the whole pause, since the pause holds inFlight and nothing stops it.
func TestCancelCutsThePauseShort(t *testing.T) {
	node, m := setup(t)
	spawn(t, node, "acct", "a", "b")
	pkg := rollingPause("cancel-pause", 3*time.Second, "a", "b")
	updated := make(chan struct{}, 1)
	finished := make(chan *manager.Event, 1)
	go func() {
		ev, err := m.Run(context.Background(), pkg, func(e *manager.Event) {
			if e.GetType() == manager.EventType_ACTOR_UPDATED {
				select {
				case updated <- struct{}{}:
				default:
				}
			}
		})
		if err != nil {
			t.Errorf("run: %v", err)
		}
		finished <- ev
	}()
	<-updated
	start := time.Now()
	must(t, m.Cancel(context.Background(), pkg.ID))
	ev := <-finished
	if took := time.Since(start); took > time.Second {
		t.Errorf("the cancelled package ended %v after Cancel (outcome %v): it sat out the 3s pause", took.Round(time.Millisecond), ev.GetPackageOutcome())
	}
}

// quiescence.package "bounds the package", but a pause outlives it.
func TestPackageDeadlineBoundsAPause(t *testing.T) {
	node, m := setup(t)
	spawn(t, node, "acct", "a", "b")
	pkg := rollingPause("deadline-pause", 3*time.Second, "a", "b")
	pkg.Quiescence.Package = manifest.Duration{Duration: 200 * time.Millisecond}
	start := time.Now()
	done, _ := runWithin(t, m, pkg, 10*time.Second, nil)
	if took := time.Since(start); took > time.Second {
		t.Errorf("a package bounded to 200ms ended after %v (%v)", took.Round(time.Millisecond), done.GetReason())
	}
}

// A member that staged early aborts on its own deadline while the
// manager is deciding; the manager commits the others anyway. The group is
// half committed (then rolled back), and the committed member handles
// messages on the new version while its peer runs the old one. The manager
// is slowed here by its onEvent callback; any delay between the last STAGED
// and the first member's deadline does the same.
func TestGroupCommitDoesNotRaceAMembersDeadline(t *testing.T) {
	node, m := setupGM(t)
	pids := spawn(t, node, "gm", "ga", "gb")
	napping := make(chan struct{})
	node.Root().Send(pids[1], &nap{D: 100 * time.Millisecond, Started: napping}) // gb starts its update 100ms after ga
	<-napping                                                                    // (the update, on the control lane, would overtake a nap still queued)
	pkg := &manifest.Package{
		ID:         "race",
		Updates:    []manifest.KindUpdate{{Kind: "gm", To: 2, Targets: manifest.Targets{Actors: []string{"ga", "gb"}}}},
		Groups:     []manifest.Group{{Name: "g", Members: []string{"ga", "gb"}}},
		Quiescence: manifest.Quiescence{PerActor: manifest.Duration{Duration: 200 * time.Millisecond}},
	}
	_, rec := runWithin(t, m, pkg, 10*time.Second, func(e *manager.Event) {
		if e.GetType() == manager.EventType_GROUP_STAGED {
			time.Sleep(150 * time.Millisecond) // a busy manager
		}
	})
	var committed []string
	for _, e := range rec.of(manager.EventType_ACTOR_UPDATED) {
		if e.GetOutcome() == update.Outcome_OUTCOME_COMMITTED {
			committed = append(committed, e.GetActor())
		}
	}
	if len(committed) == 1 {
		t.Errorf("group g half committed: only %v committed; events: %v", committed, rec.types())
	}
}

// Dependency order: the accounts depend on the ledger, the ledger's
// update fails within the budget, and the accounts are updated anyway.
// The package then says COMPLETED, "every target runs the target version",
// while the ledger runs version 1.
func TestDependentStepWaitsForItsDependency(t *testing.T) {
	node, m := setup(t)
	ledger := spawn(t, node, "ledger", "main-ledger")[0]
	acct := spawn(t, node, "acct", "a1")[0]
	ask(t, node, ledger, &arm{Fail: "never-stable"}) // (the ledger's up migration ignores "migrate")
	pkg := &manifest.Package{
		ID:         "dep-fail",
		Quiescence: manifest.Quiescence{PerActor: manifest.Duration{Duration: 100 * time.Millisecond}},
		Updates: []manifest.KindUpdate{
			{Kind: "acct", To: 2, Targets: manifest.Targets{All: true}},
			{Kind: "ledger", To: 2, Targets: manifest.Targets{All: true}},
		},
		Order:   []manifest.Dependency{{Name: "acct", After: []string{"ledger"}}},
		Rollout: manifest.Rollout{FailureBudget: 1},
	}
	done, _ := run(t, m, pkg)
	if v := versionOf(t, node, acct); v == 2 && versionOf(t, node, ledger) == 1 {
		t.Errorf("a1 runs version 2 although the ledger it depends on stayed on version 1")
	}
	if done.GetPackageOutcome() == manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED && done.GetFailed() > 0 {
		t.Errorf("PACKAGE_DONE says COMPLETED with %d failed", done.GetFailed())
	}
}

// A canary batch: "the rest of the step starts only if it commits". A
// failing canary within the failure budget lets the rest start.
func TestFailingCanaryStopsTheStep(t *testing.T) {
	node, m := setup(t)
	pids := spawn(t, node, "acct", "c0", "c1", "c2")
	ask(t, node, pids[0], &arm{Fail: "migrate"}) // c0 sorts first: the canary
	pkg := &manifest.Package{
		ID:      "canary",
		Updates: []manifest.KindUpdate{{Kind: "acct", To: 2, Targets: manifest.Targets{All: true}}},
		Rollout: manifest.Rollout{Strategy: manifest.StrategyRolling, Canaries: 1, BatchSize: 10, FailureBudget: 5},
	}
	run(t, m, pkg)
	for _, pid := range pids[1:] {
		if v := versionOf(t, node, pid); v != 1 {
			t.Errorf("%s was updated although the canary failed", pid.Id)
		}
	}
}

// A ProbationResult names only the package id: the probation of an
// earlier run of the same package is charged to a later run, which halts.
func TestProbationOfAnEarlierRunDoesNotHaltALaterOne(t *testing.T) {
	node, m := setup(t)
	p := spawn(t, node, "acct", "p")[0]
	qs := spawn(t, node, "acct", "q1", "q2")
	ask(t, node, p, &arm{Fail: "probation-panic"})
	first := &manifest.Package{
		ID:        "pk",
		Updates:   []manifest.KindUpdate{{Kind: "acct", To: 2, Targets: manifest.Targets{Actors: []string{"p"}}}},
		Probation: &manifest.Probation{Messages: 100},
	}
	if done, _ := run(t, m, first); done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED {
		t.Fatalf("first run: %v", done)
	}
	second := rollingPause("pk", 300*time.Millisecond, "q1", "q2")
	done, rec := runWithin(t, m, second, 10*time.Second, func(e *manager.Event) {
		if e.GetType() == manager.EventType_ACTOR_UPDATED && e.GetActor() == "q1" {
			node.Root().Send(p, &boom{}) // p, of the first run, fails its probation
		}
	})
	if done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED || versionOf(t, node, qs[1]) != 2 {
		t.Errorf("second run: %v; q2 runs %d; halted by: %v", done.GetPackageOutcome(), versionOf(t, node, qs[1]), rec.of(manager.EventType_HALTED))
	}
}

// r.updated goes below zero: a group member's probation rollback
// arrives before the group's unit is done (another member is slow to take
// over), so HALTED reports 4294967295 actors updated.
func TestUpdatedCountStaysRight(t *testing.T) {
	node, m := setupGM(t)
	pids := spawn(t, node, "gm", "ga", "gb")
	ask(t, node, pids[0], &arm{Fail: "probation-panic"})
	ask(t, node, pids[1], &arm{Fail: "slow-switch"})
	pkg := &manifest.Package{
		ID:        "underflow",
		Updates:   []manifest.KindUpdate{{Kind: "gm", To: 2, Targets: manifest.Targets{Actors: []string{"ga", "gb"}}}},
		Groups:    []manifest.Group{{Name: "g", Members: []string{"ga", "gb"}}},
		Probation: &manifest.Probation{Messages: 100},
	}
	var once sync.Once
	_, rec := runWithin(t, m, pkg, 10*time.Second, func(e *manager.Event) {
		if e.GetType() == manager.EventType_GROUP_STAGED {
			once.Do(func() { node.Root().Send(pids[0], &boom{}) }) // held by staged ga, handled on version 2
		}
	})
	for _, e := range rec.of(manager.EventType_HALTED, manager.EventType_PACKAGE_DONE) {
		if e.GetUpdated() > 2 {
			t.Errorf("%v reports %d actors updated, of 2", e.GetType(), e.GetUpdated())
		}
	}
}

// A probation rollback that fails leaves the actor on the new version,
// yet the manager takes it off the updated count.
func TestFailedProbationRollbackCountsAsUpdated(t *testing.T) {
	node, m := setupGM(t)
	pids := spawn(t, node, "gm", "gx", "gy")
	ask(t, node, pids[0], &arm{Fail: "probation-panic+down-fails"})
	pkg := &manifest.Package{
		ID:        "rollback-failed",
		Updates:   []manifest.KindUpdate{{Kind: "gm", To: 2, Targets: manifest.Targets{Actors: []string{"gx", "gy"}}}},
		Rollout:   manifest.Rollout{Strategy: manifest.StrategyRolling, BatchSize: 1, Pause: manifest.Duration{Duration: 300 * time.Millisecond}, FailureBudget: 5},
		Probation: &manifest.Probation{Messages: 100},
	}
	done, rec := runWithin(t, m, pkg, 10*time.Second, func(e *manager.Event) {
		if e.GetType() == manager.EventType_ACTOR_UPDATED && e.GetActor() == "gx" {
			node.Root().Send(pids[0], &boom{})
		}
	})
	at2 := 0
	for _, pid := range pids {
		if versionOf(t, node, pid) == 2 {
			at2++
		}
	}
	if int(done.GetUpdated()) != at2 {
		t.Errorf("PACKAGE_DONE says %d updated; %d actors run version 2; probation: %v", done.GetUpdated(), at2, rec.of(manager.EventType_PROBATION_ENDED))
	}
}

// A rollback that fails is not a failure of anything: the package says
// ROLLED_BACK ("what it had updated was rolled back") while an actor stays
// on the new version.
func TestFailedRollbackIsNotRolledBack(t *testing.T) {
	node, m := setupGM(t)
	pids := spawn(t, node, "gm", "gx", "gy")
	ask(t, node, pids[0], &arm{Fail: "down-fails"})
	ask(t, node, pids[1], &arm{Fail: "up-fails"})
	pkg := &manifest.Package{
		ID:      "rollback-fails",
		Updates: []manifest.KindUpdate{{Kind: "gm", To: 2, Targets: manifest.Targets{Actors: []string{"gx", "gy"}}}},
		Rollout: manifest.Rollout{Strategy: manifest.StrategyRolling, BatchSize: 1, OnBudgetExceeded: manifest.OnBudgetRollback},
	}
	done, _ := runWithin(t, m, pkg, 10*time.Second, nil)
	if done.GetPackageOutcome() == manager.PackageOutcome_PACKAGE_OUTCOME_ROLLED_BACK && versionOf(t, node, pids[0]) == 2 {
		t.Errorf("PACKAGE_DONE says ROLLED_BACK (updated %d, rolled back %d) but gx still runs version 2", done.GetUpdated(), done.GetRolledBack())
	}
}
