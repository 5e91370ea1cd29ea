package manager_test

import (
	"context"
	"errors"
	"slices"
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

// The "acct" kind: a balance, in units at version 1 and in cents at version
// 2. A flag in the state makes the next update fail where a test wants.

type deposit struct{ N int64 }
type balance struct{}
type arm struct{ Fail string }
type boom struct{}

type faults struct {
	Fail string // "migrate", "never-stable", "probation-panic"
}

func (f *faults) Stable() bool { return f.Fail != "never-stable" }

// handle takes the test's own messages, which every test kind treats
// alike; it reports whether it did.
func (f *faults) handle(ctx pa.Context) bool {
	switch m := ctx.Message().(type) {
	case *arm:
		f.Fail = m.Fail
		if ctx.Sender() != nil {
			ctx.Respond(true)
		}
	case *nap:
		if m.Started != nil {
			close(m.Started)
		}
		time.Sleep(m.D)
	default:
		return false
	}
	return true
}

type acctV1 struct {
	faults
	Balance int64
	Seen    int64 // messages handled, across versions
}

func (a *acctV1) Receive(ctx pa.Context) {
	if a.handle(ctx) {
		return
	}
	switch m := ctx.Message().(type) {
	case *deposit:
		a.Balance += m.N
		a.Seen++
	case *balance:
		ctx.Respond(a.Balance)
	}
}

type acctV2 struct {
	faults
	Cents int64
	Seen  int64
}

func (a *acctV2) Receive(ctx pa.Context) {
	if a.handle(ctx) {
		return
	}
	switch m := ctx.Message().(type) {
	case *deposit:
		a.Cents += 100 * m.N
		a.Seen++
	case *boom:
		if a.Fail == "probation-panic" {
			panic("version 2 fails on boom")
		}
	case *balance:
		ctx.Respond(a.Cents / 100)
	}
}

func acctCatalog(t testing.TB) *registry.Catalog {
	t.Helper()
	cat := registry.New()
	for _, err := range []error{
		registry.Register(cat, "acct", 1, func() *acctV1 { return &acctV1{} }),
		registry.Register(cat, "acct", 2, func() *acctV2 { return &acctV2{} }),
		registry.Migrate(cat, "acct", 1, 2, func(o *acctV1) (*acctV2, error) {
			if o.Fail == "migrate" {
				return nil, errors.New("armed to fail")
			}
			return &acctV2{faults: o.faults, Cents: 100 * o.Balance, Seen: o.Seen}, nil
		}),
		registry.Migrate(cat, "acct", 2, 1, func(o *acctV2) (*acctV1, error) {
			return &acctV1{Balance: o.Cents / 100, Seen: o.Seen}, nil
		}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return cat
}

// setup starts a node with kinds "acct" and, as a second kind for
// dependency order, "ledger" (the same behaviours), and a manager.
func setup(t testing.TB) (*molt.Node, *manager.Manager) {
	t.Helper()
	cat := acctCatalog(t)
	must(t, registry.Register(cat, "ledger", 1, func() *acctV1 { return &acctV1{} }))
	must(t, registry.Register(cat, "ledger", 2, func() *acctV2 { return &acctV2{} }))
	must(t, registry.Migrate(cat, "ledger", 1, 2, func(o *acctV1) (*acctV2, error) { return &acctV2{Cents: 100 * o.Balance}, nil }))
	must(t, registry.Migrate(cat, "ledger", 2, 1, func(o *acctV2) (*acctV1, error) { return &acctV1{Balance: o.Cents / 100}, nil }))
	node := molt.NewNode(cat)
	m := manager.Spawn(node)
	t.Cleanup(func() {
		m.Stop()
		node.Shutdown()
	})
	return node, m
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func spawn(t testing.TB, node *molt.Node, kind string, names ...string) []*pa.PID {
	t.Helper()
	var pids []*pa.PID
	for _, n := range names {
		pid, err := node.Spawn(kind, 1, molt.WithName(n))
		must(t, err)
		pids = append(pids, pid)
	}
	return pids
}

func ask(t testing.TB, node *molt.Node, pid *pa.PID, msg any) any {
	t.Helper()
	v, err := node.Root().RequestFuture(pid, msg, 10*time.Second).Result()
	if err != nil {
		t.Fatalf("no answer from %v to %T within 10s: %v", pid, msg, err)
	}
	return v
}

// recorder keeps a package's events, in order.
type recorder struct {
	mu     sync.Mutex
	events []*manager.Event
}

func (r *recorder) add(e *manager.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) of(types ...manager.EventType) []*manager.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*manager.Event
	for _, e := range r.events {
		if slices.Contains(types, e.GetType()) {
			out = append(out, e)
		}
	}
	return out
}

func run(t testing.TB, m *manager.Manager, pkg *manifest.Package) (*manager.Event, *recorder) {
	t.Helper()
	rec := &recorder{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	done, err := m.Run(ctx, pkg, rec.add)
	if err != nil {
		t.Fatalf("run %s: %v", pkg.ID, err)
	}
	return done, rec
}

func versionOf(t testing.TB, node *molt.Node, pid *pa.PID) uint32 {
	t.Helper()
	e, ok := node.Directory().Lookup(pid)
	if !ok {
		t.Fatalf("%v is not in the directory", pid)
	}
	return e.Version
}

func groupPackage(id string, members ...string) *manifest.Package {
	return &manifest.Package{
		ID:      id,
		Updates: []manifest.KindUpdate{{Kind: "acct", From: []uint32{1}, To: 2, Targets: manifest.Targets{Actors: members}}},
		Groups:  []manifest.Group{{Name: "g", Members: members}},
		Quiescence: manifest.Quiescence{
			PerActor: manifest.Duration{Duration: 200 * time.Millisecond},
		},
	}
}

// TestGroupCommitsAllMembers: a group's members switch together, each with
// its state migrated.
func TestGroupCommitsAllMembers(t *testing.T) {
	node, m := setup(t)
	pids := spawn(t, node, "acct", "a", "b", "c")
	for i, pid := range pids {
		node.Root().Send(pid, &deposit{N: int64(i + 1)})
	}
	done, rec := run(t, m, groupPackage("commit", "a", "b", "c"))
	if done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED || done.GetUpdated() != 3 {
		t.Fatalf("package: %v", done)
	}
	if len(rec.of(manager.EventType_GROUP_STAGED)) != 1 || len(rec.of(manager.EventType_GROUP_COMMITTED)) != 1 {
		t.Errorf("events: %v", rec.events)
	}
	for i, pid := range pids {
		if v := versionOf(t, node, pid); v != 2 {
			t.Errorf("%s runs version %d, want 2", pid.Id, v)
		}
		if b := ask(t, node, pid, &balance{}); b != int64(i+1) {
			t.Errorf("%s has balance %v, want %d", pid.Id, b, i+1)
		}
	}
}

// TestGroupWithAFailingMigrationChangesNothing: one member's migration
// fails, so no member commits: all keep their old version and state.
func TestGroupWithAFailingMigrationChangesNothing(t *testing.T) {
	node, m := setup(t)
	pids := spawn(t, node, "acct", "a", "b", "c")
	for i, pid := range pids {
		node.Root().Send(pid, &deposit{N: int64(10 * (i + 1))})
	}
	ask(t, node, pids[1], &arm{Fail: "migrate"})
	done, rec := run(t, m, groupPackage("fail", "a", "b", "c"))
	if done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_HALTED || done.GetUpdated() != 0 || done.GetFailed() != 1 {
		t.Fatalf("package: %v", done)
	}
	aborted := rec.of(manager.EventType_GROUP_ABORTED)
	if len(aborted) != 1 || !strings.Contains(aborted[0].GetReason(), "b (acct)") || !strings.Contains(aborted[0].GetReason(), "armed to fail") {
		t.Fatalf("GROUP_ABORTED events: %v", aborted)
	}
	for i, pid := range pids {
		if v := versionOf(t, node, pid); v != 1 {
			t.Errorf("%s runs version %d, want 1", pid.Id, v)
		}
		if b := ask(t, node, pid, &balance{}); b != int64(10*(i+1)) {
			t.Errorf("%s has balance %v, want %d", pid.Id, b, 10*(i+1))
		}
	}
}

// TestGroupWithANeverStableMemberAbortsAtItsDeadline: the group deadline
// aborts every member and releases their messages.
func TestGroupWithANeverStableMemberAbortsAtItsDeadline(t *testing.T) {
	node, m := setup(t)
	pids := spawn(t, node, "acct", "a", "b")
	ask(t, node, pids[0], &arm{Fail: "never-stable"})
	start := time.Now()
	done, _ := run(t, m, groupPackage("stuck", "a", "b"))
	if done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_HALTED || done.GetUpdated() != 0 {
		t.Fatalf("package: %v", done)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("the group took %v to give up; its deadline is 200ms", waited)
	}
	for _, pid := range pids {
		node.Root().Send(pid, &deposit{N: 5})
		if b := ask(t, node, pid, &balance{}); b != int64(5) || versionOf(t, node, pid) != 1 {
			t.Errorf("%s: balance %v, version %d; want 5 on version 1", pid.Id, b, versionOf(t, node, pid))
		}
	}
}

// TestDependencyOrderAndReverseRollback: the ledger is updated before the
// accounts that depend on it; when an account fails and the package says
// roll back, the accounts are rolled back before the ledger.
func TestDependencyOrderAndReverseRollback(t *testing.T) {
	node, m := setup(t)
	spawn(t, node, "ledger", "main-ledger")
	accts := spawn(t, node, "acct", "a1", "a2", "a3")
	ask(t, node, accts[2], &arm{Fail: "migrate"})
	pkg := &manifest.Package{
		ID: "ordered",
		Updates: []manifest.KindUpdate{
			{Kind: "acct", To: 2, Targets: manifest.Targets{All: true}},
			{Kind: "ledger", To: 2, Targets: manifest.Targets{All: true}},
		},
		Order:   []manifest.Dependency{{Name: "acct", After: []string{"ledger"}}},
		Rollout: manifest.Rollout{MaxInFlight: 1, OnBudgetExceeded: manifest.OnBudgetRollback},
	}
	done, rec := run(t, m, pkg)
	if done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_ROLLED_BACK {
		t.Fatalf("package: %v", done)
	}
	// Within a step the updates run at once, so only the order of the
	// steps is fixed: the ledger first, and rolled back last.
	var log []string
	for _, e := range rec.of(manager.EventType_ACTOR_UPDATED, manager.EventType_ACTOR_ROLLED_BACK) {
		if e.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
			continue
		}
		who := "account"
		if e.GetActor() == "main-ledger" {
			who = "ledger"
		}
		entry := strings.ToLower(strings.TrimPrefix(e.GetType().String(), "ACTOR_")) + " " + who
		if len(log) == 0 || log[len(log)-1] != entry {
			log = append(log, entry)
		}
	}
	want := "updated ledger, updated account, rolled_back account, rolled_back ledger"
	if got := strings.Join(log, ", "); got != want {
		t.Fatalf("event log, steps in order:\n got  %s\n want %s", got, want)
	}
	if n := len(rec.of(manager.EventType_ACTOR_ROLLED_BACK)); n != 3 {
		t.Errorf("%d actors rolled back, want 3 (the ledger and two accounts)", n)
	}
	for _, pid := range append(accts, node.Directory().List("ledger")[0].PID) {
		if v := versionOf(t, node, pid); v != 1 {
			t.Errorf("%s runs version %d after the rollback, want 1", pid.Id, v)
		}
	}
}

// TestProbationRollbackLosesNoMessage: the new version panics within its
// probation; the actor goes back to version 1 and every deposit counts.
func TestProbationRollbackLosesNoMessage(t *testing.T) {
	node, m := setup(t)
	pid := spawn(t, node, "acct", "p")[0]
	ask(t, node, pid, &arm{Fail: "probation-panic"})
	node.Root().Send(pid, &deposit{N: 1})
	pkg := &manifest.Package{
		ID:        "probation",
		Updates:   []manifest.KindUpdate{{Kind: "acct", To: 2, Targets: manifest.Targets{Actors: []string{"p"}}}},
		Probation: &manifest.Probation{Messages: 100},
	}
	sub := newSubscriber(t, node, m)
	done, _ := run(t, m, pkg)
	if done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED {
		t.Fatalf("package: %v", done)
	}
	// The package is done once every actor committed; the probation goes
	// on, and its end reaches subscribers.
	node.Root().Send(pid, &deposit{N: 2})
	node.Root().Send(pid, &boom{})
	node.Root().Send(pid, &deposit{N: 4})
	e := sub.next(t, manager.EventType_PROBATION_ENDED)
	if e.GetProbation() != update.ProbationOutcome_PROBATION_OUTCOME_ROLLED_BACK || !strings.Contains(e.GetReason(), "panicked") {
		t.Fatalf("probation event: %v", e)
	}
	if b := ask(t, node, pid, &balance{}); b != int64(7) || versionOf(t, node, pid) != 1 {
		t.Fatalf("balance %v on version %d, want 7 on version 1", b, versionOf(t, node, pid))
	}
}

// subscriber is an actor subscribed to the manager's events.
type subscriber struct {
	ch chan *manager.Event
}

func newSubscriber(t testing.TB, node *molt.Node, m *manager.Manager) *subscriber {
	s := &subscriber{ch: make(chan *manager.Event, 1024)}
	pid := node.Root().Spawn(pa.PropsFromFunc(func(ctx pa.Context) {
		if e, ok := ctx.Message().(*manager.Event); ok {
			s.ch <- e
		}
	}))
	t.Cleanup(func() { _ = node.Root().StopFuture(pid).Wait() })
	// Waiting for Subscribed is what makes the subscriber see the next
	// package from its first event.
	v, err := node.Root().RequestFuture(m.PID(), &manager.Subscribe{Subscriber: update.RefOf(pid)}, 10*time.Second).Result()
	if err != nil {
		t.Fatalf("the manager did not answer Subscribe within 10s: %v", err)
	}
	if _, ok := v.(*manager.Subscribed); !ok {
		t.Fatalf("the manager answered Subscribe with %v", v)
	}
	return s
}

func (s *subscriber) next(t testing.TB, typ manager.EventType) *manager.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-s.ch:
			if e.GetType() == typ {
				return e
			}
		case <-timeout:
			t.Fatalf("no %v event within 10s", typ)
			return nil
		}
	}
}

