package actor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
)

// Messages of the issue 8 tests. i8Old is the older interface's message,
// which an adapter turns into i8Ping.
type i8Old struct{ N int }
type i8Ping struct{ N int }
type i8Echo struct{ Tag string }
type i8Fail struct{ Fail bool }
type i8Get struct{}

// i8Kept is what the keeper versions share with the test: the contexts they
// kept, and what they saw through them later.
type i8Kept struct {
	mu     sync.Mutex
	ctxs   map[string]pa.Context
	wrong  []string // a kept context that reported another message than the current one
	echoes chan string
}

func (k *i8Kept) keep(tag string, ctx pa.Context) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.ctxs[tag]; !ok {
		k.ctxs[tag] = ctx
	}
}

func (k *i8Kept) get(tag string) pa.Context {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ctxs[tag]
}

// echoed runs on the actor's goroutine, during the Receive of an i8Echo:
// every context kept earlier must now report the echo as its message, as
// protoactor's own context would.
func (k *i8Kept) echoed(ctx pa.Context, m *i8Echo) {
	k.mu.Lock()
	for tag, kept := range k.ctxs {
		if got := kept.Message(); got != ctx.Message() {
			k.wrong = append(k.wrong, fmt.Sprintf("the context kept from %s reports %T %v while the actor handles %v", tag, got, got, m))
		}
	}
	k.mu.Unlock()
	k.echoes <- m.Tag
}

func (k *i8Kept) waitEcho(t *testing.T, tag string) {
	t.Helper()
	select {
	case got := <-k.echoes:
		if got != tag {
			t.Fatalf("the actor got echo %q, want %q", got, tag)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the echo %q sent through a kept context did not reach the actor within 10s", tag)
	}
}

type i8KeeperV1 struct {
	Fail bool
	k    *i8Kept
}

func (*i8KeeperV1) UpdateComing(pa.Context, *update.Notice) {}

func (v *i8KeeperV1) CheckInvariants() error {
	if v.Fail {
		return errors.New("told to fail")
	}
	return nil
}

func (v *i8KeeperV1) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *i8Fail:
		v.Fail = m.Fail
		ctx.Respond(true)
	case *update.Aborted:
		v.k.keep("Aborted", ctx)
	case *i8Echo:
		v.k.echoed(ctx, m)
	case *i8Get:
		ctx.Respond(1)
	}
}

type i8KeeperV2 struct{ k *i8Kept }

func (v *i8KeeperV2) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *update.VersionChanged:
		v.k.keep("VersionChanged", ctx)
	case *i8Ping:
		v.k.keep("an adapted message", ctx)
	case *i8Echo:
		v.k.echoed(ctx, m)
	case *i8Get:
		ctx.Respond(2)
	}
}

