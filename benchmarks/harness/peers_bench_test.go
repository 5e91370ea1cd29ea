package harness_test

import (
	"context"
	"testing"
	"time"

	"github.com/molt-go/molt/benchmarks/harness"
)

// BenchmarkUpdatePeers measures molt's update round trip beside its
// peers, in one benchmark: each op is one update of a small-state molt
// actor ("counter", the default codec isolation, node.Update), one round
// trip of the protoactor floor (harness.Floor) and one of molt's delivery
// floor (harness.Delivery: a plain message to a molt actor, answered on a
// channel), in turn, so that a slow moment of the machine hits all three,
// each timed on its own. Then, if erl and erlc are on PATH and the op
// count is at least 1,000, Erlang/OTP updates a gen_server as many times
// (sys:suspend, sys:change_code, sys:resume; harness.ErlangPeer), outside
// the benchmark's timer.
//
// ns/op is a molt update plus the two floors' round trips. Reported:
// "p50-ns" and "p99-ns" (the update's), "floor-p50-ns", "floor-p99-ns",
// "delivery-p50-ns", "delivery-p99-ns", "erlang-p50-ns", "erlang-p99-ns",
// the ratios of the update over the peer, "vs-floor-p50", "vs-floor-p99",
// "vs-erlang-p50", "vs-erlang-p99" (below 1: molt is faster), and
// "delivery-vs-floor-p50", "delivery-vs-floor-p99": molt's plain round
// trip over protoactor's, which says how much of the update's distance
// from the floor is the update's own work.
func BenchmarkUpdatePeers(b *testing.B) {
	ctx := context.Background()
	t, err := harness.CounterTarget(harness.IsolateCodec)
	if err != nil {
		b.Fatal(err)
	}
	u, err := harness.StartTarget(ctx, t)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := u.Close(); err != nil {
			b.Error(err)
		}
	}()
	floor := harness.NewFloor()
	defer func() {
		if err := floor.Close(); err != nil {
			b.Error(err)
		}
	}()
	delivery, err := harness.NewDelivery()
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := delivery.Close(); err != nil {
			b.Error(err)
		}
	}()
	for range 1000 { // warm all three up
		if _, _, err := u.Update(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := floor.Update(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := delivery.RoundTrip(ctx); err != nil {
			b.Fatal(err)
		}
	}

	molt, base, plain := harness.NewRecorder(), harness.NewRecorder(), harness.NewRecorder()
	b.ResetTimer()
	for range b.N {
		d, _, err := u.Update(ctx)
		if err != nil {
			b.Fatal(err)
		}
		molt.Record(d)
		if d, err = floor.Update(ctx); err != nil {
			b.Fatal(err)
		}
		base.Record(d)
		if d, err = delivery.RoundTrip(ctx); err != nil {
			b.Fatal(err)
		}
		plain.Record(d)
	}
	b.StopTimer()
	report := func(prefix string, r *harness.Recorder) {
		b.ReportMetric(float64(r.Quantile(0.50)), prefix+"p50-ns")
		b.ReportMetric(float64(r.Quantile(0.99)), prefix+"p99-ns")
	}
	ratios := func(peer string, r *harness.Recorder) {
		b.ReportMetric(float64(molt.Quantile(0.50))/float64(r.Quantile(0.50)), "vs-"+peer+"-p50")
		b.ReportMetric(float64(molt.Quantile(0.99))/float64(r.Quantile(0.99)), "vs-"+peer+"-p99")
	}
	report("", molt)
	report("floor-", base)
	report("delivery-", plain)
	ratios("floor", base)
	b.ReportMetric(float64(plain.Quantile(0.50))/float64(base.Quantile(0.50)), "delivery-vs-floor-p50")
	b.ReportMetric(float64(plain.Quantile(0.99))/float64(base.Quantile(0.99)), "delivery-vs-floor-p99")

	if b.N < 1000 || !erlangInstalled() {
		return
	}
	peer, err := harness.NewErlangPeer(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := peer.Close(); err != nil {
			b.Error(err)
		}
	}()
	rep, err := peer.Latency(ctx, harness.Config{Count: b.N, Warmup: 100 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	erl := harness.NewRecorder()
	for _, ns := range rep.Latencies {
		erl.RecordNs(ns)
	}
	report("erlang-", erl)
	ratios("erlang", erl)
}
