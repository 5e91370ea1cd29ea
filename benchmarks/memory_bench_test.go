package main_test

import (
	"context"
	"testing"

	"github.com/molt-go/molt/benchmarks/harness"
)

// BenchmarkIdleMemory spawns 20,000 idle actors on plain protoactor and
// as many on molt, in turn, once per op, each having handled one message,
// and measures the growth of the live heap (harness.IdleMemory). Reported:
// "protoactor-B/actor", "molt-B/actor" and "vs-protoactor", molt's bytes
// per actor over protoactor's, the medians over the ops. Target: 1.25 or
// less. Run it with -benchtime Nx: one op spawns both fleets.
func BenchmarkIdleMemory(b *testing.B) {
	const actors = 20_000
	ctx := context.Background()
	var pa, molt, ratios []float64
	for range b.N {
		var per [2]float64
		for i, sys := range []harness.System{harness.Protoactor, harness.Molt} {
			idle, err := harness.IdleMemory(ctx, sys, actors)
			must(b, err)
			per[i] = idle.BytesPerActor()
		}
		pa, molt, ratios = append(pa, per[0]), append(molt, per[1]), append(ratios, per[1]/per[0])
	}
	b.ReportMetric(median(pa), "protoactor-B/actor")
	b.ReportMetric(median(molt), "molt-B/actor")
	b.ReportMetric(median(ratios), "vs-protoactor")
}
