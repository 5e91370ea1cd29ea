package shapes

import (
	"errors"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
)

// Messages of the heartbeat kind.
type (
	Beat     struct{}
	GetBeats struct{}
	// Beats answers GetBeats.
	Beats struct{ N int64 }
)

// StartTicker sends msg to the actor of ctx every interval until stop is
// called. It is a dependency of the heartbeat, given to its factories, so
// that a test can count the tickers running.
type StartTicker func(ctx actor.Context, every time.Duration, msg any) (stop func())

// SchedulerTicker is the StartTicker of production: a time.Ticker on a
// goroutine of its own, sending to the actor through the actor system's
// root context. (protoactor's timer scheduler would do, and keeps ctx past
// Receive as a molt behaviour may; but its cancel reads the timer's state
// without synchronisation, which the race detector reports now and then.)
func SchedulerTicker(ctx actor.Context, every time.Duration, msg any) (stop func()) {
	self, root := ctx.Self(), ctx.ActorSystem().Root
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				root.Send(self, msg)
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }
}

// HeartbeatV1 beats every second.
type HeartbeatV1 struct {
	Beats int64

	startTicker StartTicker
	stop        func() // the ticker this value started, nil when none runs
}

func (h *HeartbeatV1) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started, *update.Aborted:
		h.tick(ctx)
	case *update.Retired, *actor.Stopping, *actor.Restarting:
		h.halt()
	case *Beat:
		h.Beats++
	case *GetBeats:
		ctx.Respond(&Beats{N: h.Beats})
	}
}

// UpdateComing implements update.Notifiable: no beat is produced while the
// update runs. If it commits, the next version starts its own ticker; if it
// aborts, Aborted restarts this one.
func (h *HeartbeatV1) UpdateComing(actor.Context, *update.Notice) { h.halt() }

func (h *HeartbeatV1) tick(ctx actor.Context) {
	if h.stop == nil {
		h.stop = h.startTicker(ctx, time.Second, &Beat{})
	}
}

func (h *HeartbeatV1) halt() {
	if h.stop != nil {
		h.stop()
		h.stop = nil
	}
}

// HeartbeatV2 beats at an interval of its state.
type HeartbeatV2 struct {
	Beats int64
	Every time.Duration

	startTicker StartTicker
	stop        func()
}

func (h *HeartbeatV2) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *actor.Started, *update.VersionChanged, *update.Aborted:
		if h.stop == nil {
			h.stop = h.startTicker(ctx, h.Every, &Beat{})
		}
	case *update.Retired, *actor.Stopping, *actor.Restarting:
		if h.stop != nil {
			h.stop()
			h.stop = nil
		}
	case *Beat:
		h.Beats++
	case *GetBeats:
		ctx.Respond(&Beats{N: h.Beats})
	}
}

// CheckInvariants implements update.Checker: a ticker of interval 0 would
// panic in VersionChanged.
func (h *HeartbeatV2) CheckInvariants() error {
	if h.Every <= 0 {
		return errors.New("heartbeat: the interval must be positive")
	}
	return nil
}

// RegisterHeartbeat adds the heartbeat kind to cat; its versions start
// their tickers with start.
func RegisterHeartbeat(cat *registry.Catalog, start StartTicker) error {
	notState := registry.Transient("startTicker", "stop")
	api := registry.Accepts(&Beat{}, &GetBeats{})
	return errors.Join(
		registry.Register(cat, "heartbeat", 1, func() *HeartbeatV1 {
			return &HeartbeatV1{startTicker: start}
		}, notState, api),
		registry.Register(cat, "heartbeat", 2, func() *HeartbeatV2 {
			return &HeartbeatV2{Every: time.Second, startTicker: start}
		}, notState, api),
		registry.Migrate(cat, "heartbeat", 1, 2, func(old *HeartbeatV1) (*HeartbeatV2, error) {
			return &HeartbeatV2{Beats: old.Beats, Every: time.Second, startTicker: start}, nil
		}),
	)
}
