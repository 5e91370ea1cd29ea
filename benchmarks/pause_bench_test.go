package main_test

import (
	"context"
	"testing"

	"github.com/molt-go/molt/benchmarks/harness"
)

// BenchmarkPauseUnderLoad updates a small-state actor back and forth b.N
// times while a sender goroutine streams messages to it. For each update it
// takes the longest gap between two consecutive deliveries in a window that
// opens just before the update is sent and closes after two messages have
// been delivered once its result is in: the pause the update causes as the
// stream sees it. It reports the p50 and p99 of those per-update gaps as
// "gap-p50-ns" and "gap-p99-ns", the largest as "gap-max-ns", the same over
// control windows without an update as "base-gap-p50-ns" and
// "base-gap-p99-ns", their ratio as "vs-base-gap-p99" (target: 2 or less,
// and a gap p99 of 50 µs or less), and the update round trip under load as
// "p50-ns" and "p99-ns". At the end the actor must have counted every
// message sent.
func BenchmarkPauseUnderLoad(b *testing.B) {
	ctx := context.Background()
	p, err := harness.NewPause(ctx)
	must(b, err)
	defer func() {
		if err := p.Close(ctx); err != nil {
			b.Error(err)
		}
	}()

	gaps, base, rtt := harness.NewRecorder(), harness.NewRecorder(), harness.NewRecorder()
	b.ResetTimer()
	for range b.N {
		gap, noUpdate, d, err := p.Update(ctx)
		if err != nil {
			b.Fatal(err)
		}
		gaps.Record(gap)
		base.Record(noUpdate)
		rtt.Record(d)
	}
	b.StopTimer()
	// Nothing lost across b.N updates: the state counts every message sent.
	must(b, p.Close(ctx))

	reportLatency(b, "gap-", gaps)
	b.ReportMetric(float64(gaps.Summary().MaxNs), "gap-max-ns")
	reportLatency(b, "base-gap-", base)
	b.ReportMetric(float64(gaps.Quantile(0.99))/float64(base.Quantile(0.99)), "vs-base-gap-p99")
	reportLatency(b, "", rtt)
}
