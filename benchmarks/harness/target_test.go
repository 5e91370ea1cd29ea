package harness_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/benchmarks/harness"
	"github.com/molt-go/molt/registry"
)

// A user's kind, as a user of the harness would write it: a wallet whose
// balance changes representation at every version, over a cycle of three.

type deposit struct{ amount int }

type balanceQuery struct{ reply chan int64 }

type walletV1 struct{ Units int }

func (w *walletV1) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *deposit:
		w.Units += m.amount
	case *balanceQuery:
		m.reply <- int64(w.Units)
	}
}

type walletV2 struct{ Cents int64 }

func (w *walletV2) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *deposit:
		w.Cents += 100 * int64(m.amount)
	case *balanceQuery:
		m.reply <- w.Cents / 100
	}
}

type walletV3 struct {
	Cents   int64
	History []int64
}

func (w *walletV3) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *deposit:
		w.Cents += 100 * int64(m.amount)
		w.History = append(w.History, int64(m.amount))
	case *balanceQuery:
		m.reply <- w.Cents / 100
	}
}

// walletCatalog registers versions 1, 2 and 3 and the migrations 1→2,
// 2→3 and 3→1, counting each migration run in migrations.
func walletCatalog(t *testing.T, migrations *atomic.Int64) *registry.Catalog {
	t.Helper()
	cat := registry.New()
	err := errors.Join(
		registry.Register(cat, "wallet", 1, func() *walletV1 { return &walletV1{} }),
		registry.Register(cat, "wallet", 2, func() *walletV2 { return &walletV2{} }),
		registry.Register(cat, "wallet", 3, func() *walletV3 { return &walletV3{} }),
		registry.Migrate(cat, "wallet", 1, 2, func(o *walletV1) (*walletV2, error) {
			migrations.Add(1)
			return &walletV2{Cents: 100 * int64(o.Units)}, nil
		}),
		registry.Migrate(cat, "wallet", 2, 3, func(o *walletV2) (*walletV3, error) {
			migrations.Add(1)
			return &walletV3{Cents: o.Cents}, nil
		}),
		registry.Migrate(cat, "wallet", 3, 1, func(o *walletV3) (*walletV1, error) {
			migrations.Add(1)
			return &walletV1{Units: int(o.Cents / 100)}, nil
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func balance(ctx context.Context, node *molt.Node, pid *actor.PID) (int64, error) {
	reply := make(chan int64, 1)
	node.Root().Send(pid, &balanceQuery{reply: reply})
	select {
	case b := <-reply:
		return b, nil
	case <-time.After(10 * time.Second):
		return 0, errors.New("the wallet did not answer its balance query within 10s")
	}
}

// TestMeasureUpdateLatencyOnUserKind measures a user's kind through the
// entry point: its state is prepared, every update commits through the
// user's migrations around the cycle, the state survives, and the result
// has the built-in scenario's shape.
func TestMeasureUpdateLatencyOnUserKind(t *testing.T) {
	var migrations atomic.Int64
	prepared, verified := false, false
	target := harness.Target{
		Catalog:  walletCatalog(t, &migrations),
		Kind:     "wallet",
		Versions: []uint32{1, 2, 3},
		Prepare: func(ctx context.Context, node *molt.Node, pid *actor.PID) error {
			prepared = true
			node.Root().Send(pid, &deposit{amount: 42})
			return nil
		},
		Verify: func(ctx context.Context, node *molt.Node, pid *actor.PID) error {
			verified = true
			b, err := balance(ctx, node, pid)
			if err == nil && b != 42 {
				t.Errorf("the balance is %d after the updates, want the 42 deposited before them", b)
			}
			return err
		},
		Parameters: harness.Params{"owner": "test"},
	}
	const count = 30
	// A warm-up of 1ns is exactly one update.
	cfg := harness.Config{Count: count, Warmup: time.Nanosecond}
	res, err := harness.MeasureUpdateLatency(context.Background(), cfg, target)
	if err != nil {
		t.Fatalf("MeasureUpdateLatency: %v", err)
	}
	if !prepared || !verified {
		t.Errorf("Prepare ran: %v, Verify ran: %v; want both", prepared, verified)
	}
	if got := migrations.Load(); got != count+1 {
		t.Errorf("the user's migrations ran %d times, want %d: one per update, warm-up included", got, count+1)
	}
	if res.Scenario != "update-latency" || len(res.Cases) != 1 {
		t.Fatalf("result: scenario %q with %d cases, want update-latency with 1", res.Scenario, len(res.Cases))
	}
	c := res.Cases[0]
	if c.Name != "wallet" || c.Parameters["owner"] != "test" {
		t.Errorf("case %q with parameters %v, want the kind's name and the target's parameters", c.Name, c.Parameters)
	}
	if c.Latency == nil || c.Latency.Count != count {
		t.Fatalf("case latency %+v, want %d samples", c.Latency, count)
	}
	if l := c.Latency; !(0 < l.MinNs && l.MinNs <= l.P50Ns && l.P50Ns <= l.P90Ns && l.P90Ns <= l.P99Ns && l.P99Ns <= l.P999Ns && l.P999Ns <= l.MaxNs) {
		t.Errorf("latency percentiles out of order: %+v", l)
	}
	for _, name := range []string{"actor_p50_ns", "actor_p99_ns", "transfer_p50_ns", "held_max", "allocs_per_update", "bytes_per_update"} {
		if _, ok := c.Figure(name); !ok {
			t.Errorf("case has no figure %s; it has %v", name, c.Figures)
		}
	}
	if actor, _ := c.Figure("actor_p50_ns"); actor <= 0 || actor > float64(c.Latency.MaxNs) {
		t.Errorf("actor_p50_ns = %v, want within (0, the round trip's max %d]", actor, c.Latency.MaxNs)
	}
	if c.Recorder() == nil || c.Recorder().Count() != count {
		t.Errorf("the case keeps no recorder of its %d samples, which the CDF chart needs", count)
	}
}

// TestStartTargetNeedsAPathAroundTheCycle checks that a cycle the catalogue
// cannot follow is refused before anything is spawned.
func TestStartTargetNeedsAPathAroundTheCycle(t *testing.T) {
	cat := registry.New()
	err := errors.Join(
		registry.Register(cat, "wallet", 1, func() *walletV1 { return &walletV1{} }),
		registry.Register(cat, "wallet", 2, func() *walletV2 { return &walletV2{} }),
		registry.Migrate(cat, "wallet", 1, 2, func(o *walletV1) (*walletV2, error) { return &walletV2{}, nil }),
	)
	if err != nil {
		t.Fatal(err)
	}
	_, err = harness.StartTarget(context.Background(), harness.Target{Catalog: cat, Kind: "wallet"})
	if !errors.Is(err, registry.ErrNoPath) {
		t.Errorf("StartTarget with no 2→1 migration: got %v, want registry.ErrNoPath", err)
	}
	for _, bad := range []harness.Target{
		{Kind: "wallet"},
		{Catalog: cat},
		{Catalog: cat, Kind: "wallet", Versions: []uint32{1}},
		{Catalog: cat, Kind: "wallet", Deadline: -time.Second},
		{Catalog: cat, Kind: "wallet", Deadline: time.Microsecond}, // under update.MinDeadline
	} {
		if _, err := harness.StartTarget(context.Background(), bad); err == nil {
			t.Errorf("StartTarget(%+v) succeeded, want an error", bad)
		}
	}
}

// TestUpdaterFailsOnAbort checks that an update that does not commit fails
// the measurement with the phase and the reason.
func TestUpdaterFailsOnAbort(t *testing.T) {
	cat := registry.New()
	err := errors.Join(
		registry.Register(cat, "wallet", 1, func() *walletV1 { return &walletV1{} }),
		registry.Register(cat, "wallet", 2, func() *walletV2 { return &walletV2{} }),
		registry.Migrate(cat, "wallet", 1, 2, func(o *walletV1) (*walletV2, error) {
			return nil, errors.New("the ledger is closed")
		}),
		registry.Migrate(cat, "wallet", 2, 1, func(o *walletV2) (*walletV1, error) { return &walletV1{}, nil }),
	)
	if err != nil {
		t.Fatal(err)
	}
	_, err = harness.MeasureUpdateLatency(context.Background(), harness.Config{Count: 5, Warmup: time.Nanosecond},
		harness.Target{Catalog: cat, Kind: "wallet"})
	if err == nil || !strings.Contains(err.Error(), "did not commit") || !strings.Contains(err.Error(), "the ledger is closed") {
		t.Errorf("measuring a kind whose migration fails: got %v, want an error saying it did not commit and why", err)
	}
}

// TestFloorsAnswer: both floors answer every round trip, take turns as
// they should (Floor checks that the states alternate), and stop on Close.
func TestFloorsAnswer(t *testing.T) {
	ctx := context.Background()
	floor := harness.NewFloor()
	delivery, err := harness.NewDelivery()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if d, err := floor.Update(ctx); err != nil || d <= 0 {
			t.Fatalf("protoactor floor, round trip %d: %v, %v", i, d, err)
		}
		if d, err := delivery.RoundTrip(ctx); err != nil || d <= 0 {
			t.Fatalf("molt delivery floor, round trip %d: %v, %v", i, d, err)
		}
	}
	if err := floor.Close(); err != nil {
		t.Error(err)
	}
	if err := delivery.Close(); err != nil {
		t.Error(err)
	}
}
