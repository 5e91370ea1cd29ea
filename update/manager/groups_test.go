package manager_test

// Regression tests for issue 7: a group must end all on its old version or
// all on its new one, whatever happens after its commit (a probation
// failure after the package completed, halted or was cancelled; a member
// written off as failed that answers late), and the package's last event
// must say so.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
	"github.com/molt-go/molt/update/manifest"
)

// The "gk" kind: a balance (units at version 1, cents at version 2) that
// every migration carries, so that a test can check the state as well as
// the version; flags, carried too, make version 2 panic on probation
// ("probation-panic") or a migration fail ("up-fails").

type gkV1 struct {
	faults
	Balance int64
}

func (g *gkV1) Receive(ctx pa.Context) {
	if g.handle(ctx) {
		return
	}
	switch m := ctx.Message().(type) {
	case *deposit:
		g.Balance += m.N
	case *balance:
		ctx.Respond(g.Balance)
	}
}

type gkV2 struct {
	faults
	Cents int64
}

func (g *gkV2) Receive(ctx pa.Context) {
	if g.handle(ctx) {
		return
	}
	switch m := ctx.Message().(type) {
	case *deposit:
		g.Cents += 100 * m.N
	case *balance:
		ctx.Respond(g.Cents / 100)
	case *boom:
		if strings.Contains(g.Fail, "probation-panic") {
			panic("gk version 2 fails on boom")
		}
	case *update.VersionChanged:
		if strings.Contains(g.Fail, "slow-switch") && m.To == 2 {
			time.Sleep(slowFor) // busy taking over
		}
	}
}

func setupGK(t testing.TB) (*molt.Node, *manager.Manager) {
	t.Helper()
	cat := registry.New()
	must(t, registry.Register(cat, "gk", 1, func() *gkV1 { return &gkV1{} }))
	must(t, registry.Register(cat, "gk", 2, func() *gkV2 { return &gkV2{} }))
	must(t, registry.Migrate(cat, "gk", 1, 2, func(o *gkV1) (*gkV2, error) {
		if strings.Contains(o.Fail, "up-fails") {
			return nil, errors.New("up migration armed to fail")
		}
		return &gkV2{faults: o.faults, Cents: 100 * o.Balance}, nil
	}))
	must(t, registry.Migrate(cat, "gk", 2, 1, func(o *gkV2) (*gkV1, error) {
		return &gkV1{faults: o.faults, Balance: o.Cents / 100}, nil
	}))
	node := molt.NewNode(cat)
	m := manager.Spawn(node)
	t.Cleanup(func() {
		m.Stop()
		node.Shutdown()
	})
	return node, m
}

// member is a gk actor with the balance it was given.
type member struct {
	name    string
	pid     *pa.PID
	balance int64
}

func spawnGK(t *testing.T, node *molt.Node, names ...string) map[string]*member {
	t.Helper()
	out := map[string]*member{}
	for i, pid := range spawn(t, node, "gk", names...) {
		mb := &member{name: names[i], pid: pid, balance: int64(10 * (i + 1))}
		node.Root().Send(pid, &deposit{N: mb.balance})
		out[names[i]] = mb
	}
	return out
}

// groupVersion checks that every member of a group runs the same version,
// in the directory, with its balance intact, and returns that version.
func groupVersion(t *testing.T, node *molt.Node, members ...*member) uint32 {
	t.Helper()
	for _, mb := range members {
		// Asked first: a member still busy with what it was told answers
		// once it is done, and only then is its version the last word.
		if b := ask(t, node, mb.pid, &balance{}); b != mb.balance {
			t.Errorf("%s has balance %v, want %d: its state was not carried", mb.name, b, mb.balance)
		}
	}
	var versions []string
	first := versionOf(t, node, members[0].pid)
	split := false
	for _, mb := range members {
		v := versionOf(t, node, mb.pid)
		versions = append(versions, fmt.Sprintf("%s on %d", mb.name, v))
		split = split || v != first
	}
	if split {
		t.Errorf("the group is split: %s", strings.Join(versions, ", "))
	}
	return first
}

