package main_test

import (
	"context"
	"testing"

	"github.com/molt-go/molt/benchmarks/harness"
)

// The throughput benchmarks run the same ping-pong workload, the harness's
// pinger behaviour, on plain protoactor actors and on molt actors, with no
// update running. One op is one message delivered; msgs/s is b.N over the
// elapsed time, allocs/op is per message, and cpu-ns/op is the CPU time the
// whole process spent per message.

// BenchmarkThroughputProtoactor bounces one message between two plain
// protoactor actors (actor.PropsFromProducer, protoactor's default mailbox).
func BenchmarkThroughputProtoactor(b *testing.B) {
	benchPingPong(b, harness.Protoactor, 1, 1)
}

// BenchmarkThroughputMolt bounces one message between two molt actors
// (node.Spawn of a registered kind): molt's mailbox, host and dispatcher
// (the node's warm worker goroutines).
func BenchmarkThroughputMolt(b *testing.B) {
	benchPingPong(b, harness.Molt, 1, 1)
}

// BenchmarkThroughputMoltOnProtoactorDispatcher is BenchmarkThroughputMolt
// with protoactor's default dispatcher, a new goroutine per mailbox
// wake-up, as the plain actors have: the difference with
// BenchmarkThroughputProtoactor is then molt's mailbox and host alone.
func BenchmarkThroughputMoltOnProtoactorDispatcher(b *testing.B) {
	benchPingPong(b, harness.MoltOnProtoactorDispatcher, 1, 1)
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
	benchPingPong(b, harness.Protoactor, batchPairs, batchInFlight)
}

// BenchmarkThroughputMoltBatched runs 4 molt pairs at once, each with 32
// messages in flight.
func BenchmarkThroughputMoltBatched(b *testing.B) {
	benchPingPong(b, harness.Molt, batchPairs, batchInFlight)
}

// BenchmarkThroughputMoltBatchedOnProtoactorDispatcher is the batched
// variant on protoactor's default dispatcher.
func BenchmarkThroughputMoltBatchedOnProtoactorDispatcher(b *testing.B) {
	benchPingPong(b, harness.MoltOnProtoactorDispatcher, batchPairs, batchInFlight)
}

// benchPingPong delivers b.N messages in all, spread over pairs × inFlight
// chains of a ping bouncing within its pair.
func benchPingPong(b *testing.B, sys harness.System, pairs, inFlight int) {
	pp, err := harness.NewPingPong(sys, pairs, inFlight)
	must(b, err)
	defer func() {
		if err := pp.Close(); err != nil {
			b.Error(err)
		}
	}()
	b.ReportAllocs()
	run, err := pp.Run(context.Background(), b.N, b)
	must(b, err)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if run.CPUOK {
		// CPU time per message, all threads of the process: steadier than
		// msgs/s when other processes compete for the cores.
		b.ReportMetric(float64(run.CPU)/float64(b.N), "cpu-ns/op")
	}
}
