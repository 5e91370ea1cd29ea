package actor_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The "gate" kind is stable only once it has been told to open: it lets a
// test hold an update in preparation for as long as it needs. It records
// every message it receives, in order, in a log shared by its versions.

type open struct{}
type note struct{ S string }
type boom struct{}

type journal struct {
	mu      sync.Mutex
	entries []string
	changed chan struct{}
}

func newJournal() *journal { return &journal{changed: make(chan struct{}, 1)} }

func (j *journal) add(s string) {
	j.mu.Lock()
	j.entries = append(j.entries, s)
	j.mu.Unlock()
	select {
	case j.changed <- struct{}{}:
	default:
	}
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.entries...)
}

// waitFor waits until the journal holds n entries, or fails saying what it
// holds.
func (j *journal) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if l := j.list(); len(l) >= n {
			return l
		}
		select {
		case <-j.changed:
		case <-deadline:
			t.Fatalf("the actor received %d messages within 10s, want %d: %v", len(j.list()), n, j.list())
		}
	}
}

type gate struct {
	V       uint32
	Opened  bool
	Panicky bool
	j       *journal
}

func (g *gate) Stable() bool { return g.Opened }

func (g *gate) UpdateComing(pa.Context, *update.Notice) {
	g.j.add(fmt.Sprintf("v%d notified", g.V))
}

func (g *gate) Admit(m any) bool {
	_, ok := m.(*open)
	return ok
}

func (g *gate) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *open:
		g.Opened = true
		g.j.add(fmt.Sprintf("v%d open", g.V))
	case *note:
		g.j.add(fmt.Sprintf("v%d %s", g.V, m.S))
	case *update.VersionChanged:
		g.j.add(fmt.Sprintf("v%d changed from %d", g.V, m.From))
	case *boom:
		panic("boom")
	case *pa.Restarting:
		g.j.add(fmt.Sprintf("v%d restarting", g.V))
	case *pa.Started:
		g.j.add(fmt.Sprintf("v%d started", g.V))
	}
}

func gateNode(t *testing.T) (*molt.Node, *journal) {
	t.Helper()
	j := newJournal()
	cat := registry.New()
	for v := uint32(1); v <= 2; v++ {
		must(t, registry.Register(cat, "gate", v, func() *gate { return &gate{V: v, j: j} }))
	}
	mig := func(o *gate) (*gate, error) { return &gate{V: 3 - o.V, Opened: false, j: j}, nil }
	must(t, registry.Migrate(cat, "gate", 1, 2, mig))
	must(t, registry.Migrate(cat, "gate", 2, 1, mig))
	node := molt.NewNode(cat)
	t.Cleanup(node.Shutdown)
	return node, j
}

// updateAsync sends req with Request and returns the future of its result.
func updateAsync(node *molt.Node, pid *pa.PID, req *update.UpdateActor) *pa.Future {
	return node.Root().RequestFuture(pid, req, 10*time.Second)
}

func result(t *testing.T, f *pa.Future) *update.UpdateResult {
	t.Helper()
	v, err := f.Result()
	if err != nil {
		t.Fatalf("no update result within 10s: %v", err)
	}
	res, ok := v.(*update.UpdateResult)
	if !ok {
		t.Fatalf("the answer to UpdateActor is a %T, want *update.UpdateResult", v)
	}
	return res
}

// TestPreparationHoldsThenDeliversInOrder: while the actor drains, user
// messages are held, the admitted one goes through, and after replacement
// the new version sees VersionChanged first, then the held messages in order.
func TestPreparationHoldsThenDeliversInOrder(t *testing.T) {
	node, j := gateNode(t)
	pid, err := node.Spawn("gate", 1)
	must(t, err)
	node.Root().Send(pid, &note{"before"})
	j.waitFor(t, 2) // started, before

	f := updateAsync(node, pid, &update.UpdateActor{ToVersion: 2})
	for _, s := range []string{"a", "b", "c"} {
		node.Root().Send(pid, &note{s})
	}
	node.Root().Send(pid, &open{})
	res := result(t, f)
	if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("update: %v in %v: %s", res.GetOutcome(), res.GetPhase(), res.GetReason())
	}
	got := strings.Join(j.waitFor(t, 8), ", ")
	want := "v1 started, v1 before, v1 notified, v1 open, v2 changed from 1, v2 a, v2 b, v2 c"
	if got != want {
		t.Fatalf("the actor received\n  %s\nwant\n  %s", got, want)
	}
	if res.GetHeldMessages() != 3 {
		t.Errorf("held_messages = %d, want 3", res.GetHeldMessages())
	}
}