// waitFor polls cond until it holds or d passes; the test fails saying
// what did not happen.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("within %v: %s did not happen", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// events follows one package's events from a subscriber.
type events struct {
	t   *testing.T
	sub *subscriber
	id  string
	all []*manager.Event
}

// until returns the next event of the package that satisfies ok, failing
// the test, saying what it waited for, if none comes within d.
func (es *events) until(d time.Duration, what string, ok func(*manager.Event) bool) *manager.Event {
	es.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case e := <-es.sub.ch:
			if e.GetPackageId() != es.id {
				continue
			}
			es.all = append(es.all, e)
			if ok(e) {
				return e
			}
		case <-timeout:
			es.t.Fatalf("package %s: no %s within %v; events: %v", es.id, what, d, eventTypes(es.all))
			return nil
		}
	}
}

func (es *events) next(d time.Duration, typ manager.EventType) *manager.Event {
	es.t.Helper()
	return es.until(d, typ.String(), func(e *manager.Event) bool { return e.GetType() == typ })
}

// final returns the package's final word: PACKAGE_DONE, or the last
// PACKAGE_REVISED once no member it wrote off is left unanswered.
func (es *events) final(d time.Duration) *manager.Event {
	es.t.Helper()
	last := es.next(d, manager.EventType_PACKAGE_DONE)
	for last.GetUnanswered() > 0 {
		last = es.next(d, manager.EventType_PACKAGE_REVISED)
	}
	return last
}

func eventTypes(es []*manager.Event) []string {
	var out []string
	for _, e := range es {
		s := e.GetType().String()
		if e.GetActor() != "" {
			s += "(" + e.GetActor() + " " + e.GetOutcome().String() + e.GetProbation().String() + ")"
		}
		out = append(out, s)
	}
	return out
}

// TestWrittenOffMemberIsBroughtInLine: a member busy in a 1.5 s handler
// does not answer within the answer limit (2 x 20 ms + 1 s) and is written
// off as failed, so its unit fails; it answers once free. Busy before its
// update, it must not then stage or commit; busy taking over (in its
// VersionChanged, after the commit decision), it commits late, after its
// group was rolled back. Before the fix that late COMMITTED was ignored:
// the slow member on version 2, its peer on version 1, and the package
// saying 0 updated. Every case must end with the group on one version and
// the final event counting what runs the new one.
func TestWrittenOffMemberIsBroughtInLine(t *testing.T) {
	for _, tc := range []struct {
		name   string
		group  bool
		busy   string // "before" its update, or "switch" taking over
		policy string
	}{
		{"group busy before, rollback", true, "before", manifest.OnBudgetRollback},
		{"group busy before, halt", true, "before", "halt"},
		{"group slow switch, rollback", true, "switch", manifest.OnBudgetRollback},
		{"group slow switch, halt", true, "switch", "halt"},
		{"lone slow switch, rollback", false, "switch", manifest.OnBudgetRollback},
		{"lone slow switch, halt", false, "switch", "halt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node, m := setupGK(t)
			ms := spawnGK(t, node, "slow", "peer")
			sub := newSubscriber(t, node, m)
			pkg := &manifest.Package{
				ID:      "written-off",
				Updates: []manifest.KindUpdate{{Kind: "gk", To: 2, Targets: manifest.Targets{Actors: []string{"slow", "peer"}}}},
				// Long enough that a staged peer gets its decision on a
				// loaded machine; the sweep then writes slow off after
				// 2 × 100 ms + 1 s, well before slowFor ends.
				Quiescence: manifest.Quiescence{PerActor: manifest.Duration{Duration: 100 * time.Millisecond}},
				Rollout:    manifest.Rollout{OnBudgetExceeded: tc.policy},
			}
			if tc.group {
				pkg.Groups = []manifest.Group{{Name: "g", Members: []string{"slow", "peer"}}}
			}
			if tc.busy == "switch" {
				ask(t, node, ms["slow"].pid, &arm{Fail: "slow-switch"})
			} else {
				napping := make(chan struct{})
				node.Root().Send(ms["slow"].pid, &nap{D: slowFor, Started: napping})
				<-napping
			}
			es := &events{t: t, sub: sub, id: pkg.ID}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if _, err := m.Run(ctx, pkg, nil); err != nil {
				t.Fatal(err)
			}
			final := es.final(20 * time.Second)
			if !strings.Contains(final.GetReason(), "slow") {
				t.Errorf("the final event does not say what became of slow: %v", final)
			}
			if tc.group {
				groupVersion(t, node, ms["slow"], ms["peer"])
			} else {
				ask(t, node, ms["slow"].pid, &balance{}) // done taking over
			}
			at2 := uint32(0)
			for _, mb := range ms {
				if versionOf(t, node, mb.pid) == 2 {
					at2++
				}
			}
			if final.GetUpdated() != at2 {
				t.Errorf("the final event says %d updated, but %d actors run version 2: %v\nevents: %v", final.GetUpdated(), at2, final, eventTypes(es.all))
			}
			if tc.policy == manifest.OnBudgetRollback && at2 != 0 {
				t.Errorf("the package rolled back, yet %d actors run version 2", at2)
			}
		})
	}
}