// TestKeptContextsOutliveReceive: a context kept from Aborted,
// VersionChanged or an adapted message still works after its Receive
// returned, from another goroutine and from protoactor's timer scheduler,
// as protoactor's own context does; and it reports the message the actor
// handles at the time. It used to be cleared, and Self panicked.
func TestKeptContextsOutliveReceive(t *testing.T) {
	k := &i8Kept{ctxs: map[string]pa.Context{}, echoes: make(chan string, 16)}
	cat := registry.New()
	must(t, registry.Register(cat, "keeper", 1, func() *i8KeeperV1 { return &i8KeeperV1{k: k} }, registry.Transient("k")))
	must(t, registry.Register(cat, "keeper", 2, func() *i8KeeperV2 { return &i8KeeperV2{k: k} }, registry.Transient("k")))
	must(t, registry.Migrate(cat, "keeper", 1, 2, func(*i8KeeperV1) (*i8KeeperV2, error) { return &i8KeeperV2{k: k}, nil }))
	must(t, registry.Adapt(cat, "keeper", 2, func(o *i8Old) *i8Ping { return &i8Ping{N: o.N} }))
	node := molt.NewNode(cat)
	t.Cleanup(node.Shutdown)
	pid, err := node.Spawn("keeper", 1)
	must(t, err)

	// Asked, not sent: an update overtakes the messages queued before it.
	request(t, node, pid, &i8Fail{Fail: true})
	res, err := node.Update(context.Background(), pid, &update.UpdateActor{ToVersion: 2})
	must(t, err)
	if res.GetOutcome() != update.Outcome_OUTCOME_ABORTED {
		t.Fatalf("the update meant to fail: %v (%s), want aborted", res.GetOutcome(), res.GetReason())
	}
	request(t, node, pid, &i8Fail{Fail: false})
	res, err = node.Update(context.Background(), pid, &update.UpdateActor{ToVersion: 2})
	must(t, err)
	if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("%v (%s), want committed", res.GetOutcome(), res.GetReason())
	}
	node.Root().Send(pid, &i8Old{N: 1})
	// Answered after the adapted message: every Receive that kept a
	// context has returned.
	if v := request(t, node, pid, &i8Get{}); v != 2 {
		t.Fatalf("the actor runs version %v, want 2", v)
	}

	tags := []string{"Aborted", "VersionChanged", "an adapted message"}
	for _, tag := range tags {
		ctx := k.get(tag)
		if ctx == nil {
			t.Fatalf("the behaviour kept no context from %s", tag)
		}
		failed := make(chan string, 1)
		go func() {
			defer func() {
				if r := recover(); r != nil {
					failed <- fmt.Sprintf("using the context kept from %s after its Receive panicked: %v", tag, r)
				}
			}()
			if self := ctx.Self(); !self.Equal(pid) {
				failed <- fmt.Sprintf("the context kept from %s says Self is %v, want %v", tag, self, pid)
				return
			}
			if ctx.ActorSystem() != node.System() {
				failed <- fmt.Sprintf("the context kept from %s has another actor system", tag)
				return
			}
			ctx.Send(ctx.Self(), &i8Echo{Tag: tag})
			failed <- ""
		}()
		if msg := <-failed; msg != "" {
			t.Fatal(msg)
		}
		k.waitEcho(t, tag)
	}
	for _, tag := range tags {
		ctx := k.get(tag)
		scheduler.NewTimerScheduler(ctx).SendOnce(time.Millisecond, ctx.Self(), &i8Echo{Tag: "timer " + tag})
		k.waitEcho(t, "timer "+tag)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.wrong) > 0 {
		t.Fatalf("kept contexts report stale messages:\n%s", strings.Join(k.wrong, "\n"))
	}
}

// i8Forwarder forwards an adapted message to a worker that accepts only the
// new interface, and answers another itself.
type i8Forwarder struct{ worker *pa.PID }

func (f *i8Forwarder) Receive(ctx pa.Context) {
	if m, ok := ctx.Message().(*i8Ping); ok {
		if m.N == 0 {
			ctx.Respond(fmt.Sprintf("answered %d", m.N))
			return
		}
		ctx.Forward(f.worker)
	}
}

// TestForwardOfAdaptedMessage: Forward passes on the adapted message, with
// the original sender and headers, so that the worker it goes to can answer
// the requester; it used to pass on the message before adaptation. A
// request answered by the behaviour itself reaches its future.
func TestForwardOfAdaptedMessage(t *testing.T) {
	var worker *pa.PID
	cat := registry.New()
	must(t, registry.Register(cat, "forwarder", 1, func() *i8Forwarder { return &i8Forwarder{worker: worker} }, registry.Transient("worker")))
	must(t, registry.Adapt(cat, "forwarder", 1, func(o *i8Old) *i8Ping { return &i8Ping{N: o.N} }))
	node := molt.NewNode(cat)
	t.Cleanup(node.Shutdown)
	worker = node.Root().Spawn(pa.PropsFromFunc(func(ctx pa.Context) {
		switch m := ctx.Message().(type) {
		case *pa.Started, *pa.Stopping, *pa.Stopped:
		case *i8Ping:
			ctx.Respond(fmt.Sprintf("worked %d, trace %q", m.N, ctx.MessageHeader().Get("trace")))
		default:
			ctx.Respond(fmt.Sprintf("the worker does not accept a %T", m))
		}
	}))
	pid, err := node.Spawn("forwarder", 1)
	must(t, err)

	f := pa.NewFuture(node.System(), 10*time.Second)
	node.Root().Send(pid, &pa.MessageEnvelope{Message: &i8Old{N: 7}, Sender: f.PID(), Header: map[string]string{"trace": "t-7"}})
	v, err := f.Result()
	if err != nil {
		t.Fatalf("no answer from the worker within 10s: %v", err)
	}
	if want := `worked 7, trace "t-7"`; v != want {
		t.Fatalf("the worker answered %q, want %q", v, want)
	}
	if v := request(t, node, pid, &i8Old{N: 0}); v != "answered 0" {
		t.Fatalf("the behaviour answered %v to an adapted request, want \"answered 0\"", v)
	}
}

// i8Stashed is shared by every incarnation of the stasher.
type i8Stashed struct {
	mu      sync.Mutex
	seen    []*i8Ping
	adapted int
	again   chan struct{}
}

