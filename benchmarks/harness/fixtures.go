package harness

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The fixtures of the built-in scenarios, shared with the testing.B
// benchmarks: each sets up actors, runs one operation at a time, and
// checks on Close that no message was lost.

// --- Held messages. ---

// HeldMode is how the messages queued behind an update wait while it runs.
type HeldMode string

// The held-messages modes.
const (
	// HeldOvertake: the actor ("counter") has no hooks, so it is stable at
	// once; the update overtakes the queued messages on the control lane
	// and they stay queued, untouched, until it is over.
	HeldOvertake HeldMode = "overtake"
	// HeldPark: the actor ("job") is in the middle of a job, not stable
	// until the job's finish message arrives, and that message is queued
	// behind the others. The update holds: the mailbox parks every queued
	// message until it reaches the finish message, which the actor admits;
	// then the update commits and the parked messages are released, in
	// order. The result's held_messages is the number queued.
	HeldPark HeldMode = "park"
)

// HeldModes lists the held-messages modes in the order the scenario runs
// them.
var HeldModes = []HeldMode{HeldOvertake, HeldPark}

// Held updates an actor while a given number of user messages is queued in
// its mailbox.
type Held struct {
	mode HeldMode
	node *molt.Node
	pid  *actor.PID
	reqs [2]*update.UpdateActor
	next int
	sent int64 // ticks sent so far
}

// heldDeadline is the deadline of a held-messages update: parking 100,000
// messages under the race detector takes a while.
const heldDeadline = time.Minute

// NewHeld spawns the actor of the mode.
func NewHeld(mode HeldMode) (*Held, error) {
	var cat *registry.Catalog
	var kind string
	var err error
	switch mode {
	case HeldOvertake:
		kind = "counter"
		cat, err = counterCatalog(IsolateCodec)
	case HeldPark:
		kind = "job"
		cat, err = jobCatalog()
	default:
		return nil, fmt.Errorf("harness: unknown held mode %q: use %q or %q", mode, HeldOvertake, HeldPark)
	}
	if err != nil {
		return nil, err
	}
	d := durationpb.New(heldDeadline)
	h := &Held{mode: mode, node: molt.NewNode(cat), reqs: [2]*update.UpdateActor{{ToVersion: 2, Deadline: d}, {ToVersion: 1, Deadline: d}}}
	if h.pid, err = h.node.Spawn(kind, 1); err != nil {
		h.node.Shutdown()
		return nil, err
	}
	return h, nil
}

// Update blocks the actor inside Receive, queues n messages behind it (and,
// in park mode, the finish message), sends the update, which goes ahead of
// them on the control lane, and unblocks the actor. It returns the time
// from unblocking to the result in hand, and the result. It then waits,
// outside that time, until the actor has received all n messages, and
// fails if it counted a different number.
func (h *Held) Update(ctx context.Context, n int) (time.Duration, *update.UpdateResult, error) {
	root := h.node.Root()
	entered, open := make(chan struct{}, 1), make(chan struct{})
	opened := false
	defer func() {
		if !opened {
			close(open)
		}
	}()
	root.Send(h.pid, &gate{entered: entered, open: open})
	if err := wait(ctx, entered, "the actor to block on its gate"); err != nil {
		return 0, nil, err
	}
	msg := &tick{}
	for range n {
		root.Send(h.pid, msg)
	}
	if h.mode == HeldPark {
		root.Send(h.pid, &finish{})
	}
	// A Future, not Node.Update: the request must be in the mailbox before
	// the actor is let go, and Update only returns with the result.
	req := h.reqs[h.next]
	future := root.RequestFuture(h.pid, req, 2*heldDeadline+time.Second)
	start := time.Now()
	close(open)
	opened = true
	reply, err := future.Result()
	rtt := time.Since(start)
	if err != nil {
		return rtt, nil, fmt.Errorf("update to version %d behind %d messages: %w", req.GetToVersion(), n, err)
	}
	res, ok := reply.(*update.UpdateResult)
	if !ok {
		return rtt, nil, fmt.Errorf("got a %T back, want *update.UpdateResult", reply)
	}
	if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		return rtt, res, fmt.Errorf("update %d→%d behind %d messages did not commit: %v in %v: %s", res.GetFromVersion(), res.GetToVersion(), n, res.GetOutcome(), res.GetPhase(), res.GetReason())
	}
	h.next ^= 1
	want := 0
	if h.mode == HeldPark {
		want = n
	}
	if int(res.GetHeldMessages()) != want {
		return rtt, res, fmt.Errorf("%s: the update held %d messages, want %d", h.mode, res.GetHeldMessages(), want)
	}
	h.sent += int64(n)
	got, err := count(ctx, root, h.pid)
	if err != nil {
		return rtt, res, err
	}
	if got != h.sent {
		return rtt, res, fmt.Errorf("%s: the actor counted %d messages, %d were sent", h.mode, got, h.sent)
	}
	return rtt, res, nil
}

