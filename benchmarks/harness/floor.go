package harness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
)

// floorWait bounds how long Floor.Update waits for the actor's answer: a
// round trip takes microseconds, so ten seconds means it was lost.
const floorWait = 10 * time.Second

// Floor is the protoactor floor under any update round trip: a plain
// protoactor-go actor (its default mailbox and dispatcher, a quiet logger)
// that, on a message, swaps its state for the one the message carries and
// answers on a channel. It is the least an update of an actor on protoactor
// can cost from request to answer in hand: one message in, one wake-up of
// the actor, one hand-off back; no validation, no migration, no copy.
type Floor struct {
	system *actor.ActorSystem
	pid    *actor.PID
	swap   *floorSwap
	spare  *floorState // the state not installed, handed in by the next Update
	timer  *time.Timer
}

// floorState stands for an actor's state: two of them take turns.
type floorState struct {
	version uint32
	n       int64
}

// floorSwap asks the actor to install state and hand back the one it had.
// Update reuses one, so that the round trip allocates nothing of its own.
type floorSwap struct {
	state *floorState
	done  chan *floorState
}

type floorActor struct{ state *floorState }

func (a *floorActor) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*floorSwap); ok {
		old := a.state
		a.state = m.state
		m.done <- old
	}
}

// NewFloor spawns the floor's actor on an actor system of its own. Close it
// when done.
func NewFloor() *Floor {
	system := quietSystem()
	first := &floorState{version: 1, n: 7}
	pid := system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &floorActor{state: first} }))
	timer := time.NewTimer(floorWait)
	timer.Stop()
	return &Floor{
		system: system,
		pid:    pid,
		swap:   &floorSwap{done: make(chan *floorState, 1)},
		spare:  &floorState{version: 2, n: 7},
		timer:  timer,
	}
}

// Update sends the actor the spare state and waits for the old one, and
// returns the round trip, from the send to the answer in hand. It fails if
// no answer comes within ten seconds or ctx ends first.
func (f *Floor) Update(ctx context.Context) (time.Duration, error) {
	f.swap.state = f.spare
	start := time.Now()
	f.system.Root.Send(f.pid, f.swap)
	old, rtt, err := await(ctx, f.timer, f.swap.done, start, "protoactor floor")
	if err != nil {
		return rtt, err
	}
	if old == nil || old == f.swap.state {
		return rtt, errors.New("protoactor floor: the actor handed back the state it was sent, or none: the states did not take turns")
	}
	f.spare = old
	return rtt, nil
}

// await waits for the answer on ch, for at most floorWait and while ctx
// lasts, and returns it with the time since start. timer is the caller's,
// stopped: reused, it allocates nothing per round trip.
func await[T any](ctx context.Context, timer *time.Timer, ch <-chan T, start time.Time, who string) (T, time.Duration, error) {
	timer.Reset(floorWait)
	var zero T
	select {
	case v := <-ch:
		rtt := time.Since(start)
		timer.Stop()
		return v, rtt, nil
	case <-timer.C:
		return zero, time.Since(start), fmt.Errorf("%s: no answer within %v", who, floorWait)
	case <-ctx.Done():
		timer.Stop()
		return zero, time.Since(start), fmt.Errorf("%s: %w", who, ctx.Err())
	}
}

// Close stops the actor and shuts its system down.
func (f *Floor) Close() error {
	err := stop(f.system.Root, f.pid)
	f.system.Shutdown()
	return err
}

// Delivery is molt's own floor: a molt actor (node.Spawn of the built-in
// counter kind) that answers a plain user message on a channel. Its round
// trip is what molt's delivery costs, mailbox, host and dispatcher, with
// no update: beside Floor, it tells how much of an update's round trip is
// the update's own work.
type Delivery struct {
	node  *molt.Node
	pid   *actor.PID
	ask   *getCount // reused, so that the round trip allocates nothing of its own
	timer *time.Timer
}

// NewDelivery spawns the counter on a node of its own. Close it when done.
func NewDelivery() (*Delivery, error) {
	cat, err := counterCatalog(IsolateCodec)
	if err != nil {
		return nil, err
	}
	node := molt.NewNode(cat)
	pid, err := node.Spawn("counter", 1)
	if err != nil {
		node.Shutdown()
		return nil, fmt.Errorf("harness: delivery floor: %w", err)
	}
	timer := time.NewTimer(floorWait)
	timer.Stop()
	return &Delivery{node: node, pid: pid, ask: &getCount{reply: make(chan int64, 1)}, timer: timer}, nil
}

// RoundTrip sends the actor a message and waits for its answer, and returns
// the time from the send to the answer in hand. It fails if no answer comes
// within ten seconds or ctx ends first.
func (d *Delivery) RoundTrip(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	d.node.Root().Send(d.pid, d.ask)
	_, rtt, err := await(ctx, d.timer, d.ask.reply, start, "molt delivery floor")
	return rtt, err
}

// Close stops the actor and shuts its node down.
func (d *Delivery) Close() error {
	err := stop(d.node.Root(), d.pid)
	d.node.Shutdown()
	return err
}