// TestDeadlineReleasesNeverStableActor: an actor that never reaches its
// stable state is released within its deadline plus 10 ms and keeps serving
// on the old version, with the messages held meanwhile delivered in order.
// The machine is shared: one late wake-up of the timer is the scheduler's,
// not the protocol's, so the bound must hold in one of three tries; every
// try must abort on time's side of the deadline and keep the actor serving.
func TestDeadlineReleasesNeverStableActor(t *testing.T) {
	const deadline = 100 * time.Millisecond
	var held []time.Duration
	for try := 0; try < 3; try++ {
		node, j := gateNode(t)
		pid, err := node.Spawn("gate", 1)
		must(t, err)
		j.waitFor(t, 1)

		f := updateAsync(node, pid, &update.UpdateActor{ToVersion: 2, Deadline: durationpb.New(deadline)})
		node.Root().Send(pid, &note{"held"})
		res := result(t, f)
		if res.GetOutcome() != update.Outcome_OUTCOME_ABORTED || res.GetPhase() != update.Phase_PHASE_PREPARATION {
			t.Fatalf("got %v in %v, want an abort in preparation", res.GetOutcome(), res.GetPhase())
		}
		if !strings.Contains(res.GetReason(), "deadline") {
			t.Errorf("the reason %q does not name the deadline", res.GetReason())
		}
		node.Root().Send(pid, &note{"after"})
		got := strings.Join(j.waitFor(t, 4), ", ")
		if want := "v1 started, v1 notified, v1 held, v1 after"; got != want {
			t.Fatalf("after the abort the actor received %s, want %s", got, want)
		}
		if e, _ := node.Directory().Lookup(pid); e.Version != 1 {
			t.Errorf("directory says version %d after the abort, want 1", e.Version)
		}
		d := time.Duration(res.GetTotalNs())
		if d < deadline {
			t.Fatalf("the update was aborted after %v, before its deadline %v", d, deadline)
		}
		held = append(held, d)
		if d <= deadline+10*time.Millisecond {
			return
		}
	}
	t.Fatalf("the actor was held %v in three tries; want at most its deadline %v plus 10ms", held, deadline)
}

// TestConcurrentUpdatesAreQueued: updates sent while one is in progress run
// after it, one at a time, in arrival order; beyond MaxQueuedUpdates they
// are rejected.
func TestConcurrentUpdatesAreQueued(t *testing.T) {
	node, j := gateNode(t)
	pid, err := node.Spawn("gate", 1)
	must(t, err)
	j.waitFor(t, 1)

	first := updateAsync(node, pid, &update.UpdateActor{ToVersion: 2, UpdateId: "first"})
	var queued []*pa.Future
	for i := 0; i < molt.MaxQueuedUpdates; i++ {
		to := uint32(1 + (i % 2))
		queued = append(queued, updateAsync(node, pid, &update.UpdateActor{ToVersion: to, UpdateId: fmt.Sprint(i)}))
	}
	over := result(t, updateAsync(node, pid, &update.UpdateActor{ToVersion: 2, UpdateId: "over"}))
	if over.GetOutcome() != update.Outcome_OUTCOME_REJECTED || !strings.Contains(over.GetReason(), "queued") {
		t.Fatalf("update beyond the queue: %v (%s), want rejected because the queue is full", over.GetOutcome(), over.GetReason())
	}
	node.Root().Send(pid, &note{"held"})
	node.Root().Send(pid, &open{})
	if r := result(t, first); r.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("first update: %v: %s", r.GetOutcome(), r.GetReason())
	}
	// Each queued update waits for its own gate; open them one by one and
	// check they come back in order, the held message served first.
	for i, f := range queued {
		node.Root().Send(pid, &open{})
		r := result(t, f)
		if r.GetUpdateId() != fmt.Sprint(i) || r.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
			t.Fatalf("queued update %d: got %q %v (%s)", i, r.GetUpdateId(), r.GetOutcome(), r.GetReason())
		}
	}
	l := j.list()
	if l[3] != "v2 changed from 1" || l[4] != "v2 held" {
		t.Errorf("after the first update the actor received %v; want its held message before the next update", l[3:5])
	}
}