// Close stops the actor and shuts its node down.
func (h *Held) Close() error {
	err := stop(h.node.Root(), h.pid)
	h.node.Shutdown()
	return err
}

// --- Pause under load. ---

// gapRecorder tracks the delivery times of one actor: the longest gap
// between two consecutive deliveries since the last reset, and how many
// messages were delivered. Both versions of the target kind hold the same
// recorder (their factories and migrations capture it), so it survives
// every migration.
type gapRecorder struct {
	base      time.Time
	last      int64 // the actor's goroutine only
	maxGap    atomic.Int64
	delivered atomic.Int64
	// wakeAt is the delivery count at which record signals wake, so that a
	// waiter can block instead of spinning on the count.
	wakeAt atomic.Int64
	wake   chan struct{}
}

func newGapRecorder() *gapRecorder {
	return &gapRecorder{base: time.Now(), wake: make(chan struct{}, 1)}
}

// record is called by the actor for each message delivered.
func (r *gapRecorder) record() {
	now := int64(time.Since(r.base))
	if r.last != 0 {
		gap := now - r.last
		for {
			old := r.maxGap.Load()
			if gap <= old || r.maxGap.CompareAndSwap(old, gap) {
				break
			}
		}
	}
	r.last = now
	if r.delivered.Add(1) == r.wakeAt.Load() {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// waitDelivered blocks until at least n messages have been delivered.
func (r *gapRecorder) waitDelivered(ctx context.Context, n int64, what string) error {
	r.wakeAt.Store(n)
	if r.delivered.Load() >= n {
		return nil
	}
	timeout := time.NewTimer(waitFor)
	defer timeout.Stop()
	// A signal may be left over from an earlier wait: look at the count
	// again after each one.
	for r.delivered.Load() < n {
		select {
		case <-r.wake:
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-timeout.C:
			return fmt.Errorf("waited %v for %s: %d of %d messages delivered", waitFor, what, r.delivered.Load(), n)
		}
	}
	return nil
}

type targetV1 struct {
	N   int
	rec *gapRecorder
}

func (t *targetV1) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *tick:
		t.N++
		t.rec.record()
	case *getCount:
		m.reply <- int64(t.N)
	}
}

type targetV2 struct {
	N, Total int64
	rec      *gapRecorder
}

func (t *targetV2) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *tick:
		t.N++
		t.Total++
		t.rec.record()
	case *getCount:
		m.reply <- t.N
	}
}

// targetCatalog registers the target kind; every state it makes, by factory
// or by migration, reports to rec.
func targetCatalog(rec *gapRecorder) (*registry.Catalog, error) {
	cat := registry.New()
	return cat, errors.Join(
		registry.Register(cat, "target", 1, func() *targetV1 { return &targetV1{rec: rec} }, registry.Transient("rec")),
		registry.Register(cat, "target", 2, func() *targetV2 { return &targetV2{rec: rec} }, registry.Transient("rec")),
		registry.Migrate(cat, "target", 1, 2, func(o *targetV1) (*targetV2, error) {
			return &targetV2{N: int64(o.N), Total: int64(o.N), rec: rec}, nil
		}),
		registry.Migrate(cat, "target", 2, 1, func(o *targetV2) (*targetV1, error) {
			return &targetV1{N: int(o.N), rec: rec}, nil
		}),
	)
}

// StreamWindow is how many messages the pause stream keeps in flight:
// enough that the target's mailbox is rarely empty, few enough that the
// queue stays short.
const StreamWindow = 64