// TestGroupProbationRollsBackTheWholeGroup: when one member of a group
// fails its probation, the others follow it back: the group is never left
// split. With a timed probation the package ends when the probations have.
func TestGroupProbationRollsBackTheWholeGroup(t *testing.T) {
	node, m := setup(t)
	pids := spawn(t, node, "acct", "a", "b")
	ask(t, node, pids[1], &arm{Fail: "probation-panic"})
	pkg := groupPackage("group-probation", "a", "b")
	pkg.Probation = &manifest.Probation{Messages: 100, Duration: manifest.Duration{Duration: 10 * time.Second}}
	sub := newSubscriber(t, node, m)
	finished := make(chan *manager.Event, 1)
	go func() {
		ev, err := m.Run(context.Background(), pkg, nil)
		if err != nil {
			t.Errorf("run: %v", err)
		}
		finished <- ev
	}()
	sub.next(t, manager.EventType_GROUP_COMMITTED)
	node.Root().Send(pids[1], &boom{})
	var done *manager.Event
	select {
	case done = <-finished:
	case <-time.After(20 * time.Second):
		t.Fatal("the package did not end within 20s")
	}
	if done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_HALTED || done.GetFailed() != 1 {
		t.Fatalf("package: %v", done)
	}
	for _, pid := range pids {
		if v := versionOf(t, node, pid); v != 1 {
			t.Errorf("%s runs version %d, want 1: the group must not stay split", pid.Id, v)
		}
	}
}
