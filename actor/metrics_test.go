package actor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The "meter" kind has three versions: 1 to 2 migrates, 1 to 3 fails in
// state transfer, and there is no version 9, so an update to it is
// rejected in initialization. meterPing is acknowledged on a channel, so that a
// test can count deliveries without sleeping.

type meterPing struct{}

type meterV struct {
	N   int
	ack chan struct{}
}

func (m *meterV) Receive(ctx pa.Context) {
	if _, ok := ctx.Message().(*meterPing); ok && m.ack != nil {
		m.ack <- struct{}{}
	}
}

func meterCatalog(t testing.TB, ack chan struct{}) *registry.Catalog {
	cat := registry.New()
	for v := uint32(1); v <= 3; v++ {
		must(t, registry.Register(cat, "meter", v, func() *meterV { return &meterV{ack: ack} }, registry.Transient("ack")))
	}
	must(t, registry.Migrate(cat, "meter", 1, 2, func(o *meterV) (*meterV, error) { return &meterV{N: o.N, ack: ack}, nil }))
	must(t, registry.Migrate(cat, "meter", 1, 3, func(*meterV) (*meterV, error) { return nil, errors.New("no way to 3") }))
	return cat
}

func updateTo(t *testing.T, node *molt.Node, pid *pa.PID, to uint32, want update.Outcome) *update.UpdateResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := node.Update(ctx, pid, &update.UpdateActor{ToVersion: to})
	if err != nil {
		t.Fatalf("update to %d: %v", to, err)
	}
	if res.GetOutcome() != want {
		t.Fatalf("update to %d: %v in %v (%s), want %v", to, res.GetOutcome(), res.GetPhase(), res.GetReason(), want)
	}
	return res
}

func collect(t *testing.T, r sdkmetric.Reader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("collect: %v", err)
	}
	out := make(map[string]metricdata.Metrics)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

func attrs(kv ...attribute.KeyValue) attribute.Set { return attribute.NewSet(kv...) }