// Pause updates a small-state actor while a sender goroutine streams
// messages to it, as fast as it takes them and at most StreamWindow ahead.
type Pause struct {
	rec      *gapRecorder
	u        *Updater
	quit     atomic.Bool
	sent     atomic.Int64
	streamed chan struct{}
	closed   bool
}

// NewPause spawns the actor and starts the stream; it returns once 1,000
// messages have been delivered.
func NewPause(ctx context.Context) (*Pause, error) {
	rec := newGapRecorder()
	cat, err := targetCatalog(rec)
	if err != nil {
		return nil, err
	}
	u, err := StartTarget(ctx, Target{Name: "target", Catalog: cat, Kind: "target"})
	if err != nil {
		return nil, err
	}
	p := &Pause{rec: rec, u: u, streamed: make(chan struct{})}
	go p.stream()
	if err := rec.waitDelivered(ctx, 1000, "the stream to get going"); err != nil {
		return nil, errors.Join(err, p.Close(ctx))
	}
	return p, nil
}

func (p *Pause) stream() {
	defer close(p.streamed)
	root, pid := p.u.node.Root(), p.u.pid
	msg, n := &tick{}, int64(0)
	for !p.quit.Load() {
		if n-p.rec.delivered.Load() >= StreamWindow {
			runtime.Gosched()
			continue
		}
		root.Send(pid, msg)
		n++
	}
	p.sent.Store(n)
}

// Update updates the actor once, under the stream. It returns the longest
// gap between two deliveries in a window that opens just before the update
// is sent and closes once two messages have been delivered after its result
// came back; the longest gap in a control window as many deliveries long
// right after, with no update (the gaps the stream has anyway); and the
// update's round trip.
func (p *Pause) Update(ctx context.Context) (gap, base, rtt time.Duration, err error) {
	rec := p.rec
	first := rec.delivered.Load()
	rec.maxGap.Store(0)
	rtt, _, err = p.u.Update(ctx)
	if err != nil {
		return 0, 0, rtt, err
	}
	if err := rec.waitDelivered(ctx, rec.delivered.Load()+2, "delivery to resume after the update"); err != nil {
		return 0, 0, rtt, err
	}
	gap = time.Duration(rec.maxGap.Swap(0))

	n := rec.delivered.Load() - first
	rec.maxGap.Store(0)
	if err := rec.waitDelivered(ctx, rec.delivered.Load()+n, "the stream to go on"); err != nil {
		return gap, 0, rtt, err
	}
	return gap, time.Duration(rec.maxGap.Swap(0)), rtt, nil
}

// Close stops the stream, checks that the actor counted every message sent,
// and stops the actor and its node.
func (p *Pause) Close(ctx context.Context) error {
	if p.closed {
		return nil
	}
	p.closed = true
	p.quit.Store(true)
	<-p.streamed
	want := p.sent.Load()
	err := p.rec.waitDelivered(ctx, want, "the last streamed messages to be delivered")
	if err == nil {
		var got int64
		if got, err = count(ctx, p.u.node.Root(), p.u.pid); err == nil && got != want {
			err = fmt.Errorf("the actor counted %d messages, %d were sent", got, want)
		}
	}
	return errors.Join(err, p.u.Close())
}

// Streamed returns how many messages the stream has delivered so far.
func (p *Pause) Streamed() int64 { return p.rec.delivered.Load() }

// --- Throughput. ---

// System is what runs a workload's actors.
type System string

// The systems the throughput and idle-memory scenarios compare.
const (
	// Protoactor: plain protoactor-go actors (actor.PropsFromProducer, its
	// default mailbox and dispatcher, a quiet logger like a molt node's).
	Protoactor System = "protoactor"
	// Molt: a registered molt kind spawned with Node.Spawn: molt's mailbox,
	// host and dispatcher (the node's warm worker goroutines).
	Molt System = "molt"
	// MoltOnProtoactorDispatcher: molt actors on protoactor's default
	// dispatcher (a new goroutine per mailbox wake-up), so that the
	// comparison with Protoactor isolates molt's mailbox and host.
	MoltOnProtoactorDispatcher System = "molt-pa-dispatcher"
)

