package actor_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/types/known/durationpb"
)

// An actor whose child takes its time to stop: while the child is stopping,
// protoactor keeps delivering the parent's user messages though the parent
// itself is restarting or stopping. Updates that arrive then must be refused
// at once, not start on a host that is going away.

type slowChildParent struct {
	stopping chan struct{} // the child signals that it is stopping
	release  chan struct{} // and waits for this
	j        *journal
}

func (p *slowChildParent) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *pa.Started:
		stopping, release := p.stopping, p.release
		ctx.Spawn(pa.PropsFromFunc(func(c pa.Context) {
			if _, ok := c.Message().(*pa.Stopping); ok {
				stopping <- struct{}{}
				<-release
			}
		}))
		p.j.add("started")
	case *note:
		p.j.add(m.S)
	case *boom:
		panic("boom")
	}
}

// bomber panics on boom.
type bomber struct{}

func (*bomber) Receive(ctx pa.Context) {
	if _, ok := ctx.Message().(*boom); ok {
		panic("boom")
	}
}

func slowChildNode(t *testing.T) (*molt.Node, *slowChildParent) {
	t.Helper()
	p := &slowChildParent{stopping: make(chan struct{}, 1), release: make(chan struct{}), j: newJournal()}
	cat := registry.New()
	for v := uint32(1); v <= 2; v++ {
		must(t, registry.Register(cat, "scp", v, func() *slowChildParent { return &slowChildParent{stopping: p.stopping, release: p.release, j: p.j} }))
	}
	must(t, registry.Migrate(cat, "scp", 1, 2, func(o *slowChildParent) (*slowChildParent, error) { return o, nil }))
	node := molt.NewNode(cat)
	t.Cleanup(node.Shutdown)
	return node, p
}

func waitSignal(t *testing.T, ch chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no sign within 10s that %s", what)
	}
}

// TestUpdateWhileRestartingIsRefused: an update delivered while the actor
// waits for its children to stop for a restart is refused, and the actor,
// once restarted, serves its messages: nothing stays held. A sibling's
// failure under an all-for-one supervisor restarts it without suspending
// its mailbox, so the update does reach it in that window.
func TestUpdateWhileRestartingIsRefused(t *testing.T) {
	node, p := slowChildNode(t)
	must(t, registry.Register(node.Catalog(), "bomber", 1, func() *bomber { return &bomber{} }))
	kids := make(chan [2]*pa.PID, 1)
	parent := node.Root().Spawn(pa.PropsFromFunc(func(ctx pa.Context) {
		if _, ok := ctx.Message().(*pa.Started); ok {
			a, errA := node.Spawn("bomber", 1, molt.WithParent(ctx))
			b, errB := node.Spawn("scp", 1, molt.WithParent(ctx))
			if errA != nil || errB != nil {
				t.Errorf("spawn children: %v, %v", errA, errB)
			}
			kids <- [2]*pa.PID{a, b}
		}
	}, pa.WithSupervisor(pa.NewAllForOneStrategy(10, time.Second, pa.DefaultDecider))))
	defer func() { _ = node.Root().StopFuture(parent).Wait() }()
	var k [2]*pa.PID
	select {
	case k = <-kids:
	case <-time.After(10 * time.Second):
		t.Fatal("no children within 10s")
	}
	bomber, pid := k[0], k[1]
	p.j.waitFor(t, 1)
	node.Root().Send(bomber, &boom{}) // restarts both children
	waitSignal(t, p.stopping, "the child is stopping for the restart")

	res := result(t, updateAsync(node, pid, &update.UpdateActor{ToVersion: 2}))
	if res.GetOutcome() != update.Outcome_OUTCOME_REJECTED || !strings.Contains(res.GetReason(), "restarting") {
		t.Fatalf("update during the restart: %v (%s), want it refused because the actor is restarting", res.GetOutcome(), res.GetReason())
	}
	close(p.release)
	// Delivered before or after the restart completes, as protoactor
	// decides; delivered in any case, since nothing is held.
	node.Root().Send(pid, &note{"after"})
	if l := p.j.waitFor(t, 3); !slices.Contains(l, "after") {
		t.Fatalf("the actor received %v, without the message sent after the refused update", l)
	}
}

// TestUpdateWhileStoppingIsRefused: the same for an actor that is stopping.
func TestUpdateWhileStoppingIsRefused(t *testing.T) {
	node, p := slowChildNode(t)
	pid, err := node.Spawn("scp", 1)
	must(t, err)
	p.j.waitFor(t, 1)
	stopped := node.Root().StopFuture(pid)
	waitSignal(t, p.stopping, "the child is stopping")

	res := result(t, updateAsync(node, pid, &update.UpdateActor{ToVersion: 2}))
	if res.GetOutcome() != update.Outcome_OUTCOME_REJECTED || !strings.Contains(res.GetReason(), "stopping") {
		t.Fatalf("update during the stop: %v (%s), want it refused because the actor is stopping", res.GetOutcome(), res.GetReason())
	}
	close(p.release)
	if err := stopped.Wait(); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// TestAbortOfQueuedUpdateDropsIt: an AbortUpdate naming an update still
// queued removes it; its requester is told and it never runs.
func TestAbortOfQueuedUpdateDropsIt(t *testing.T) {
	node, j := gateNode(t)
	pid, err := node.Spawn("gate", 1)
	must(t, err)
	j.waitFor(t, 1)
	in := newInbox(t, node)
	in.request(node, pid, &update.UpdateActor{ToVersion: 2, UpdateId: "first"})
	in.request(node, pid, &update.UpdateActor{ToVersion: 2, UpdateId: "queued", Stage: true})
	node.Root().Send(pid, &update.AbortUpdate{UpdateId: "queued", Reason: "the group gave up"})
	r := in.result(t)
	if r.GetUpdateId() != "queued" || r.GetOutcome() != update.Outcome_OUTCOME_REJECTED || !strings.Contains(r.GetReason(), "the group gave up, before it started") {
		t.Fatalf("got %q %v (%s), want the queued update refused before it started", r.GetUpdateId(), r.GetOutcome(), r.GetReason())
	}
	node.Root().Send(pid, &open{})
	if r := in.result(t); r.GetUpdateId() != "first" || r.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("the first update: %q %v (%s)", r.GetUpdateId(), r.GetOutcome(), r.GetReason())
	}
	node.Root().Send(pid, &note{"after"})
	if l := j.waitFor(t, 5); l[len(l)-1] != "v2 after" {
		t.Fatalf("the actor received %v; the dropped update must not have run", l)
	}
}

