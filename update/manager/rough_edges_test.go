package manager_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
	"github.com/molt-go/molt/update/manifest"
)

// TestNamedManager: a manager spawned under a name is reachable by a PID
// built from the node's address and that name, as another process would
// build it; a second manager under the same name is refused with
// ErrNameTaken, and the name is free again once the first stops.
func TestNamedManager(t *testing.T) {
	node := molt.NewNode(acctCatalog(t))
	defer node.Shutdown()
	spawn(t, node, "acct", "a")
	m, err := manager.SpawnConfig(node, manager.Config{Name: "updates"})
	if err != nil {
		t.Fatalf("SpawnConfig with a name: %v", err)
	}
	if m.PID().GetId() != "updates" {
		t.Fatalf("the manager's PID is %v, want the id %q", m.PID(), "updates")
	}
	byName := pa.NewPID(node.System().Address(), "updates")
	v := ask(t, node, byName, &manager.RunPackage{Format: "yaml", Document: []byte("{id: named, updates: [{kind: acct, to: 2, targets: {actors: [a]}}]}"), DryRun: true})
	if acc, ok := v.(*manager.PackageAccepted); !ok || acc.GetActors() != 1 {
		t.Fatalf("a dry run sent to the PID built from the name: %v", v)
	}

	again, err := manager.SpawnConfig(node, manager.Config{Name: "updates"})
	if !errors.Is(err, manager.ErrNameTaken) || again != nil || !strings.Contains(err.Error(), `"updates"`) {
		t.Fatalf("a second manager under a taken name: %v, %v; want nil and ErrNameTaken naming it", again, err)
	}
	m.Stop()
	m2, err := manager.SpawnConfig(node, manager.Config{Name: "updates"})
	if err != nil {
		t.Fatalf("the name of a stopped manager is not free again: %v", err)
	}
	m2.Stop()

	for _, bad := range []string{"a/b", "$1", strings.Repeat("n", 300)} {
		if _, err := manager.SpawnConfig(node, manager.Config{Name: bad}); err == nil || !strings.Contains(err.Error(), "Config.Name") {
			t.Errorf("SpawnConfig with Name %.20q: %v, want an error naming Config.Name", bad, err)
		}
	}
	if p := manager.Spawn(node).PID(); p.GetId() == manager.DefaultName {
		t.Errorf("Spawn took the name %q; it spawns unnamed, so that several may run", p.GetId())
	}
}

// probe is an actor that hands the manager's events and answers to the
// test, in the order they came.
type probe struct {
	pid *pa.PID
	ch  chan any
}

func newProbe(t *testing.T, node *molt.Node) *probe {
	p := &probe{ch: make(chan any, 4096)}
	p.pid = node.Root().Spawn(pa.PropsFromFunc(func(ctx pa.Context) {
		switch m := ctx.Message().(type) {
		case *manager.Event, *manager.Subscribed, *manager.Unsubscribed, *manager.PackageRefused:
			p.ch <- m
		}
	}))
	t.Cleanup(func() { _ = node.Root().StopFuture(p.pid).Wait() })
	return p
}

// first returns the first thing the probe got, or fails saying what did
// not come.
func (p *probe) first(t *testing.T, what string) any {
	t.Helper()
	select {
	case m := <-p.ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("within 10s: %s did not come", what)
		return nil
	}
}