// Systems lists the systems in the order the throughput scenario runs them.
var Systems = []System{Protoactor, Molt, MoltOnProtoactorDispatcher}

// spawner starts actors of one behaviour on one system.
type spawner struct {
	spawn    func() (*actor.PID, error)
	root     *actor.RootContext
	shutdown func()
}

// quietSystem returns a plain protoactor actor system that logs nothing,
// like a molt node's.
func quietSystem() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
}

func newSpawner[B actor.Actor](sys System, kind string, factory func() B) (spawner, error) {
	switch sys {
	case Protoactor:
		system := quietSystem()
		props := actor.PropsFromProducer(func() actor.Actor { return factory() })
		return spawner{
			spawn:    func() (*actor.PID, error) { return system.Root.Spawn(props), nil },
			root:     system.Root,
			shutdown: system.Shutdown,
		}, nil
	case Molt, MoltOnProtoactorDispatcher:
		// One version and no migration: what a codec would carry does not
		// matter, so Register's warnings are not wanted.
		cat := registry.New(registry.WithLogger(slog.New(slog.DiscardHandler)))
		if err := registry.Register(cat, kind, 1, factory); err != nil {
			return spawner{}, err
		}
		var opts []molt.SpawnOption
		if sys == MoltOnProtoactorDispatcher {
			opts = append(opts, molt.WithProps(actor.WithDispatcher(actor.NewDefaultDispatcher(300))))
		}
		node := molt.NewNode(cat)
		return spawner{
			spawn:    func() (*actor.PID, error) { return node.Spawn(kind, 1, opts...) },
			root:     node.Root(),
			shutdown: node.Shutdown,
		}, nil
	}
	return spawner{}, fmt.Errorf("harness: unknown system %q: use %q, %q or %q", sys, Protoactor, Molt, MoltOnProtoactorDispatcher)
}

// PingPong is the throughput workload: pairs of actors of one behaviour
// bounce pre-allocated messages between them, each delivery decrementing
// the message's count, with no update running.
type PingPong struct {
	s        spawner
	pairs    int
	inFlight int
	pids     []*actor.PID
	done     chan struct{}
}

// NewPingPong spawns pairs pairs of pingers on sys; each run keeps inFlight
// messages bouncing within each pair.
func NewPingPong(sys System, pairs, inFlight int) (*PingPong, error) {
	if pairs < 1 || inFlight < 1 {
		return nil, fmt.Errorf("harness: a ping-pong needs at least one pair and one message in flight, got %d and %d", pairs, inFlight)
	}
	s, err := newSpawner(sys, "pinger", func() *pinger { return &pinger{} })
	if err != nil {
		return nil, err
	}
	p := &PingPong{s: s, pairs: pairs, inFlight: inFlight, done: make(chan struct{}, pairs*inFlight)}
	for range pairs {
		x, err := s.spawn()
		if err != nil {
			return nil, errors.Join(err, p.Close())
		}
		p.pids = append(p.pids, x)
		y, err := s.spawn()
		if err != nil {
			return nil, errors.Join(err, p.Close())
		}
		p.pids = append(p.pids, y)
		s.root.Send(x, &pair{peer: y, done: p.done})
		s.root.Send(y, &pair{peer: x, done: p.done})
	}
	return p, nil
}

// Timer is the part of *testing.B a PingPong run uses to exclude its set-up
// from the benchmark's time and allocations.
type Timer interface {
	ResetTimer()
	StopTimer()
}

// Run is what one ping-pong run measured.
type Run struct {
	Messages int
	Elapsed  time.Duration
	// CPU is the CPU time the whole process spent, if CPUOK.
	CPU   time.Duration
	CPUOK bool
	// Mallocs and Bytes are the process's heap allocations during the run.
	Mallocs, Bytes uint64
}

// MsgsPerSecond returns the run's messages delivered per second.
func (r Run) MsgsPerSecond() float64 { return float64(r.Messages) / r.Elapsed.Seconds() }