// i8Stasher stashes the first adapted message it gets and fails, so that
// it is restarted with the message delivered again.
type i8Stasher struct{ s *i8Stashed }

func (b *i8Stasher) Receive(ctx pa.Context) {
	m, ok := ctx.Message().(*i8Ping)
	if !ok {
		return
	}
	b.s.mu.Lock()
	b.s.seen = append(b.s.seen, m)
	n := len(b.s.seen)
	b.s.mu.Unlock()
	if n == 1 {
		ctx.Stash()
		panic("stashed: restart me")
	}
	close(b.s.again)
}

// TestStashOfAdaptedMessage: the message a behaviour stashes is the one it
// saw, the adapted one, and the restarted behaviour gets that very message
// back; it used to stash the message before adaptation, adapted a second
// time on the way back.
func TestStashOfAdaptedMessage(t *testing.T) {
	s := &i8Stashed{again: make(chan struct{})}
	cat := registry.New()
	must(t, registry.Register(cat, "stasher", 1, func() *i8Stasher { return &i8Stasher{s: s} }, registry.Transient("s")))
	must(t, registry.Adapt(cat, "stasher", 1, func(o *i8Old) *i8Ping {
		s.mu.Lock()
		s.adapted++
		s.mu.Unlock()
		return &i8Ping{N: o.N}
	}))
	node := molt.NewNode(cat)
	t.Cleanup(node.Shutdown)
	pid, err := node.Spawn("stasher", 1)
	must(t, err)
	node.Root().Send(pid, &i8Old{N: 3})
	select {
	case <-s.again:
	case <-time.After(10 * time.Second):
		t.Fatal("the stashed message did not reach the restarted behaviour within 10s")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) != 2 || s.seen[0] != s.seen[1] || s.adapted != 1 {
		t.Fatalf("the behaviour saw %v, the adapter ran %d times; want the same adapted message twice, adapted once", s.seen, s.adapted)
	}
}

// The parent spawns its molt children through NodeOf and updates them.
type i8SpawnChild struct{}

type i8Parent struct{ out chan any }

func (p *i8Parent) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *i8SpawnChild:
		node := molt.NodeOf(ctx)
		if node == nil {
			p.out <- errors.New("NodeOf(ctx) is nil in a molt behaviour")
			return
		}
		child, err := node.Spawn("child", 1, molt.WithParent(ctx))
		if err != nil {
			p.out <- err
			return
		}
		p.out <- child
		ctx.Request(child, &update.UpdateActor{ToVersion: 2, UpdateId: "child-up"})
	case *update.UpdateResult:
		p.out <- m
	}
}

type i8Child struct{ V int }

func (*i8Child) Receive(pa.Context) {}

// TestNodeOfSpawnsAndUpdatesMoltChildren: a behaviour reaches its node from
// its context, spawns a molt child under itself and updates it. NodeOf
// finds the node from any context of its actor system, and is nil on a
// system no node runs on.
func TestNodeOfSpawnsAndUpdatesMoltChildren(t *testing.T) {
	out := make(chan any, 4)
	cat := registry.New()
	must(t, registry.Register(cat, "parent", 1, func() *i8Parent { return &i8Parent{out: out} }, registry.Transient("out")))
	must(t, registry.Register(cat, "child", 1, func() *i8Child { return &i8Child{V: 1} }))
	must(t, registry.Register(cat, "child", 2, func() *i8Child { return &i8Child{V: 2} }))
	must(t, registry.Migrate(cat, "child", 1, 2, func(*i8Child) (*i8Child, error) { return &i8Child{V: 2}, nil }))
	node := molt.NewNode(cat)
	t.Cleanup(node.Shutdown)
	parent, err := node.Spawn("parent", 1)
	must(t, err)
	node.Root().Send(parent, &i8SpawnChild{})
	next := func(what string) any {
		t.Helper()
		select {
		case v := <-out:
			if err, ok := v.(error); ok {
				t.Fatal(err)
			}
			return v
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s from the parent within 10s", what)
			return nil
		}
	}
	child := next("child PID").(*pa.PID)
	if !strings.HasPrefix(child.GetId(), parent.GetId()+"/") {
		t.Errorf("the child %v is not under its parent %v", child, parent)
	}
	res := next("UpdateResult of the child").(*update.UpdateResult)
	if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("the child's update: %v (%s), want committed", res.GetOutcome(), res.GetReason())
	}
	if e, ok := node.Directory().Lookup(child); !ok || e.Kind != "child" || e.Version != 2 {
		t.Fatalf("the directory has the child as %+v (found: %v), want kind child at version 2", e, ok)
	}

	if got := molt.NodeOf(node.Root()); got != node {
		t.Errorf("NodeOf(node.Root()) = %p, want the node %p", got, node)
	}
	plain := make(chan *molt.Node, 1)
	pid := node.Root().Spawn(pa.PropsFromFunc(func(ctx pa.Context) {
		if _, ok := ctx.Message().(*pa.Started); ok {
			plain <- molt.NodeOf(ctx)
		}
	}))
	t.Cleanup(func() { _ = node.Root().StopFuture(pid).Wait() })
	select {
	case got := <-plain:
		if got != node {
			t.Errorf("NodeOf in a plain actor of the node's system = %p, want the node %p", got, node)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the plain actor did not start within 10s")
	}
	other := pa.NewActorSystem()
	t.Cleanup(other.Shutdown)
	if got := molt.NodeOf(other.Root); got != nil {
		t.Errorf("NodeOf on a system without a node = %p, want nil", got)
	}
}