// TestBadRequestsChangeNothing: rejected requests leave the actor on its
// version with its state.
func TestBadRequestsChangeNothing(t *testing.T) {
	node, j := gateNode(t)
	pid, err := node.Spawn("gate", 1)
	must(t, err)
	j.waitFor(t, 1)
	cases := []struct {
		name   string
		req    *update.UpdateActor
		reason string
	}{
		{"unknown version", &update.UpdateActor{ToVersion: 7}, "no version 7"},
		{"missing version", &update.UpdateActor{}, "to_version is missing"},
		{"same version", &update.UpdateActor{ToVersion: 1}, "already runs version 1"},
		{"zero deadline", &update.UpdateActor{ToVersion: 2, Deadline: durationpb.New(0)}, "out of range"},
		{"negative deadline", &update.UpdateActor{ToVersion: 2, Deadline: durationpb.New(-time.Second)}, "out of range"},
		{"absurd deadline", &update.UpdateActor{ToVersion: 2, Deadline: durationpb.New(24 * time.Hour)}, "out of range"},
		{"wrong from version", &update.UpdateActor{ToVersion: 2, FromVersion: 2}, "applies to version 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := node.Update(context.Background(), pid, c.req)
			must(t, err)
			if res.GetOutcome() != update.Outcome_OUTCOME_REJECTED || res.GetPhase() != update.Phase_PHASE_INITIALIZATION {
				t.Fatalf("got %v in %v, want rejected in initialization", res.GetOutcome(), res.GetPhase())
			}
			if !strings.Contains(res.GetReason(), c.reason) {
				t.Errorf("reason %q does not say %q", res.GetReason(), c.reason)
			}
		})
	}
	node.Root().Send(pid, &note{"still v1"})
	if l := j.waitFor(t, 2); l[1] != "v1 still v1" {
		t.Fatalf("after the rejected updates the actor received %q", l[1])
	}
}

// TestDowngradeWithoutDownMigrationIsRejected names the missing migration.
func TestDowngradeWithoutDownMigrationIsRejected(t *testing.T) {
	cat := registry.New()
	must(t, registry.Register(cat, "c", 1, func() *counterV1 { return &counterV1{} }))
	must(t, registry.Register(cat, "c", 2, func() *counterV2 { return &counterV2{} }))
	must(t, registry.Migrate(cat, "c", 1, 2, func(o *counterV1) (*counterV2, error) { return &counterV2{N: int64(o.N)}, nil }))
	node := molt.NewNode(cat)
	defer node.Shutdown()
	pid, err := node.Spawn("c", 1)
	must(t, err)
	res, err := node.Update(context.Background(), pid, &update.UpdateActor{ToVersion: 2})
	must(t, err)
	if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("up: %v %s", res.GetOutcome(), res.GetReason())
	}
	res, err = node.Update(context.Background(), pid, &update.UpdateActor{ToVersion: 1})
	must(t, err)
	if res.GetOutcome() != update.Outcome_OUTCOME_REJECTED || !strings.Contains(res.GetReason(), `registry.Migrate(cat, "c", 2, 1, fn)`) {
		t.Fatalf("downgrade without a down migration: %v: %q; want rejected naming the migration to register", res.GetOutcome(), res.GetReason())
	}
}

type counterV1 struct{ N int }

func (c *counterV1) Receive(ctx pa.Context) {
	switch ctx.Message().(type) {
	case *incV1:
		c.N++
	case *get:
		ctx.Respond(int64(c.N))
	}
}

type counterV2 struct{ N int64 }

func (c *counterV2) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *add:
		c.N += m.N
	case *get:
		ctx.Respond(c.N)
	}
}

type incV1 struct{}
type add struct{ N int64 }
type get struct{}

