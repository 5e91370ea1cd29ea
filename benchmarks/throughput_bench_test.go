package benchmarks_test

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
)

// The throughput benchmarks run the same ping-pong workload, the pinger
// behaviour, on plain protoactor actors and on molt actors, with no update
// running. One op is one message delivered; msgs/s is b.N over the elapsed
// time, allocs/op is per message, and cpu-ns/op is the CPU time the whole
// process spent per message.

// BenchmarkThroughputProtoactor bounces one message between two plain
// protoactor actors (actor.PropsFromProducer, protoactor's default mailbox).
func BenchmarkThroughputProtoactor(b *testing.B) {
	benchPingPong(b, plainSpawner(b), 1, 1)
}

// BenchmarkThroughputMolt bounces one message between two molt actors
// (node.Spawn of a registered kind): molt's mailbox, host and dispatcher
// (the node's warm worker goroutines).
func BenchmarkThroughputMolt(b *testing.B) {
	benchPingPong(b, moltSpawner(b), 1, 1)
}

// BenchmarkThroughputMoltOnProtoactorDispatcher is BenchmarkThroughputMolt
// with protoactor's default dispatcher, a new goroutine per mailbox
// wake-up, as the plain actors have: the difference with
// BenchmarkThroughputProtoactor is then molt's mailbox and host alone.
func BenchmarkThroughputMoltOnProtoactorDispatcher(b *testing.B) {
	benchPingPong(b, moltSpawner(b, molt.WithProps(actor.WithDispatcher(actor.NewDefaultDispatcher(300)))), 1, 1)
}

// batchPairs and batchInFlight shape the batched variants: that many pairs,
// each with that many messages bouncing at once, so that mailboxes rarely
// run dry and both cores stay busy.
const (
	batchPairs    = 4
	batchInFlight = 32
)

// BenchmarkThroughputProtoactorBatched runs 4 plain protoactor pairs at
// once, each with 32 messages in flight.
func BenchmarkThroughputProtoactorBatched(b *testing.B) {
	benchPingPong(b, plainSpawner(b), batchPairs, batchInFlight)
}

// BenchmarkThroughputMoltBatched runs 4 molt pairs at once, each with 32
// messages in flight.
func BenchmarkThroughputMoltBatched(b *testing.B) {
	benchPingPong(b, moltSpawner(b), batchPairs, batchInFlight)
}

// BenchmarkThroughputMoltBatchedOnProtoactorDispatcher is the batched
// variant on protoactor's default dispatcher.
func BenchmarkThroughputMoltBatchedOnProtoactorDispatcher(b *testing.B) {
	benchPingPong(b, moltSpawner(b, molt.WithProps(actor.WithDispatcher(actor.NewDefaultDispatcher(300)))), batchPairs, batchInFlight)
}

// spawner starts one pinger and returns its PID; root is the context to
// send from and stop with; shutdown ends the system.
type spawner struct {
	spawn    func() *actor.PID
	root     *actor.RootContext
	shutdown func()
}

func plainSpawner(b *testing.B) spawner {
	system := quietSystem()
	props := actor.PropsFromProducer(func() actor.Actor { return &pinger{} })
	return spawner{
		spawn:    func() *actor.PID { return system.Root.Spawn(props) },
		root:     system.Root,
		shutdown: system.Shutdown,
	}
}

func moltSpawner(b *testing.B, options ...molt.SpawnOption) spawner {
	cat := registry.New()
	must(b, registry.Register(cat, "pinger", 1, func() *pinger { return &pinger{} }))
	node := molt.NewNode(cat)
	return spawner{
		spawn: func() *actor.PID {
			pid, err := node.Spawn("pinger", 1, options...)
			must(b, err)
			return pid
		},
		root:     node.Root(),
		shutdown: node.Shutdown,
	}
}

// benchPingPong delivers b.N messages in all, spread over pairs × inFlight
// chains of a ping bouncing within its pair.
func benchPingPong(b *testing.B, s spawner, pairs, inFlight int) {
	defer s.shutdown()
	chains := pairs * inFlight
	done := make(chan struct{}, chains)
	var pids []*actor.PID
	defer func() { stop(b, s.root, pids...) }()
	for range pairs {
		x, y := s.spawn(), s.spawn()
		pids = append(pids, x, y)
		s.root.Send(x, &pair{peer: y, done: done})
		s.root.Send(y, &pair{peer: x, done: done})
	}

	pings := make([]*ping, 0, chains)
	for c := range chains {
		left := b.N / chains
		if c < b.N%chains {
			left++
		}
		if left > 0 {
			pings = append(pings, &ping{left: left})
		}
	}

	timeout := time.NewTimer(waitFor)
	defer timeout.Stop()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, cpuOK := processCPU()
	for c, p := range pings {
		s.root.Send(pids[2*(c%pairs)], p)
	}
	for range pings {
		select {
		case <-done:
		case <-timeout.C:
			b.Fatalf("the ping-pong of %d messages over %d pairs did not finish within %v", b.N, pairs, waitFor)
		}
	}
	cpu1, _ := processCPU()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if cpuOK {
		// CPU time per message, all threads of the process: steadier than
		// msgs/s when other processes compete for the cores.
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}