// The ticker versions each run a goroutine that ticks the actor through
// the context they kept; they start it on Started or VersionChanged and
// must stop it on Retired (or Stopping).
type i8Tick struct{}

type i8Tickers struct {
	live  atomic.Int32
	ticks chan uint32
	quit  chan struct{} // closed by the test's cleanup, in case a version never stopped its goroutine
}

type i8Ticker struct {
	V    uint32
	t    *i8Tickers
	stop chan struct{}
	done chan struct{}
}

func (b *i8Ticker) start(ctx pa.Context) {
	b.stop, b.done = make(chan struct{}), make(chan struct{})
	b.t.live.Add(1)
	go func() {
		defer close(b.done)
		defer b.t.live.Add(-1)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				ctx.Send(ctx.Self(), &i8Tick{})
			case <-b.stop:
				return
			case <-b.t.quit:
				return
			}
		}
	}()
}

func (b *i8Ticker) halt() {
	if b.stop != nil {
		close(b.stop)
		<-b.done
		b.stop = nil
	}
}

func (b *i8Ticker) Receive(ctx pa.Context) {
	switch ctx.Message().(type) {
	case *pa.Started, *update.VersionChanged:
		b.start(ctx)
	case *update.Retired, *pa.Stopping, *pa.Restarting:
		b.halt()
	case *i8Tick:
		select {
		case b.t.ticks <- b.V:
		default:
		}
	}
}

// TestRetiredStopsWhatTheVersionStarted: each version starts a ticking
// goroutine when it begins to run and stops it on Retired; after every
// commit exactly one goroutine ticks, the new version's. Without Retired
// the old version's goroutine runs on forever.
func TestRetiredStopsWhatTheVersionStarted(t *testing.T) {
	tk := &i8Tickers{ticks: make(chan uint32, 1), quit: make(chan struct{})}
	t.Cleanup(func() { close(tk.quit) })
	cat := registry.New()
	for v := uint32(1); v <= 2; v++ {
		must(t, registry.Register(cat, "ticker", v, func() *i8Ticker { return &i8Ticker{V: v, t: tk} }, registry.Transient("t", "stop", "done")))
	}
	mig := func(o *i8Ticker) (*i8Ticker, error) { return &i8Ticker{V: 3 - o.V, t: tk}, nil }
	must(t, registry.Migrate(cat, "ticker", 1, 2, mig))
	must(t, registry.Migrate(cat, "ticker", 2, 1, mig))
	node := molt.NewNode(cat)
	t.Cleanup(node.Shutdown)
	pid, err := node.Spawn("ticker", 1)
	must(t, err)
	waitTick := func(v uint32) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case got := <-tk.ticks:
				if got == v {
					return
				}
			case <-deadline:
				t.Fatalf("version %d never got a tick from its goroutine within 10s", v)
			}
		}
	}
	waitTick(1)
	for i, to := range []uint32{2, 1, 2} {
		res, err := node.Update(context.Background(), pid, &update.UpdateActor{ToVersion: to})
		must(t, err)
		if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
			t.Fatalf("update %d: %v (%s)", i, res.GetOutcome(), res.GetReason())
		}
		// Retired came before the result: the old goroutine is gone now.
		if n := tk.live.Load(); n != 1 {
			t.Fatalf("after update %d to version %d, %d ticking goroutines run, want 1: the old version was not retired", i, to, n)
		}
		waitTick(to)
	}
	_ = node.Root().StopFuture(pid).Wait()
	if n := tk.live.Load(); n != 0 {
		t.Fatalf("%d ticking goroutines after the actor stopped, want 0", n)
	}
}

