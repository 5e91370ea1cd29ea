package benchmarks_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
)

// BenchmarkUpdateLatency updates one small-state actor back and forth
// between versions 1 and 2 with node.Update, the in-process path. One op is
// one update, timed from the call to the result in hand.
func BenchmarkUpdateLatency(b *testing.B) {
	benchUpdateLatency(b, false)
}

// BenchmarkUpdateLatencyPure is BenchmarkUpdateLatency with migrations
// declared registry.Pure: no isolating copy of the state, so the difference
// is what the codec round trip costs on a small state.
func BenchmarkUpdateLatencyPure(b *testing.B) {
	benchUpdateLatency(b, true)
}

func benchUpdateLatency(b *testing.B, pure bool) {
	node := molt.NewNode(counterCatalog(b, pure))
	defer node.Shutdown()
	pid, err := node.Spawn("counter", 1)
	must(b, err)
	defer stop(b, node.Root(), pid)

	reqs := updates(0)
	rtt := make([]int64, b.N)
	inside := make([]int64, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		res := applyUpdate(b, node, pid, reqs[i%2])
		rtt[i] = int64(time.Since(start))
		inside[i] = res.GetTotalNs()
	}
	b.StopTimer()
	reportLatency(b, "", rtt)
	// The time the protocol itself took, on the actor's goroutine; the rest
	// of the round trip is messaging and scheduling.
	reportLatency(b, "actor-", inside)
}

// BenchmarkUpdateLatencyRequest is BenchmarkUpdateLatency through a
// protoactor Future (RootContext.RequestFuture), the path any sender can
// use, for comparison with node.Update.
func BenchmarkUpdateLatencyRequest(b *testing.B) {
	node := molt.NewNode(counterCatalog(b, false))
	defer node.Shutdown()
	pid, err := node.Spawn("counter", 1)
	must(b, err)
	defer stop(b, node.Root(), pid)

	reqs := updates(0)
	rtt := make([]int64, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		reply, err := node.Root().RequestFuture(pid, reqs[i%2], waitFor).Result()
		rtt[i] = int64(time.Since(start))
		if err != nil {
			b.Fatalf("update %d: no result: %v", i, err)
		}
		res, ok := reply.(*update.UpdateResult)
		if !ok {
			b.Fatalf("update %d: got %T, want *update.UpdateResult", i, reply)
		}
		if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
			b.Fatalf("update %d did not commit: %v in phase %v: %s", i, res.GetOutcome(), res.GetPhase(), res.GetReason())
		}
	}
	b.StopTimer()
	reportLatency(b, "", rtt)
}

// BenchmarkUpdateLatencyState updates an actor whose state carries a []byte
// of 1KB, 1MB or 16MB, back and forth between two versions that both carry
// it. MB/s is state carried per second of update. Sub-benchmark "codec" is
// the default isolation (a codec round trip copies the state before the
// migration runs); "pure" declares the migrations registry.Pure, so no copy
// is made: the difference is the cost of isolation.
func BenchmarkUpdateLatencyState(b *testing.B) {
	for _, size := range []struct {
		name  string
		bytes int
	}{{"1KB", 1 << 10}, {"1MB", 1 << 20}, {"16MB", 16 << 20}} {
		for _, mode := range []struct {
			name string
			pure bool
		}{{"codec", false}, {"pure", true}} {
			b.Run(fmt.Sprintf("%s/%s", size.name, mode.name), func(b *testing.B) {
				benchUpdateState(b, blobCatalog(b, mode.pure), size.bytes)
			})
		}
	}
}

func benchUpdateState(b *testing.B, cat *registry.Catalog, size int) {
	node := molt.NewNode(cat)
	defer node.Shutdown()
	pid, err := node.Spawn("blob", 1)
	must(b, err)
	defer stop(b, node.Root(), pid)

	filled := make(chan struct{}, 1)
	node.Root().Send(pid, &fill{size: size, done: filled})
	select {
	case <-filled:
	case <-time.After(waitFor):
		b.Fatalf("the blob actor did not fill its %d bytes within %v", size, waitFor)
	}

	// A long deadline: copying 16MB under -race takes a while.
	reqs := updates(time.Minute)
	rtt := make([]int64, b.N)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		applyUpdate(b, node, pid, reqs[i%2])
		rtt[i] = int64(time.Since(start))
	}
	b.StopTimer()
	reportLatency(b, "", rtt)

	// The bytes made it through every migration.
	data := blob(b, node.Root(), pid)
	if len(data) != size {
		b.Fatalf("after %d updates the state carries %d bytes, want %d", b.N, len(data), size)
	}
	for _, i := range []int{0, size / 2, size - 1} {
		if data[i] != byte(i) {
			b.Fatalf("after %d updates byte %d of the state is %d, want %d", b.N, i, data[i], byte(i))
		}
	}
}

func blob(b *testing.B, root *actor.RootContext, pid *actor.PID) []byte {
	b.Helper()
	reply := make(chan []byte, 1)
	root.Send(pid, &getBlob{reply: reply})
	select {
	case data := <-reply:
		return data
	case <-time.After(waitFor):
		b.Fatalf("the blob actor did not answer getBlob within %v", waitFor)
		return nil
	}
}