// Run delivers n messages in all, spread over the pairs × inFlight chains,
// and returns how long that took. If timer is not nil its ResetTimer is
// called just before the first message is sent and its StopTimer once the
// last is delivered.
func (p *PingPong) Run(ctx context.Context, n int, timer Timer) (Run, error) {
	chains := p.pairs * p.inFlight
	pings := make([]*ping, 0, chains)
	for c := range chains {
		left := n / chains
		if c < n%chains {
			left++
		}
		if left > 0 {
			pings = append(pings, &ping{left: left})
		}
	}
	timeout := time.NewTimer(waitFor)
	defer timeout.Stop()

	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0, cpuOK := ProcessCPU()
	if timer != nil {
		timer.ResetTimer()
	}
	start := time.Now()
	for c, m := range pings {
		p.s.root.Send(p.pids[2*(c%p.pairs)], m)
	}
	for range pings {
		select {
		case <-p.done:
		case <-ctx.Done():
			return Run{}, fmt.Errorf("ping-pong of %d messages: %w", n, ctx.Err())
		case <-timeout.C:
			return Run{}, fmt.Errorf("the ping-pong of %d messages over %d pairs did not finish within %v", n, p.pairs, waitFor)
		}
	}
	elapsed := time.Since(start)
	if timer != nil {
		timer.StopTimer()
	}
	cpu1, _ := ProcessCPU()
	runtime.ReadMemStats(&m1)
	return Run{
		Messages: n,
		Elapsed:  elapsed,
		CPU:      cpu1 - cpu0,
		CPUOK:    cpuOK,
		Mallocs:  m1.Mallocs - m0.Mallocs,
		Bytes:    m1.TotalAlloc - m0.TotalAlloc,
	}, nil
}

// Close stops the pingers and shuts their system down.
func (p *PingPong) Close() error {
	err := stop(p.s.root, p.pids...)
	p.s.shutdown()
	return err
}

// --- Memory per idle actor. ---

// touch asks an idle actor to count itself down once it has started and
// handled a message; the actor that brings left to zero closes done.
type touch struct {
	left *atomic.Int64
	done chan struct{}
}

// Idle is what IdleMemory measured.
type Idle struct {
	Actors int
	// HeapBytes is the growth of the live heap, after garbage collection,
	// from before the actors were spawned to after.
	HeapBytes int64
	// Goroutines is the growth of the goroutine count: an idle actor should
	// have none.
	Goroutines int
}

// BytesPerActor returns the heap growth per actor.
func (i Idle) BytesPerActor() float64 { return float64(i.HeapBytes) / float64(i.Actors) }

// IdleMemory spawns n idle actors on sys, each of which handles one
// message, waits until the goroutines that delivered those messages are
// gone (a molt node's extra workers exit after a second idle), and measures
// how much the live heap grew (runtime.MemStats HeapAlloc after a garbage
// collection, before and after) and the goroutine count. Then it stops the
// actors and shuts the system down.
func IdleMemory(ctx context.Context, sys System, n int) (Idle, error) {
	s, err := newSpawner(sys, "idle", func() *idle { return &idle{} })
	if err != nil {
		return Idle{}, err
	}
	defer s.shutdown()
	pids := make([]*actor.PID, 0, n)
	msg := &touch{left: new(atomic.Int64), done: make(chan struct{})}
	msg.left.Store(int64(n))

	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m0)
	g0 := runtime.NumGoroutine()
	for range n {
		pid, err := s.spawn()
		if err != nil {
			return Idle{}, errors.Join(err, stop(s.root, pids...))
		}
		pids = append(pids, pid)
		s.root.Send(pid, msg)
	}
	if n > 0 {
		if err := wait(ctx, msg.done, fmt.Sprintf("%d idle actors to handle their first message", n)); err != nil {
			return Idle{}, errors.Join(err, stop(s.root, pids...))
		}
	}
	// The goroutines that delivered the first messages may still be alive:
	// a molt node's pool grows with the mailboxes running at once, and its
	// extra workers exit after a second idle. Wait (at most 5s) until the
	// count is back within a pool's worth of where it started.
	settle := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > g0+8*runtime.GOMAXPROCS(0) && time.Now().Before(settle) {
		time.Sleep(10 * time.Millisecond)
	}
	g1 := runtime.NumGoroutine()
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	res := Idle{Actors: n, HeapBytes: int64(m1.HeapAlloc) - int64(m0.HeapAlloc), Goroutines: g1 - g0}
	runtime.KeepAlive(pids)
	return res, stop(s.root, pids...)
}