// TestSubscribeIsAcknowledged: a Subscribe asked with RequestFuture is
// answered with Subscribed once it holds, so that a package run after the
// answer is seen from its first event; one sent with a plain Send is
// acknowledged to the subscriber it names; one that names no one and has
// no sender is refused with a log line.
func TestSubscribeIsAcknowledged(t *testing.T) {
	var logs syncBuffer
	node := molt.NewNode(acctCatalog(t), molt.WithConfig(pa.WithLoggerFactory(func(*pa.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(&logs, nil))
	})))
	m := manager.Spawn(node)
	t.Cleanup(func() {
		m.Stop()
		node.Shutdown()
	})
	spawn(t, node, "acct", "a")

	// Subscribe, then run: many times over, since a race shows rarely.
	for i := range 20 {
		p := newProbe(t, node)
		v, err := node.Root().RequestFuture(m.PID(), &manager.Subscribe{Subscriber: update.RefOf(p.pid)}, 5*time.Second).Result()
		if err != nil {
			t.Fatalf("round %d: no answer to Subscribe within 5s: %v", i, err)
		}
		if s, ok := v.(*manager.Subscribed); !ok || s.GetSubscriber().GetId() != p.pid.GetId() || s.GetAlready() {
			t.Fatalf("round %d: Subscribe answered %v, want Subscribed naming %v", i, v, p.pid)
		}
		to := uint32(2 - i%2) // back and forth
		doc := fmt.Sprintf("{id: round-%d, updates: [{kind: acct, to: %d, targets: {actors: [a]}}]}", i, to)
		if _, ok := ask(t, node, m.PID(), &manager.RunPackage{Format: "yaml", Document: []byte(doc)}).(*manager.PackageAccepted); !ok {
			t.Fatalf("round %d: the package was not accepted", i)
		}
		if e, ok := p.first(t, "the first event").(*manager.Event); !ok || e.GetType() != manager.EventType_PACKAGE_STARTED || e.GetPackageId() != fmt.Sprintf("round-%d", i) {
			t.Fatalf("round %d: the subscriber's first message is %v, want PACKAGE_STARTED of round-%d", i, e, i)
		}
		for e := p.first(t, "PACKAGE_DONE"); e.(*manager.Event).GetType() != manager.EventType_PACKAGE_DONE; e = p.first(t, "PACKAGE_DONE") {
		}
		if v := ask(t, node, m.PID(), &manager.Unsubscribe{Subscriber: update.RefOf(p.pid)}); !v.(*manager.Unsubscribed).GetWas() {
			t.Fatalf("round %d: Unsubscribe answered %v, want was set", i, v)
		}
	}

	// A plain Send naming its subscriber: the subscriber gets the answer.
	p := newProbe(t, node)
	node.Root().Send(m.PID(), &manager.Subscribe{Subscriber: update.RefOf(p.pid)})
	if s, ok := p.first(t, "Subscribed after a plain Send").(*manager.Subscribed); !ok || s.GetSubscriber().GetId() != p.pid.GetId() {
		t.Fatalf("after a plain Send of Subscribe naming the subscriber, it got %v, want Subscribed", s)
	}
	node.Root().Send(m.PID(), &manager.Subscribe{Subscriber: update.RefOf(p.pid)})
	if s, ok := p.first(t, "Subscribed again").(*manager.Subscribed); !ok || !s.GetAlready() || s.GetSubscribers() != 1 {
		t.Fatalf("subscribing twice: %v, want Subscribed with already set and 1 subscriber", s)
	}

	// A plain Send that names no one: refused, and said so.
	node.Root().Send(m.PID(), &manager.Subscribe{})
	waitFor(t, 10*time.Second, "a log line refusing the Subscribe with no sender and no subscriber", func() bool {
		return strings.Contains(logs.String(), "Subscribe with no sender and no subscriber")
	})
}