// TestGroupProbationFailureTakesTheGroupBack: a group member fails its
// probation after its group committed: once the package completed, once it
// halted on another unit's failure, once it was cancelled; with a window in
// messages, in time, or both. Each time the other member must follow it
// back, and the package's final event must count the group as rolled back.
// Before the fix the member went back alone whenever the package had
// halted, or was over (a window in messages does not hold the package).
func TestGroupProbationFailureTakesTheGroupBack(t *testing.T) {
	windows := []struct {
		name string
		p    manifest.Probation
	}{
		{"messages", manifest.Probation{Messages: 100}},
		{"time", manifest.Probation{Duration: manifest.Duration{Duration: 3 * time.Second}}},
		{"both", manifest.Probation{Messages: 100, Duration: manifest.Duration{Duration: 3 * time.Second}}},
	}
	for _, after := range []string{"completion", "halt", "cancel"} {
		for _, w := range windows {
			t.Run(after+"/"+w.name, func(t *testing.T) {
				node, m := setupGK(t)
				targets := []string{"ga", "gb"}
				pkg := &manifest.Package{
					ID:         "probation-" + after + "-" + w.name,
					Groups:     []manifest.Group{{Name: "g", Members: []string{"ga", "gb"}}},
					Quiescence: manifest.Quiescence{PerActor: manifest.Duration{Duration: time.Second}},
					Probation:  &w.p,
				}
				switch after {
				case "halt":
					// zx fails at once: over the budget of 0, the package
					// halts while the group commits.
					targets = append(targets, "zx")
				case "cancel":
					// zz waits, in a batch of its own, behind a pause that
					// the cancel cuts short.
					targets = append(targets, "zz")
					pkg.Rollout = manifest.Rollout{Strategy: manifest.StrategyRolling, BatchSize: 1, Pause: manifest.Duration{Duration: 10 * time.Second}}
				}
				pkg.Updates = []manifest.KindUpdate{{Kind: "gk", To: 2, Targets: manifest.Targets{Actors: targets}}}
				ms := spawnGK(t, node, targets...)
				ask(t, node, ms["ga"].pid, &arm{Fail: "probation-panic"})
				if zx := ms["zx"]; zx != nil {
					ask(t, node, zx.pid, &arm{Fail: "up-fails"})
				}
				sub := newSubscriber(t, node, m)
				es := &events{t: t, sub: sub, id: pkg.ID}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go func() { _, _ = m.Run(ctx, pkg, nil) }()

				es.next(10*time.Second, manager.EventType_GROUP_COMMITTED)
				switch after {
				case "halt":
					if !hasEvent(es.all, manager.EventType_HALTED) {
						es.next(10*time.Second, manager.EventType_HALTED)
					}
				case "cancel":
					must(t, m.Cancel(context.Background(), pkg.ID))
					es.next(10*time.Second, manager.EventType_PACKAGE_DONE)
				}
				node.Root().Send(ms["ga"].pid, &boom{})
				es.until(10*time.Second, "PROBATION_ENDED for ga, rolled back", func(e *manager.Event) bool {
					return e.GetType() == manager.EventType_PROBATION_ENDED && e.GetActor() == "ga" &&
						e.GetProbation() == update.ProbationOutcome_PROBATION_OUTCOME_ROLLED_BACK
				})
				var final *manager.Event
				if hasEvent(es.all, manager.EventType_PACKAGE_DONE) {
					final = es.next(10*time.Second, manager.EventType_PACKAGE_REVISED)
				} else {
					final = es.next(10*time.Second, manager.EventType_PACKAGE_DONE)
				}
				for final.GetUnanswered() > 0 {
					final = es.next(10*time.Second, manager.EventType_PACKAGE_REVISED)
				}
				if v := groupVersion(t, node, ms["ga"], ms["gb"]); v != 1 {
					t.Errorf("group g runs version %d, want 1: a member failed its probation", v)
				}
				at2 := uint32(0)
				for _, mb := range ms {
					if versionOf(t, node, mb.pid) == 2 {
						at2++
					}
				}
				if final.GetUpdated() != at2 || final.GetRolledBack() < 1 || !strings.Contains(final.GetReason(), "group g") {
					t.Errorf("final event %v: want %d updated, gb rolled back, and a reason naming group g\nevents: %v", final, at2, eventTypes(es.all))
				}
			})
		}
	}
}

