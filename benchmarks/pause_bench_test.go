package benchmarks_test

import (
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	molt "github.com/molt-go/molt/actor"
)

// streamWindow is how many messages the stream keeps in flight: enough that
// the target's mailbox is rarely empty, few enough that the queue stays
// short.
const streamWindow = 64

// BenchmarkPauseUnderLoad updates a small-state actor back and forth b.N
// times while a sender goroutine streams messages to it. For each update it
// takes the longest gap between two consecutive deliveries in a window that
// opens just before the update is sent and closes after two messages have
// been delivered once its result is in: the pause the update causes as the
// stream sees it. It reports the p50 and p99 of those per-update gaps as
// "gap-p50-ns" and "gap-p99-ns", the largest as "gap-max-ns", and the update
// round trip under load as "p50-ns" and "p99-ns".
func BenchmarkPauseUnderLoad(b *testing.B) {
	rec := newGapRecorder()
	node := molt.NewNode(targetCatalog(b, rec))
	defer node.Shutdown()
	pid, err := node.Spawn("target", 1)
	must(b, err)
	defer stop(b, node.Root(), pid)

	// The stream: as fast as the target takes it, at most streamWindow
	// messages ahead of the deliveries.
	var quit atomic.Bool
	var sent atomic.Int64
	streamed := make(chan struct{})
	go func() {
		defer close(streamed)
		msg, n := &tick{}, int64(0)
		for !quit.Load() {
			if n-rec.delivered.Load() >= streamWindow {
				runtime.Gosched()
				continue
			}
			node.Root().Send(pid, msg)
			n++
		}
		sent.Store(n)
	}()
	stopStream := func() {
		if !quit.Swap(true) {
			<-streamed
		}
	}
	defer stopStream()
	rec.waitDelivered(b, 1000, "the stream to get going")

	reqs := updates(0)
	gaps := make([]int64, b.N)
	base := make([]int64, b.N)
	rtt := make([]int64, b.N)
	b.ResetTimer()
	for i := range b.N {
		// The update's window.
		first := rec.delivered.Load()
		rec.maxGap.Store(0)
		start := time.Now()
		applyUpdate(b, node, pid, reqs[i%2])
		rtt[i] = int64(time.Since(start))
		rec.waitDelivered(b, rec.delivered.Load()+2, "delivery to resume after the update")
		gaps[i] = rec.maxGap.Swap(0)

		// A control window as many deliveries long, with no update: the
		// gaps the stream has anyway on this machine.
		n := rec.delivered.Load() - first
		rec.maxGap.Store(0)
		rec.waitDelivered(b, rec.delivered.Load()+n, "the stream to go on")
		base[i] = rec.maxGap.Swap(0)
	}
	b.StopTimer()

	stopStream()
	// Nothing lost across b.N updates: the state counts every message sent.
	want := sent.Load()
	rec.waitDelivered(b, want, "the last streamed messages to be delivered")
	if got := count(b, node.Root(), pid); got != want {
		b.Fatalf("after %d updates the actor counted %d messages, %d were sent", b.N, got, want)
	}

	reportLatency(b, "gap-", gaps)
	b.ReportMetric(float64(slices.Max(gaps)), "gap-max-ns")
	reportLatency(b, "base-gap-", base)
	reportLatency(b, "", rtt)
}