// TestAdapterTranslatesOldMessages: a version that dropped a message type is
// refused until an adapter is registered, and then receives the adapted
// message.
func TestAdapterTranslatesOldMessages(t *testing.T) {
	cat := registry.New()
	must(t, registry.Register(cat, "c", 1, func() *counterV1 { return &counterV1{} }, registry.Accepts(&incV1{}, &get{})))
	must(t, registry.Register(cat, "c", 2, func() *counterV2 { return &counterV2{} }, registry.Accepts(&add{}, &get{})))
	must(t, registry.Migrate(cat, "c", 1, 2, func(o *counterV1) (*counterV2, error) { return &counterV2{N: int64(o.N)}, nil }))
	node := molt.NewNode(cat)
	defer node.Shutdown()
	pid, err := node.Spawn("c", 1)
	must(t, err)
	node.Root().Send(pid, &incV1{})

	res, err := node.Update(context.Background(), pid, &update.UpdateActor{ToVersion: 2})
	must(t, err)
	if res.GetOutcome() != update.Outcome_OUTCOME_REJECTED || !strings.Contains(res.GetReason(), "does not accept *actor_test.incV1") {
		t.Fatalf("without an adapter: %v: %q; want rejected naming the dropped type", res.GetOutcome(), res.GetReason())
	}
	must(t, registry.Adapt(cat, "c", 2, func(*incV1) *add { return &add{N: 1} }))
	res, err = node.Update(context.Background(), pid, &update.UpdateActor{ToVersion: 2})
	must(t, err)
	if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("with an adapter: %v: %s", res.GetOutcome(), res.GetReason())
	}
	node.Root().Send(pid, &incV1{})
	node.Root().Send(pid, &add{N: 10})
	if n := requestTo(t, node, pid, &get{}); n != int64(12) {
		t.Fatalf("count = %v, want 12 (1 before the update, 1 adapted, 10 added)", n)
	}
}

func requestTo(t *testing.T, node *molt.Node, pid *pa.PID, msg any) any {
	t.Helper()
	return request(t, node, pid, msg)
}

// TestPanicWhileDrainingAbortsAndRestarts: a panic in the behaviour during
// preparation aborts the update, releases the held messages, and leaves the
// failure to the supervisor, which restarts the current version.
func TestPanicWhileDrainingAbortsAndRestarts(t *testing.T) {
	j := newJournal()
	cat := registry.New()
	must(t, registry.Register(cat, "p", 1, func() *panicky { return &panicky{j: j} }))
	must(t, registry.Register(cat, "p", 2, func() *panicky { return &panicky{j: j} }))
	must(t, registry.Migrate(cat, "p", 1, 2, func(o *panicky) (*panicky, error) { return &panicky{j: j}, nil }))
	node := molt.NewNode(cat)
	defer node.Shutdown()
	pid, err := node.Spawn("p", 1)
	must(t, err)
	j.waitFor(t, 1)

	f := updateAsync(node, pid, &update.UpdateActor{ToVersion: 2})
	node.Root().Send(pid, &note{"held"})
	node.Root().Send(pid, &boom{})
	res := result(t, f)
	if res.GetOutcome() != update.Outcome_OUTCOME_ABORTED || !strings.Contains(res.GetReason(), "panicked while draining") {
		t.Fatalf("got %v: %q, want an abort saying the behaviour panicked", res.GetOutcome(), res.GetReason())
	}
	node.Root().Send(pid, &note{"after"})
	got := strings.Join(j.waitFor(t, 5), ", ")
	if want := "started, restarting, started, held, after"; got != want {
		t.Fatalf("the actor received %s, want %s", got, want)
	}
	if e, _ := node.Directory().Lookup(pid); e.Version != 1 {
		t.Errorf("directory says version %d, want 1", e.Version)
	}
}

// panicky never becomes stable and admits boom, on which it panics.
type panicky struct{ j *journal }

func (p *panicky) Stable() bool { return false }
func (p *panicky) Admit(m any) bool {
	_, ok := m.(*boom)
	return ok
}
func (p *panicky) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *boom:
		panic("boom")
	case *note:
		p.j.add(m.S)
	case *pa.Started:
		p.j.add("started")
	case *pa.Restarting:
		p.j.add("restarting")
	}
}