func TestMetricsOfACommitAnAbortAndARejection(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	node := molt.NewNode(meterCatalog(t, nil), molt.WithMeterProvider(mp))
	t.Cleanup(node.Shutdown)
	pid, err := node.Spawn("meter", 1, molt.WithName("m-1"))
	must(t, err)

	updateTo(t, node, pid, 3, update.Outcome_OUTCOME_ABORTED)
	updateTo(t, node, pid, 2, update.Outcome_OUTCOME_COMMITTED)
	updateTo(t, node, pid, 9, update.Outcome_OUTCOME_REJECTED)

	got := collect(t, reader)
	kind := molt.AttrKind.String("meter")
	counts := map[attribute.Set]int64{}
	for _, dp := range sumOf(t, got, molt.MetricUpdates).DataPoints {
		counts[dp.Attributes] = dp.Value
	}
	wantCounts := map[attribute.Set]int64{
		attrs(kind, molt.AttrFromVersion.Int64(1), molt.AttrToVersion.Int64(3), molt.AttrOutcome.String("aborted"), molt.AttrPhase.String("state_transfer")):  1,
		attrs(kind, molt.AttrFromVersion.Int64(1), molt.AttrToVersion.Int64(2), molt.AttrOutcome.String("committed")):                                         1,
		attrs(kind, molt.AttrFromVersion.Int64(2), molt.AttrToVersion.Int64(9), molt.AttrOutcome.String("rejected"), molt.AttrPhase.String("initialization")): 1,
	}
	if len(counts) != len(wantCounts) {
		t.Errorf("%s has %d series, want %d: %v", molt.MetricUpdates, len(counts), len(wantCounts), counts)
	}
	for set, n := range wantCounts {
		if counts[set] != n {
			t.Errorf("%s{%s} = %d, want %d", molt.MetricUpdates, set.Encoded(attribute.DefaultEncoder()), counts[set], n)
		}
	}

	// Each phase an update reached is measured once; the phases after the
	// one it ended in are not.
	phases := map[attribute.Set]uint64{}
	for _, dp := range histOf(t, got, molt.MetricPhaseDuration).DataPoints {
		phases[dp.Attributes] = dp.Count
		if dp.Sum < 0 {
			t.Errorf("%s{%s} sums to %v seconds", molt.MetricPhaseDuration, dp.Attributes.Encoded(attribute.DefaultEncoder()), dp.Sum)
		}
	}
	wantPhases := map[attribute.Set]uint64{}
	for outcome, last := range map[string]int{"committed": 6, "aborted": 5, "rejected": 1} {
		for _, name := range []string{"initialization", "notification", "preparation", "state_checking", "state_transfer", "replacement"}[:last] {
			wantPhases[attrs(kind, molt.AttrOutcome.String(outcome), molt.AttrPhase.String(name))] = 1
		}
	}
	if len(phases) != len(wantPhases) {
		t.Errorf("%s has %d series, want %d (6 committed, 5 aborted, 1 rejected)", molt.MetricPhaseDuration, len(phases), len(wantPhases))
	}
	for set, n := range wantPhases {
		if phases[set] != n {
			t.Errorf("%s{%s} counts %d, want %d", molt.MetricPhaseDuration, set.Encoded(attribute.DefaultEncoder()), phases[set], n)
		}
	}

	for _, name := range []string{molt.MetricUpdateDuration} {
		for _, dp := range histOf(t, got, name).DataPoints {
			if dp.Count != 1 {
				t.Errorf("%s{%s} counts %d, want 1", name, dp.Attributes.Encoded(attribute.DefaultEncoder()), dp.Count)
			}
		}
	}
	held := got[molt.MetricHeldMessages]
	if h, ok := held.Data.(metricdata.Histogram[int64]); !ok || len(h.DataPoints) != 3 {
		t.Errorf("%s = %+v, want a histogram of three series (one per outcome)", molt.MetricHeldMessages, held.Data)
	}

	live := gaugeOf(t, got, molt.MetricActors)
	if len(live.DataPoints) != 1 || live.DataPoints[0].Value != 1 || live.DataPoints[0].Attributes != attrs(kind, molt.AttrVersion.Int64(2)) {
		t.Errorf("%s = %+v, want one actor of meter at version 2", molt.MetricActors, live.DataPoints)
	}
	depth := gaugeOf(t, got, molt.MetricMailboxDepth)
	if len(depth.DataPoints) != 2 {
		t.Errorf("%s = %+v, want queued and held for meter", molt.MetricMailboxDepth, depth.DataPoints)
	}
}

// TestMailboxDepthGauge holds messages behind an update in preparation
// and reads them in the gauge.
func TestMailboxDepthGauge(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	node, _ := gateNodeWith(t, molt.WithMeterProvider(mp))
	pid, err := node.Spawn("gate", 1)
	must(t, err)
	f := node.Root().RequestFuture(pid, &update.UpdateActor{ToVersion: 2, Deadline: durationpb.New(10 * time.Second)}, 20*time.Second)
	for range 3 {
		node.Root().Send(pid, &note{S: "x"})
	}
	deadline := time.After(10 * time.Second)
	for {
		if s, _ := node.Status(pid); s.Held == 3 {
			break
		}
		select {
		case <-deadline:
			s, _ := node.Status(pid)
			t.Fatalf("the gate did not hold 3 messages within 10s: status %+v", s)
		case <-time.After(time.Millisecond):
		}
	}
	var held int64 = -1
	for _, dp := range gaugeOf(t, collect(t, reader), molt.MetricMailboxDepth).DataPoints {
		if dp.Attributes == attrs(molt.AttrKind.String("gate"), molt.AttrQueue.String("held")) {
			held = dp.Value
		}
	}
	if held != 3 {
		t.Errorf("%s{gate, held} = %d, want 3", molt.MetricMailboxDepth, held)
	}
	node.Root().Send(pid, &open{})
	if _, err := f.Result(); err != nil {
		t.Fatalf("the update did not end once the gate opened: %v", err)
	}
}

