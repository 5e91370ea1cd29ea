package main_test

import (
	"context"
	"slices"
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

// BenchmarkThroughputVsProtoactor runs plain protoactor and molt in turn,
// one repetition of each per op, on the one-in-flight and the 4 × 32
// workloads, and reports molt's rate over protoactor's: vs-protoactor, the
// median of the per-op ratios, and min-vs-protoactor, the lowest. Target:
// a median of 1.0 or more and no op below 0.9. Run it with -benchtime Nx
// (5x or more): one op is a whole repetition of each.
func BenchmarkThroughputVsProtoactor(b *testing.B) {
	for _, w := range []struct {
		name             string
		pairs, inFlight  int
		messagesPerRound int
	}{{"1x1", 1, 1, 100_000}, {"4x32", batchPairs, batchInFlight, 1_000_000}} {
		b.Run(w.name, func(b *testing.B) {
			var pp [2]*harness.PingPong
			for i, sys := range []harness.System{harness.Protoactor, harness.Molt} {
				p, err := harness.NewPingPong(sys, w.pairs, w.inFlight)
				must(b, err)
				defer func() { must(b, p.Close()) }()
				// Warm up: the first run grows stacks and pools.
				_, err = p.Run(context.Background(), w.messagesPerRound/10, nil)
				must(b, err)
				pp[i] = p
			}
			b.ResetTimer()
			var ratios, paRates, moltRates []float64
			for range b.N {
				var rates [2]float64
				for i, p := range pp {
					r, err := p.Run(context.Background(), w.messagesPerRound, nil)
					must(b, err)
					rates[i] = r.MsgsPerSecond()
				}
				paRates, moltRates = append(paRates, rates[0]), append(moltRates, rates[1])
				ratios = append(ratios, rates[1]/rates[0])
			}
			b.StopTimer()
			b.ReportMetric(median(ratios), "vs-protoactor")
			b.ReportMetric(slices.Min(ratios), "min-vs-protoactor")
			b.ReportMetric(median(paRates), "protoactor-msgs/s")
			b.ReportMetric(median(moltRates), "molt-msgs/s")
		})
	}
}
