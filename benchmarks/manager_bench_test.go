package main_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/molt-go/molt/benchmarks/harness"
)

// The update manager's benchmarks: all-or-nothing groups and fleets, run
// as update packages through manager.Run, as an operator would, on the
// harness's Fleet, the fixture of the group-update and fleet-update
// scenarios.

// BenchmarkGroupUpdate updates an all-or-nothing group of 2, 16 and 256
// actors back and forth; one op is one group update, from manager.Run to
// the package's end (planning, staging every member, committing them all).
// Target: a 16-actor group in 100 µs or less at p50, 500 µs at p99; 256 in
// 1 ms at p50. Also reported: cpu-ns/op, the process's CPU time per group
// update, which a busy machine changes less than the latency.
func BenchmarkGroupUpdate(b *testing.B) {
	ctx := context.Background()
	for _, size := range []int{2, 16, 256} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			f, err := harness.NewFleet(ctx, size)
			must(b, err)
			defer func() { must(b, f.Close()) }()
			rec := harness.NewRecorder()
			b.ResetTimer()
			cpu0, _ := harness.ProcessCPU()
			for range b.N {
				d, _, err := f.UpdateGroup(ctx, nil)
				must(b, err)
				rec.Record(d)
			}
			b.StopTimer()
			reportLatency(b, "", rec)
			if cpu1, ok := harness.ProcessCPU(); ok {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}

// BenchmarkFleetUpdate updates a fleet of 100,000 small actors back and
// forth, one package per direction (all-at-once, harness.FleetMaxInFlight
// in flight); one op is one actor updated, and ns/op is the packages' time
// per actor updated. Reported: "updates/s", and "cpu-ns/update", the
// process's CPU time per actor updated, which the machine's load moves less.
//
// With erl and erlc on PATH, Erlang/OTP's fleet of as many gen_servers
// (harness.ErlangFleet: one coordinator, sys:suspend, sys:change_code and
// sys:resume, process after process) runs one pass after each molt
// package, outside the timer, as the runner alternates them; reported:
// "erlang-updates/s" and "vs-erlang", molt's rate over Erlang's (above 1:
// molt is faster). Target: 2 × Erlang's rate or more.
func BenchmarkFleetUpdate(b *testing.B) {
	const fleet = 100_000
	ctx := context.Background()
	f, err := harness.NewFleet(ctx, fleet)
	must(b, err)
	defer func() { must(b, f.Close()) }()
	// Two packages unmeasured, there and back, as the runner's warm-up: the
	// first packages after the spawn are slower.
	for range 2 {
		_, _, err := f.UpdateAll(ctx, nil)
		must(b, err)
	}
	erl := startErlangFleet(b, fleet)
	var passes []harness.ErlangPass
	b.ResetTimer()
	cpu0, _ := harness.ProcessCPU()
	// At least one package each way, as the runner measures, and as many as
	// the Erlang peer's least number of passes when it runs.
	least := 2
	if erl != nil {
		least = harness.ErlangFleetMinPasses
	}
	updated, busy := 0, time.Duration(0)
	for packages := 0; updated < b.N || packages < least; packages++ {
		d, done, err := f.UpdateAll(ctx, nil)
		must(b, err)
		updated += int(done.GetUpdated())
		busy += d
		if erl != nil {
			b.StopTimer()
			cpu, _ := harness.ProcessCPU() // erl's CPU is its own, but the wait is not molt's
			pass, err := erl.Pass()
			must(b, err)
			passes = append(passes, pass)
			if now, ok := harness.ProcessCPU(); ok {
				cpu0 += now - cpu
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	if erl != nil {
		rep, err := erl.Close()
		must(b, err)
		rep.Passes = passes
		b.ReportMetric(rep.UpdatesPerSecond(), "erlang-updates/s")
		b.ReportMetric(float64(updated)/busy.Seconds()/rep.UpdatesPerSecond(), "vs-erlang")
	}
	// Whole packages run, so more actors are updated than b.N: report per
	// actor updated.
	b.ReportMetric(float64(busy)/float64(updated), "ns/op")
	b.ReportMetric(float64(updated)/busy.Seconds(), "updates/s")
	if cpu1, ok := harness.ProcessCPU(); ok {
		b.ReportMetric(float64(cpu1-cpu0)/float64(updated), "cpu-ns/update")
	}
}

// startErlangFleet starts the Erlang peer's fleet of size processes, or
// returns nil, saying why, if erl or erlc is not on PATH.
func startErlangFleet(b *testing.B, size int) *harness.ErlangFleet {
	peer, err := harness.NewErlangPeer(context.Background())
	if errors.Is(err, harness.ErrNoErlang) {
		b.Logf("no Erlang peer: %v", err)
		return nil
	}
	must(b, err)
	b.Cleanup(func() { must(b, peer.Close()) })
	// erl is killed when the context ends: on a failure before Close too.
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	erl, err := peer.StartFleet(ctx, harness.Config{}, size)
	must(b, err)
	return erl
}