// The retiree kind records every lifecycle message each behaviour value
// receives, by the value's id.
type i8Retirees struct {
	mu       sync.Mutex
	next     int
	events   []string
	panicOn  bool // Retired panics
	failNext bool // the next state check fails
}

func (r *i8Retirees) newID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	return r.next
}

func (r *i8Retirees) add(e string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *i8Retirees) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.events
	r.events = nil
	return e
}

type i8Retiree struct {
	V  uint32
	ID int
	r  *i8Retirees
}

func (b *i8Retiree) CheckInvariants() error {
	b.r.mu.Lock()
	defer b.r.mu.Unlock()
	if b.r.failNext {
		b.r.failNext = false
		return errors.New("told to fail")
	}
	return nil
}

func (b *i8Retiree) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *update.Retired:
		b.r.add(fmt.Sprintf("#%d v%d retired %d->%d %q rolledBack=%v", b.ID, b.V, m.From, m.To, m.UpdateID, m.RolledBack))
		b.r.mu.Lock()
		p := b.r.panicOn
		b.r.mu.Unlock()
		if p {
			panic("retiring badly")
		}
	case *pa.Started:
		b.r.add(fmt.Sprintf("#%d v%d started", b.ID, b.V))
	case *pa.Restarting:
		b.r.add(fmt.Sprintf("#%d v%d restarting", b.ID, b.V))
	case *boom:
		if b.V == 2 {
			panic("boom")
		}
	case *i8Get:
		ctx.Respond(fmt.Sprintf("#%d v%d", b.ID, b.V))
	}
}

// TestRetiredOncePerReplacement: Retired reaches the replaced value exactly
// once per commit (direct or staged), and the value rolled back from after a
// probation failure; never anything on an abort. A panic on Retired leaves
// the new version running.
func TestRetiredOncePerReplacement(t *testing.T) {
	r := &i8Retirees{}
	cat := registry.New()
	for v := uint32(1); v <= 2; v++ {
		must(t, registry.Register(cat, "retiree", v, func() *i8Retiree { return &i8Retiree{V: v, ID: r.newID(), r: r} }, registry.Transient("r")))
	}
	mig := func(o *i8Retiree) (*i8Retiree, error) { return &i8Retiree{V: 3 - o.V, ID: r.newID(), r: r}, nil }
	must(t, registry.Migrate(cat, "retiree", 1, 2, mig))
	must(t, registry.Migrate(cat, "retiree", 2, 1, mig))
	node := molt.NewNode(cat)
	t.Cleanup(node.Shutdown)
	pid, err := node.Spawn("retiree", 1)
	must(t, err)
	in := newInbox(t, node)
	running := func() string { t.Helper(); return request(t, node, pid, &i8Get{}).(string) }
	expect := func(step string, want ...string) {
		t.Helper()
		running() // everything the actor did before has been recorded
		got := r.take()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s: the behaviour values received\n  %s\nwant\n  %s", step, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
	update1 := func(req *update.UpdateActor, want update.Outcome) {
		t.Helper()
		res, err := node.Update(context.Background(), pid, req)
		must(t, err)
		if res.GetOutcome() != want {
			t.Fatalf("update %q: %v (%s), want %v", req.GetUpdateId(), res.GetOutcome(), res.GetReason(), want)
		}
	}
	expect("spawn", "#1 v1 started")

	update1(&update.UpdateActor{ToVersion: 2, UpdateId: "up"}, update.Outcome_OUTCOME_COMMITTED)
	expect("a commit", `#1 v1 retired 1->2 "up" rolledBack=false`)

	r.mu.Lock()
	r.failNext = true
	r.mu.Unlock()
	update1(&update.UpdateActor{ToVersion: 1, UpdateId: "fails"}, update.Outcome_OUTCOME_ABORTED)
	expect("an aborted update")

	in.request(node, pid, &update.UpdateActor{ToVersion: 1, UpdateId: "staged-abort", Stage: true})
	if res := in.result(t); res.GetOutcome() != update.Outcome_OUTCOME_STAGED {
		t.Fatalf("staged: %v (%s)", res.GetOutcome(), res.GetReason())
	}
	in.request(node, pid, &update.AbortUpdate{UpdateId: "staged-abort"})
	if res := in.result(t); res.GetOutcome() != update.Outcome_OUTCOME_ABORTED {
		t.Fatalf("staged then aborted: %v (%s)", res.GetOutcome(), res.GetReason())
	}
	expect("a staged update aborted")

	old := running() // a staged actor holds every message until the decision
	r.take()
	in.request(node, pid, &update.UpdateActor{ToVersion: 1, UpdateId: "staged", Stage: true})
	if res := in.result(t); res.GetOutcome() != update.Outcome_OUTCOME_STAGED {
		t.Fatalf("staged: %v (%s)", res.GetOutcome(), res.GetReason())
	}
	if got := r.take(); len(got) > 0 {
		t.Fatalf("a staged update before its decision: the behaviour values received %v, want nothing", got)
	}
	in.request(node, pid, &update.CommitUpdate{UpdateId: "staged"})
	if res := in.result(t); res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("staged then committed: %v (%s)", res.GetOutcome(), res.GetReason())
	}
	expect("a staged commit", fmt.Sprintf(`%s retired 2->1 "staged" rolledBack=false`, old))

	update1(&update.UpdateActor{ToVersion: 2, UpdateId: "canary", Probation: &update.Probation{Messages: 10, ReportTo: update.RefOf(in.pid)}}, update.Outcome_OUTCOME_COMMITTED)
	onProbation := running()
	r.take()
	node.Root().Send(pid, &boom{})
	if p := in.probation(t); p.GetOutcome() != update.ProbationOutcome_PROBATION_OUTCOME_ROLLED_BACK {
		t.Fatalf("probation: %v (%s), want rolled back", p.GetOutcome(), p.GetReason())
	}
	id := strings.TrimSuffix(onProbation, " v2")
	expect("a probation rollback", fmt.Sprintf(`%s v2 retired 2->1 "canary" rolledBack=true`, id))

	r.mu.Lock()
	r.panicOn = true
	r.mu.Unlock()
	old = running()
	update1(&update.UpdateActor{ToVersion: 2, UpdateId: "bad-retiree"}, update.Outcome_OUTCOME_COMMITTED)
	now := running()
	if !strings.HasSuffix(now, " v2") {
		t.Fatalf("after a panic on Retired the actor runs %s, want version 2", now)
	}
	expect("a panic on Retired", fmt.Sprintf(`%s retired 1->2 "bad-retiree" rolledBack=false`, old))
	if e, _ := node.Directory().Lookup(pid); e.Version != 2 {
		t.Fatalf("the directory says version %d, want 2", e.Version)
	}
}