// syncBuffer is a bytes.Buffer that the actor system's logger and the test
// may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunContextCancelsThePackage: when the context given to Run ends, the
// package is cancelled as Cancel would: no new batch starts, Run returns
// the context's error with where the package was, and the package ends
// CANCELLED.
func TestRunContextCancelsThePackage(t *testing.T) {
	node, m := setup(t)
	pids := spawn(t, node, "acct", "a1", "a2", "a3")
	sub := newSubscriber(t, node, m)
	es := &events{t: t, sub: sub, id: "ctx-cancel"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type result struct {
		ev  *manager.Event
		err error
	}
	ended := make(chan result, 1)
	go func() {
		ev, err := m.Run(ctx, rollingPause("ctx-cancel", time.Minute, "a1", "a2", "a3"), func(e *manager.Event) {
			if e.GetType() == manager.EventType_ACTOR_UPDATED {
				cancel() // during the pause after the first batch
			}
		})
		ended <- result{ev, err}
	}()
	var r result
	select {
	case r = <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of its context's end")
	}
	if !errors.Is(r.err, context.Canceled) || !strings.Contains(r.err.Error(), "cancelled") {
		t.Fatalf("Run returned %v; want an error wrapping context.Canceled that says the package was cancelled", r.err)
	}
	if r.ev.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_CANCELLED || r.ev.GetUpdated() != 1 {
		t.Fatalf("Run returned the event %v; want the package's state: CANCELLED, 1 updated", r.ev)
	}
	done := es.next(10*time.Second, manager.EventType_PACKAGE_DONE)
	if done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_CANCELLED {
		t.Fatalf("PACKAGE_DONE: %v, want CANCELLED", done)
	}
	for i, pid := range pids {
		want := uint32(1)
		if i == 0 {
			want = 2 // the first batch ran before the context ended
		}
		if v := versionOf(t, node, pid); v != want {
			t.Errorf("%s runs version %d, want %d: the package went on after its context ended", pid.Id, v, want)
		}
	}
	// The kind is free again.
	again, _ := runWithin(t, m, rollingPause("after", 0, "a2"), 10*time.Second, nil)
	if again.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED {
		t.Fatalf("a package after the cancelled one: %v", again)
	}
}

// TestRunContextEndsWhileUpdatesAreInFlight: Run returns at once when its
// context ends, with the package halted (CANCELLED) and the updates in
// flight said; they finish on their own, and PACKAGE_DONE follows.
func TestRunContextEndsWhileUpdatesAreInFlight(t *testing.T) {
	node, m := setup(t)
	pids := spawn(t, node, "acct", "a-slow", "b")
	ask(t, node, pids[0], &arm{Fail: "never-stable"})
	sub := newSubscriber(t, node, m)
	es := &events{t: t, sub: sub, id: "in-flight"}
	pkg := rollingPause("in-flight", 0, "a-slow", "b")
	pkg.Quiescence.PerActor = manifest.Duration{Duration: 2 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	ev, err := m.Run(ctx, pkg, nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "in flight") {
		t.Fatalf("Run returned %v; want context.DeadlineExceeded, saying what is in flight", err)
	}
	if ev.GetType() != manager.EventType_HALTED || ev.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_CANCELLED {
		t.Fatalf("Run returned the event %v; want HALTED, CANCELLED", ev)
	}
	done := es.next(10*time.Second, manager.EventType_PACKAGE_DONE)
	if done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_CANCELLED || done.GetFailed() != 1 {
		t.Fatalf("PACKAGE_DONE: %v, want CANCELLED with the slow actor failed", done)
	}
	if v := versionOf(t, node, pids[1]); v != 1 {
		t.Errorf("b runs version %d, want 1: its batch must not start once the context ended", v)
	}
}

// TestCompletedWithFailures: a package whose failures stay within its
// budget says so: COMPLETED_WITH_FAILURES, how many failed and which, so
// that a mixed fleet is not reported as plain COMPLETED.
func TestCompletedWithFailures(t *testing.T) {
	node, m := setup(t)
	var names []string
	for i := range 12 {
		names = append(names, fmt.Sprintf("c%02d", i))
	}
	pids := spawn(t, node, "acct", names...)
	var failing []string
	for i := 2; i < 12; i++ {
		ask(t, node, pids[i], &arm{Fail: "migrate"})
		failing = append(failing, names[i])
	}
	pkg := &manifest.Package{
		ID:      "within-budget",
		Updates: []manifest.KindUpdate{{Kind: "acct", To: 2, Targets: manifest.Targets{Actors: names}}},
		Rollout: manifest.Rollout{FailureBudget: 10},
	}
	sub := newSubscriber(t, node, m)
	es := &events{t: t, sub: sub, id: pkg.ID}
	done, _ := run(t, m, pkg)
	if done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED_WITH_FAILURES || done.GetFailed() != 10 || done.GetUpdated() != 2 {
		t.Fatalf("Run returned %v; want COMPLETED_WITH_FAILURES, 10 failed, 2 updated", done)
	}
	listed := done.GetFailedUnits()
	if len(listed) != 8 {
		t.Fatalf("failed_units lists %v; want the first 8 of the 10", listed)
	}
	for _, n := range listed {
		if !slices.Contains(failing, n) {
			t.Errorf("failed_units lists %s, which did not fail", n)
		}
	}
	for _, want := range []string{"10 units failed", "within the failure budget of 10", listed[0], "and 2 more", "old version"} {
		if !strings.Contains(done.GetReason(), want) {
			t.Errorf("the reason %q does not say %q", done.GetReason(), want)
		}
	}
	if e := es.next(10*time.Second, manager.EventType_PACKAGE_DONE); e.GetPackageOutcome() != done.GetPackageOutcome() || len(e.GetFailedUnits()) != 8 {
		t.Errorf("the subscriber's PACKAGE_DONE: %v", e)
	}

	// With no failure it is plain COMPLETED.
	clean, _ := run(t, m, &manifest.Package{ID: "clean", Updates: []manifest.KindUpdate{{Kind: "acct", To: 1, Targets: manifest.Targets{Actors: names[:2]}}}})
	if clean.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED || len(clean.GetFailedUnits()) != 0 {
		t.Fatalf("a package with no failure: %v", clean)
	}
}

// TestRunPackageSummary: a RunPackage with summary set answers with the
// plan's summary, a few lines for a fleet, not one per actor.
func TestRunPackageSummary(t *testing.T) {
	node, m := setup(t)
	spawnFleet(t, node, 1000)
	doc := []byte("{id: fleet-summary, updates: [{kind: acct, to: 2, targets: {all: true}}], rollout: {strategy: rolling, batchSize: 100}}")
	full := ask(t, node, m.PID(), &manager.RunPackage{Format: "yaml", Document: doc, DryRun: true}).(*manager.PackageAccepted)
	short := ask(t, node, m.PID(), &manager.RunPackage{Format: "yaml", Document: doc, DryRun: true, Summary: true}).(*manager.PackageAccepted)
	if n := strings.Count(full.GetPlan(), "\n"); n < 1000 {
		t.Fatalf("the full plan has %d lines, want one per actor", n)
	}
	if n := strings.Count(short.GetPlan(), "\n"); n > 12 || short.GetActors() != 1000 {
		t.Fatalf("the summary has %d lines, %d actors:\n%s", n, short.GetActors(), short.GetPlan())
	}
	for _, want := range []string{"acct 1→2: 1000 actors", "f000000, f000001", "... and 995 more", "10 batches"} {
		if !strings.Contains(short.GetPlan(), want) {
			t.Errorf("the summary does not say %q:\n%s", want, short.GetPlan())
		}
	}
}

// TestGroupAbortNamesTheFailedMemberOnce: the reason of a group's abort,
// and of each member aborted with it, names the member that failed once,
// by name, then says what happened to it.
func TestGroupAbortNamesTheFailedMemberOnce(t *testing.T) {
	node, m := setup(t)
	pids := spawn(t, node, "acct", "acct-1", "acct-2", "acct-3")
	ask(t, node, pids[0], &arm{Fail: "migrate"})
	_, rec := run(t, m, groupPackage("named-once", "acct-1", "acct-2", "acct-3"))
	aborted := rec.of(manager.EventType_GROUP_ABORTED)
	if len(aborted) != 1 {
		t.Fatalf("GROUP_ABORTED events: %v", aborted)
	}
	const want = "acct-1 (acct) aborted in state transfer: registry: migration failed"
	if r := aborted[0].GetReason(); !strings.HasPrefix(r, want) || strings.Count(r, "acct-1") != 1 {
		t.Errorf("GROUP_ABORTED says %q; want it to begin %q and name acct-1 once", r, want)
	}
	for _, e := range rec.of(manager.EventType_ACTOR_UPDATED) {
		if e.GetActor() == "acct-1" {
			continue
		}
		if r := e.GetReason(); !strings.HasPrefix(r, "the group aborted: "+want) || strings.Count(r, "acct-1") != 1 {
			t.Errorf("%s's reason is %q; want %q and acct-1 named once", e.GetActor(), r, "the group aborted: "+want+"...")
		}
	}
}