// TestNoMeterProviderRecordsNothing: a node without WithMeterProvider
// makes no instrument, not even on the global provider.
func TestNoMeterProviderRecordsNothing(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	prev := otel.GetMeterProvider()
	otel.SetMeterProvider(mp)
	t.Cleanup(func() {
		otel.SetMeterProvider(prev)
		_ = mp.Shutdown(context.Background())
	})
	node := molt.NewNode(meterCatalog(t, nil))
	t.Cleanup(node.Shutdown)
	pid, err := node.Spawn("meter", 1)
	must(t, err)
	updateTo(t, node, pid, 2, update.Outcome_OUTCOME_COMMITTED)
	if got := collect(t, reader); len(got) != 0 {
		t.Errorf("a node without a meter provider recorded %d metrics on the global one", len(got))
	}
}

// TestMeterProviderCostsNothingPerMessage: a plain message allocates no
// more on a node with metrics than on one without, since nothing is
// recorded per message.
func TestMeterProviderCostsNothingPerMessage(t *testing.T) {
	allocs := func(opts ...molt.Option) float64 {
		ack := make(chan struct{}, 1)
		node := molt.NewNode(meterCatalog(t, ack), opts...)
		defer node.Shutdown()
		pid, err := node.Spawn("meter", 1)
		must(t, err)
		msg := &meterPing{}
		timer := time.NewTimer(time.Hour) // reset, not made, per message: time.After would allocate
		defer timer.Stop()
		return testing.AllocsPerRun(2000, func() {
			timer.Reset(10 * time.Second)
			node.Root().Send(pid, msg)
			select {
			case <-ack:
			case <-timer.C:
				t.Fatal("a ping was not delivered within 10s")
			}
		})
	}
	without := allocs()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	with := allocs(molt.WithMeterProvider(mp))
	if with > without {
		t.Errorf("a plain message costs %v allocations with a meter provider, %v without", with, without)
	}
	if without > 1 {
		t.Errorf("a plain message costs %v allocations without a meter provider, want at most 1", without)
	}
}

// gateNodeWith is gateNode on a node made with options.
func gateNodeWith(t *testing.T, options ...molt.Option) (*molt.Node, *journal) {
	t.Helper()
	j := newJournal()
	cat := registry.New()
	for v := uint32(1); v <= 2; v++ {
		must(t, registry.Register(cat, "gate", v, func() *gate { return &gate{V: v, j: j} }, registry.Transient("j")))
	}
	mig := func(o *gate) (*gate, error) { return &gate{V: 3 - o.V, j: j}, nil }
	must(t, registry.Migrate(cat, "gate", 1, 2, mig))
	must(t, registry.Migrate(cat, "gate", 2, 1, mig))
	node := molt.NewNode(cat, options...)
	t.Cleanup(node.Shutdown)
	return node, j
}

func sumOf(t *testing.T, got map[string]metricdata.Metrics, name string) metricdata.Sum[int64] {
	t.Helper()
	s, ok := got[name].Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is %T, want an int64 sum; metrics: %v", name, got[name].Data, names(got))
	}
	return s
}

func histOf(t *testing.T, got map[string]metricdata.Metrics, name string) metricdata.Histogram[float64] {
	t.Helper()
	h, ok := got[name].Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is %T, want a float64 histogram; metrics: %v", name, got[name].Data, names(got))
	}
	return h
}

func gaugeOf(t *testing.T, got map[string]metricdata.Metrics, name string) metricdata.Gauge[int64] {
	t.Helper()
	g, ok := got[name].Data.(metricdata.Gauge[int64])
	if !ok {
		t.Fatalf("%s is %T, want an int64 gauge; metrics: %v", name, got[name].Data, names(got))
	}
	return g
}

func names(got map[string]metricdata.Metrics) []string {
	var out []string
	for n := range got {
		out = append(out, n)
	}
	return out
}