func hasEvent(es []*manager.Event, typ manager.EventType) bool {
	for _, e := range es {
		if e.GetType() == typ {
			return true
		}
	}
	return false
}

// slowFor is how long a slow member is busy: well past the sweep's answer
// limit of the written-off tests (2 × 100 ms + 1 s).
const slowFor = 2500 * time.Millisecond

// TestGroupProbationFailureBeforeTheGroupIsDone: ga commits and fails its
// probation while gb is still taking over. Before the fix, ga's rollback
// found no committed peer to take back, then gb committed and the group
// counted as committed: ga on version 1, gb on version 2.
func TestGroupProbationFailureBeforeTheGroupIsDone(t *testing.T) {
	node, m := setupGK(t)
	ms := spawnGK(t, node, "ga", "gb")
	ask(t, node, ms["ga"].pid, &arm{Fail: "probation-panic"})
	ask(t, node, ms["gb"].pid, &arm{Fail: "slow-switch"})
	pkg := &manifest.Package{
		ID:         "probation-early",
		Updates:    []manifest.KindUpdate{{Kind: "gk", To: 2, Targets: manifest.Targets{Actors: []string{"ga", "gb"}}}},
		Groups:     []manifest.Group{{Name: "g", Members: []string{"ga", "gb"}}},
		Quiescence: manifest.Quiescence{PerActor: manifest.Duration{Duration: time.Second}},
		Probation:  &manifest.Probation{Messages: 100},
	}
	done, rec := runWithin(t, m, pkg, 20*time.Second, func(e *manager.Event) {
		if e.GetType() == manager.EventType_GROUP_STAGED {
			node.Root().Send(ms["ga"].pid, &boom{}) // held, then handled by version 2 on probation
		}
	})
	if v := groupVersion(t, node, ms["ga"], ms["gb"]); v != 1 || done.GetUpdated() != 0 {
		t.Errorf("group g on version %d, PACKAGE_DONE %v; want both back on 1 and 0 updated\nevents: %v", v, done, rec.types())
	}
}
