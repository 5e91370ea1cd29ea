package shapes

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/registry/registrytest"
	"github.com/molt-go/molt/update"
)

// tickers counts the tickers the heartbeat starts and stops, and makes them
// tick every millisecond whatever interval is asked.
type tickers struct {
	mu              sync.Mutex
	started, active int
}

func (tk *tickers) start(ctx actor.Context, _ time.Duration, msg any) func() {
	stop := SchedulerTicker(ctx, time.Millisecond, msg)
	tk.mu.Lock()
	tk.started++
	tk.active++
	tk.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			stop()
			tk.mu.Lock()
			tk.active--
			tk.mu.Unlock()
		})
	}
}

func (tk *tickers) count() (started, active int) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	return tk.started, tk.active
}

func TestHeartbeatMigrations(t *testing.T) {
	registrytest.Check(t, newCatalog(t, func(cat *registry.Catalog) error {
		return RegisterHeartbeat(cat, SchedulerTicker)
	}), "heartbeat")
}

// TestTimers: the ticker of version 1 is stopped when an update comes,
// restarted when it aborts, and replaced by version 2's own when it
// commits; exactly one ticker runs at any time, and none once the actor
// has stopped.
func TestTimers(t *testing.T) {
	tk := &tickers{}
	cat := newCatalog(t, func(cat *registry.Catalog) error { return RegisterHeartbeat(cat, tk.start) })
	// A release whose migration fails, to see the update abort.
	if err := errors.Join(
		registry.Register(cat, "heartbeat", 3, func() *HeartbeatV2 { return &HeartbeatV2{startTicker: tk.start} },
			registry.Transient("startTicker", "stop")),
		registry.Migrate(cat, "heartbeat", 1, 3, func(*HeartbeatV1) (*HeartbeatV2, error) {
			return nil, errors.New("a broken release")
		}),
	); err != nil {
		t.Fatal(err)
	}
	node := newNode(t, cat)
	pid := spawn(t, node, "heartbeat", 1)
	beats := func() int64 { return ask[*Beats](t, node, pid, &GetBeats{}).N }
	beatsPass := func(what string) {
		t.Helper()
		n := beats()
		eventually(t, what, func() bool { return beats() > n })
	}
	wantTickers := func(when string, started, active int) {
		t.Helper()
		if s, a := tk.count(); s != started || a != active {
			t.Fatalf("%s: %d tickers started and %d running, want %d and %d", when, s, a, started, active)
		}
	}
	beatsPass("a beat of version 1")
	wantTickers("version 1 runs", 1, 1)

	updateTo(t, node, pid, &update.UpdateActor{ToVersion: 3}, update.Outcome_OUTCOME_ABORTED)
	beatsPass("a beat of version 1 after the abort")
	wantTickers("the update aborted", 2, 1)

	updateTo(t, node, pid, &update.UpdateActor{ToVersion: 2}, update.Outcome_OUTCOME_COMMITTED)
	beatsPass("a beat of version 2")
	wantTickers("version 2 runs", 3, 1)

	if err := node.Root().StopFuture(pid).Wait(); err != nil {
		t.Fatalf("stopping the heartbeat: %v", err)
	}
	wantTickers("the heartbeat stopped", 3, 0)
}
