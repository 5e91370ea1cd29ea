package main_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/molt-go/molt/benchmarks/harness"
)

// BenchmarkUpdateLatency updates one small-state actor back and forth
// between versions 1 and 2 with node.Update, the in-process path. One op is
// one update, timed from the call to the result in hand.
func BenchmarkUpdateLatency(b *testing.B) {
	benchCounter(b, harness.IsolateCodec, false)
}

// BenchmarkUpdateLatencyPure is BenchmarkUpdateLatency with migrations
// declared registry.Pure: no isolating copy of the state, so the difference
// is what the codec round trip costs on a small state.
func BenchmarkUpdateLatencyPure(b *testing.B) {
	benchCounter(b, harness.IsolatePure, false)
}

// BenchmarkUpdateLatencyRequest is BenchmarkUpdateLatency through a
// protoactor Future (RootContext.RequestFuture), the path any sender can
// use, for comparison with node.Update.
func BenchmarkUpdateLatencyRequest(b *testing.B) {
	benchCounter(b, harness.IsolateCodec, true)
}

func benchCounter(b *testing.B, iso harness.Isolation, request bool) {
	t, err := harness.CounterTarget(iso)
	must(b, err)
	t.Request = request
	benchTarget(b, t, 0)
}

// BenchmarkUpdateLatencyState updates an actor whose state carries a []byte
// of 1KB, 1MB or 16MB, back and forth between two versions that both carry
// it. MB/s is state carried per second of update. Sub-benchmark "codec" is
// the default isolation (a codec round trip copies the state before the
// migration runs); "clone" copies it with a registry.Clone; "pure" declares
// the migrations registry.Pure, so no copy is made: the difference is the
// cost of isolation.
func BenchmarkUpdateLatencyState(b *testing.B) {
	for _, size := range []int{1 << 10, 1 << 20, 16 << 20} {
		for _, iso := range harness.Isolations {
			t, err := harness.BlobTarget(size, iso)
			must(b, err)
			b.Run(t.Name, func(b *testing.B) { benchTarget(b, t, size) })
		}
	}
}

// benchTarget updates t's actor b.N times and reports the round trip's p50
// and p99, and the six phases' ("actor-"), which exclude messaging and
// scheduling. bytes, if positive, is the state size, for MB/s.
func benchTarget(b *testing.B, t harness.Target, bytes int) {
	ctx := context.Background()
	u, err := harness.StartTarget(ctx, t)
	must(b, err)
	defer func() {
		if err := u.Close(); err != nil {
			b.Error(err)
		}
	}()

	rtt, inside := harness.NewRecorder(), harness.NewRecorder()
	if bytes > 0 {
		b.SetBytes(int64(bytes))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d, res, err := u.Update(ctx)
		if err != nil {
			b.Fatal(err)
		}
		rtt.Record(d)
		inside.RecordNs(res.GetTotalNs())
	}
	b.StopTimer()
	must(b, u.Verify(ctx))
	reportLatency(b, "", rtt)
	reportLatency(b, "actor-", inside)
}

// BenchmarkUpdateLatencyHeld updates an actor while 0, 1,000 or 100,000
// user messages are queued in its mailbox. "overtake": the actor is stable
// at once and the update goes ahead of the queue; "park": the actor is not
// stable until a message queued behind the others, so the update parks them
// all, then releases them. One op is one update, timed from letting the
// actor go to the result in hand; the queue is drained outside the timer.
func BenchmarkUpdateLatencyHeld(b *testing.B) {
	for _, mode := range harness.HeldModes {
		for _, n := range []int{0, 1000, 100_000} {
			b.Run(fmt.Sprintf("%s/%d", mode, n), func(b *testing.B) {
				ctx := context.Background()
				h, err := harness.NewHeld(mode)
				must(b, err)
				defer func() {
					if err := h.Close(); err != nil {
						b.Error(err)
					}
				}()
				rtt, inside := harness.NewRecorder(), harness.NewRecorder()
				var total int64
				for range b.N {
					d, res, err := h.Update(ctx, n)
					if err != nil {
						b.Fatal(err)
					}
					rtt.Record(d)
					inside.RecordNs(res.GetTotalNs())
					total += int64(d)
				}
				// The queueing and draining around each update are not
				// timed: ns/op is the updates' own time.
				b.ReportMetric(float64(total)/float64(b.N), "ns/op")
				reportLatency(b, "", rtt)
				reportLatency(b, "actor-", inside)
			})
		}
	}
}