// TestStopDuringUpdate: stopping an actor aborts its update, refuses the
// queued ones and removes it from the directory.
func TestStopDuringUpdate(t *testing.T) {
	node, j := gateNode(t)
	pid, err := node.Spawn("gate", 1)
	must(t, err)
	j.waitFor(t, 1)
	first := updateAsync(node, pid, &update.UpdateActor{ToVersion: 2})
	var queued []*pa.Future
	for i := 0; i < molt.MaxQueuedUpdates; i++ {
		queued = append(queued, updateAsync(node, pid, &update.UpdateActor{ToVersion: 2}))
	}
	// The control lane is FIFO: once the one past the queue is refused,
	// the others are all queued. Only then stop, since a stop overtakes
	// every message.
	if r := result(t, updateAsync(node, pid, &update.UpdateActor{ToVersion: 2})); r.GetOutcome() != update.Outcome_OUTCOME_REJECTED {
		t.Fatalf("the update past the queue: %v", r.GetOutcome())
	}
	if err := node.Root().StopFuture(pid).Wait(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if r := result(t, first); r.GetOutcome() != update.Outcome_OUTCOME_ABORTED || !strings.Contains(r.GetReason(), "stopping") {
		t.Errorf("the update in progress: %v: %q; want it aborted because the actor is stopping", r.GetOutcome(), r.GetReason())
	}
	for i, f := range queued {
		if r := result(t, f); r.GetOutcome() != update.Outcome_OUTCOME_REJECTED || !strings.Contains(r.GetReason(), "stopping before the update could start") {
			t.Fatalf("queued update %d: %v: %q; want it refused because the actor is stopping", i, r.GetOutcome(), r.GetReason())
		}
	}
	if _, ok := node.Directory().Lookup(pid); ok {
		t.Error("the stopped actor is still in the directory")
	}
	if _, err := node.Update(context.Background(), pid, &update.UpdateActor{ToVersion: 2}); !errors.Is(err, molt.ErrNotUpdatable) {
		t.Errorf("update of a stopped actor: %v, want ErrNotUpdatable", err)
	}
}

// TestUpdateOfPlainActorIsRefused: a protoactor actor that is not a molt
// actor is not updatable, and Update says so at once.
func TestUpdateOfPlainActorIsRefused(t *testing.T) {
	node := molt.NewNode(registry.New())
	defer node.Shutdown()
	pid := node.Root().Spawn(pa.PropsFromFunc(func(pa.Context) {}))
	defer func() { _ = node.Root().StopFuture(pid).Wait() }()
	_, err := node.Update(context.Background(), pid, &update.UpdateActor{ToVersion: 2})
	if !errors.Is(err, molt.ErrNotUpdatable) {
		t.Fatalf("got %v, want ErrNotUpdatable", err)
	}
}

// TestSpawnErrors: unknown kinds and versions and names in use are refused.
func TestSpawnErrors(t *testing.T) {
	node, _ := gateNode(t)
	if _, err := node.Spawn("nope", 1); !errors.Is(err, registry.ErrUnknownKind) {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := node.Spawn("gate", 9); !errors.Is(err, registry.ErrUnknownVersion) {
		t.Errorf("unknown version: %v", err)
	}
	_, err := node.Spawn("gate", 1, molt.WithName("g"))
	must(t, err)
	if _, err := node.Spawn("gate", 1, molt.WithName("g")); !errors.Is(err, pa.ErrNameExists) {
		t.Errorf("name in use: %v", err)
	}
}

// TestUpdateRequestedByAnotherActor: an actor can update another with
// Request and receives the result as a message.
func TestUpdateRequestedByAnotherActor(t *testing.T) {
	node, j := gateNode(t)
	target, err := node.Spawn("gate", 1)
	must(t, err)
	j.waitFor(t, 1)
	node.Root().Send(target, &open{})
	got := make(chan *update.UpdateResult, 1)
	operator := node.Root().Spawn(pa.PropsFromFunc(func(ctx pa.Context) {
		switch m := ctx.Message().(type) {
		case *pa.Started:
			ctx.Request(target, &update.UpdateActor{ToVersion: 2, UpdateId: "op"})
		case *update.UpdateResult:
			got <- m
		}
	}))
	defer func() { _ = node.Root().StopFuture(operator).Wait() }()
	select {
	case r := <-got:
		if r.GetOutcome() != update.Outcome_OUTCOME_COMMITTED || r.GetUpdateId() != "op" {
			t.Fatalf("got %v %q: %s", r.GetOutcome(), r.GetUpdateId(), r.GetReason())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the requesting actor got no UpdateResult within 10s")
	}
}

// TestChildActorsAndSupervision: a molt actor spawned as a child is
// supervised by its parent's strategy and is updatable like any other.
func TestChildActorsAndSupervision(t *testing.T) {
	node, j := gateNode(t)
	children := make(chan *pa.PID, 1)
	parent := node.Root().Spawn(pa.PropsFromFunc(func(ctx pa.Context) {
		if _, ok := ctx.Message().(*pa.Started); ok {
			pid, err := node.Spawn("gate", 1, molt.WithParent(ctx), molt.WithName("child"))
			if err != nil {
				t.Errorf("spawn child: %v", err)
			}
			children <- pid
		}
	}, pa.WithSupervisor(pa.NewOneForOneStrategy(10, time.Second, pa.DefaultDecider))))
	defer func() { _ = node.Root().StopFuture(parent).Wait() }()
	var child *pa.PID
	select {
	case child = <-children:
	case <-time.After(10 * time.Second):
		t.Fatal("the parent spawned no child within 10s")
	}
	if !strings.HasPrefix(child.GetId(), parent.GetId()+"/") {
		t.Errorf("child id %q is not under its parent %q", child.GetId(), parent.GetId())
	}
	node.Root().Send(child, &boom{})
	node.Root().Send(child, &open{})
	// started, restarting (after boom), started, open: only then update,
	// since the update would overtake them.
	if l := j.waitFor(t, 4); l[1] != "v1 restarting" {
		t.Errorf("the child was not restarted by its supervisor: %v", l)
	}
	res, err := node.Update(context.Background(), child, &update.UpdateActor{ToVersion: 2})
	must(t, err)
	if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("update of the child: %v: %s", res.GetOutcome(), res.GetReason())
	}
}

// TestNodeIsQuietByDefault: no protoactor logs unless asked for.
func TestNodeIsQuietByDefault(t *testing.T) {
	node := molt.NewNode(registry.New())
	defer node.Shutdown()
	if node.System().Logger().Enabled(context.Background(), slog.LevelError) {
		t.Error("the default node logs; it should be quiet")
	}
	loud := molt.NewNode(registry.New(), molt.WithConfig(pa.WithLoggerFactory(func(*pa.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(&strings.Builder{}, nil))
	})))
	defer loud.Shutdown()
	if !loud.System().Logger().Enabled(context.Background(), slog.LevelError) {
		t.Error("a node given a logger does not use it")
	}
}

// TestStatusKeepsTheLastUpdate: Status reports the result of the last
// update that ended on the actor, as its requester got it; neither what
// the requester does to its result nor what a caller does to a status
// changes the next status.
func TestStatusKeepsTheLastUpdate(t *testing.T) {
	node, j := gateNode(t)
	pid, err := node.Spawn("gate", 1)
	must(t, err)
	j.waitFor(t, 1)
	if s, ok := node.Status(pid); !ok || s.LastUpdate != nil {
		t.Fatalf("status before any update: live %v, last update %v; want live, none", ok, s.LastUpdate)
	}
	node.Root().Send(pid, &open{})
	j.waitFor(t, 2)
	ctx := context.Background()
	for _, want := range []update.Outcome{update.Outcome_OUTCOME_COMMITTED, update.Outcome_OUTCOME_REJECTED} {
		// The second asks for the version the actor runs: the actor
		// itself rejects it.
		res, err := node.Update(ctx, pid, &update.UpdateActor{ToVersion: 2, UpdateId: want.String()})
		must(t, err)
		if res.GetOutcome() != want {
			t.Fatalf("update %s: %v (%s), want %v", want, res.GetOutcome(), res.GetReason(), want)
		}
		s, _ := node.Status(pid)
		if !proto.Equal(s.LastUpdate, res) {
			t.Fatalf("status after update %s:\n got %v\nwant %v", want, s.LastUpdate, res)
		}
		if s.LastUpdate == res {
			t.Fatalf("status after update %s is the requester's own result, not a copy", want)
		}
		kept := proto.Clone(res)
		res.Reason, s.LastUpdate.Reason = "changed by its requester", "changed by a status reader"
		if again, _ := node.Status(pid); !proto.Equal(again.LastUpdate, kept) {
			t.Fatalf("status after its results were changed:\n got %v\nwant %v", again.LastUpdate, kept)
		}
	}
}