// i8Reenterer asks a worker on an adapted message and looks at its
// context again in the continuation.
type i8Reenterer struct {
	worker *pa.PID
	out    chan any
}

func (b *i8Reenterer) Receive(ctx pa.Context) {
	if _, ok := ctx.Message().(*i8Ping); ok {
		f := ctx.RequestFuture(b.worker, &i8Get{}, 10*time.Second)
		ctx.ReenterAfter(f, func(any, error) {
			b.out <- ctx.Message()
			ctx.Respond("continued")
		})
	}
}

// TestReenterAfterOfAdaptedMessage: the continuation of ReenterAfter sees
// the adapted message it was started from, and answers its requester, as
// protoactor's continuations see theirs.
func TestReenterAfterOfAdaptedMessage(t *testing.T) {
	out := make(chan any, 1)
	var worker *pa.PID
	cat := registry.New()
	must(t, registry.Register(cat, "reenterer", 1, func() *i8Reenterer { return &i8Reenterer{worker: worker, out: out} }, registry.Transient("worker", "out")))
	must(t, registry.Adapt(cat, "reenterer", 1, func(o *i8Old) *i8Ping { return &i8Ping{N: o.N} }))
	node := molt.NewNode(cat)
	t.Cleanup(node.Shutdown)
	worker = node.Root().Spawn(pa.PropsFromFunc(func(ctx pa.Context) {
		if _, ok := ctx.Message().(*i8Get); ok {
			ctx.Respond("done")
		}
	}))
	pid, err := node.Spawn("reenterer", 1)
	must(t, err)
	if v := request(t, node, pid, &i8Old{N: 5}); v != "continued" {
		t.Fatalf("the requester got %v, want \"continued\" from the continuation", v)
	}
	select {
	case m := <-out:
		if p, ok := m.(*i8Ping); !ok || p.N != 5 {
			t.Fatalf("in the continuation the context shows %T %v, want the adapted *i8Ping{5}", m, m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the continuation did not run within 10s")
	}
}