// TestProbationRollbackAppliesTheMessageOnce: the message the new version
// panicked on reaches the old version from the state before it, so that
// what the panic left half done is not applied twice.
func TestProbationRollbackAppliesTheMessageOnce(t *testing.T) {
	cat := registry.New()
	must(t, registry.Register(cat, "acc", 1, func() *accV1 { return &accV1{} }))
	must(t, registry.Register(cat, "acc", 2, func() *accV2 { return &accV2{} }))
	must(t, registry.Migrate(cat, "acc", 1, 2, func(o *accV1) (*accV2, error) { return &accV2{Sum: o.Sum}, nil }))
	must(t, registry.Migrate(cat, "acc", 2, 1, func(o *accV2) (*accV1, error) { return &accV1{Sum: o.Sum}, nil }))
	node := molt.NewNode(cat)
	defer node.Shutdown()
	pid, err := node.Spawn("acc", 1)
	must(t, err)
	node.Root().Send(pid, &add{N: 1})
	in := newInbox(t, node)
	in.request(node, pid, &update.UpdateActor{ToVersion: 2, UpdateId: "p", Probation: &update.Probation{Messages: 10, ReportTo: update.RefOf(in.pid)}})
	in.result(t)
	node.Root().Send(pid, &add{N: 13}) // version 2 adds, then panics
	if p := in.probation(t); p.GetOutcome() != update.ProbationOutcome_PROBATION_OUTCOME_ROLLED_BACK {
		t.Fatalf("probation: %v", p)
	}
	if sum := request(t, node, pid, &get{}); sum != int64(14) {
		t.Fatalf("sum = %v, want 14: the message is applied once, by the old version", sum)
	}
}

type accV1 struct{ Sum int64 }

func (a *accV1) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *add:
		a.Sum += m.N
	case *get:
		ctx.Respond(a.Sum)
	}
}

type accV2 struct{ Sum int64 }

func (a *accV2) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *add:
		a.Sum += m.N
		if m.N > 10 {
			panic("version 2 cannot add more than 10 at once")
		}
	case *get:
		ctx.Respond(a.Sum)
	}
}

// The "re" kind waits for a backend with protoactor's ReenterAfter: it is
// stable once no reply is pending, which happens in a continuation, a
// system message that bypasses Receive.

type work struct{}

type reenter struct {
	Done     int64
	pending  int
	backend  *pa.PID
	notified chan struct{}
}

func (r *reenter) Stable() bool { return r.pending == 0 }

func (r *reenter) UpdateComing(pa.Context, *update.Notice) { r.notified <- struct{}{} }

func (r *reenter) Receive(ctx pa.Context) {
	switch ctx.Message().(type) {
	case *work:
		r.pending++
		f := ctx.RequestFuture(r.backend, "q", 10*time.Second)
		ctx.ReenterAfter(f, func(any, error) { r.pending--; r.Done++ })
	case *get:
		ctx.Respond(r.Done)
	}
}

// TestContinuationCanMakeTheActorStable: a preparing update sees the
// behaviour become stable in a ReenterAfter continuation, and commits then,
// not at its deadline.
func TestContinuationCanMakeTheActorStable(t *testing.T) {
	release := make(chan struct{})
	notified := make(chan struct{}, 1)
	cat := registry.New()
	node := molt.NewNode(cat)
	defer node.Shutdown()
	backend := node.Root().Spawn(pa.PropsFromFunc(func(ctx pa.Context) {
		if s, ok := ctx.Message().(string); ok && s == "q" {
			sender := ctx.Sender()
			go func() { <-release; node.Root().Send(sender, "a") }()
		}
	}))
	defer func() { _ = node.Root().StopFuture(backend).Wait() }()
	for v := uint32(1); v <= 2; v++ {
		must(t, registry.Register(cat, "re", v, func() *reenter { return &reenter{backend: backend, notified: notified} }))
	}
	must(t, registry.Migrate(cat, "re", 1, 2, func(o *reenter) (*reenter, error) {
		return &reenter{Done: o.Done, backend: backend, notified: notified}, nil
	}))
	pid, err := node.Spawn("re", 1)
	must(t, err)
	node.Root().Send(pid, &work{})
	request(t, node, pid, &get{}) // the work is in: one reply pending

	f := updateAsync(node, pid, &update.UpdateActor{ToVersion: 2, Deadline: durationpb.New(10 * time.Second)})
	waitSignal(t, notified, "the update reached the actor")
	close(release)
	res := result(t, f)
	if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED || time.Duration(res.GetTotalNs()) > 5*time.Second {
		t.Fatalf("%v after %v (%s); want a commit as soon as the continuation ran", res.GetOutcome(), time.Duration(res.GetTotalNs()), res.GetReason())
	}
	if n := request(t, node, pid, &get{}); n != int64(1) {
		t.Fatalf("Done = %v after the update, want 1: the continuation ran before the state was migrated", n)
	}
}
