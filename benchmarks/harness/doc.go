// Package harness is molt's benchmark harness: the scenarios that
// `go run ./benchmarks` runs, the fixtures its testing.B benchmarks share
// with them, and the entry point to benchmark the update latency of your
// own kinds with the same method and the same output.
//
// # Your own kinds
//
// Give MeasureUpdateLatency a Target: your catalogue, a kind, and the cycle
// of versions to go around ({1, 2} by default, so you need a migration each
// way; a cycle 1→2→3→1 needs a path back from 3). A Prepare function sends
// the actor the messages that give it the state you want to measure with,
// and a Verify function checks, after the measurement, that the state came
// through. Every update must commit.
//
//	res, err := harness.MeasureUpdateLatency(ctx, harness.Config{Duration: 5 * time.Second}, harness.Target{
//		Catalog: cat, Kind: "inventory",
//		Prepare: func(ctx context.Context, node *molt.Node, pid *actor.PID) error { ... },
//	})
//	harness.WriteTable(os.Stdout, res) // the runner's table
//	harness.WriteJSON(os.Stdout, res)  // the runner's -json
//	harness.Plot("charts", res)        // the latency CDF chart
//
// The result has one Case per target: the round trip's percentiles (p50,
// p90, p99, p99.9, max, from an HDR histogram), the six phases' own time on
// the actor's goroutine, the state transfer phase, and allocations per
// update. For a testing.B benchmark of your own, StartTarget gives the
// Updater that MeasureUpdateLatency drives: call its Update b.N times.
//
// # Method
//
// Each case starts from a collected heap, warms up (Config.Warmup, a tenth
// of the measuring time by default, at least one operation), then measures
// for Config.Duration or Config.Count operations. Latencies go into an HDR
// histogram (Recorder): three significant digits, so every percentile is
// within 0.1 % of the exact nearest-rank value. The rate and memory
// scenarios repeat each measurement (Config.Repetitions), alternating the
// systems they compare so that a slow moment of a shared machine hits them
// alike, and report medians and the median of the per-repetition ratios.
//
// # Scenarios
//
// The built-in scenarios are registered by this package: update-latency,
// state-size, held-messages, pause, throughput and idle-memory (see
// Scenarios, and docs/benchmarks.md). Register adds one: the runner's
// -scenario, -json, table, progress bar and -plot (through
// Scenario.Charts) pick it up with no other change. The update manager's
// scenarios, group-update and fleet-update, are added that way, from the
// init function of scenarios_manager.go, after the built-in ones.
//
// # Peers
//
// update-latency and fleet-update measure two peers beside molt, in the
// same run: Floor, the protoactor floor (a plain protoactor actor that
// swaps a state pointer on a message and answers on a channel), and
// ErlangPeer, Erlang/OTP's sys:suspend, sys:change_code and sys:resume on
// a gen_server (benchmarks/erlang), which runs when erl and erlc are on
// PATH and is skipped with a note otherwise. molt's cases carry their
// ratios to the peers: vs_floor_p50_ratio, vs_erlang_p99_ratio,
// vs_erlang_ratio (rates) and so on, molt over the peer.
// BenchmarkUpdatePeers, in this package's tests, measures the same update
// beside both peers and beside Delivery, molt's own floor (a plain message
// to a molt actor, answered on a channel), and reports the ratios with
// b.ReportMetric.
//
// # Fixtures
//
// Updater, Held, Pause, PingPong, IdleMemory, Fleet, Floor and Delivery
// set up the actors of a scenario and run one operation at a time, so that
// a testing.B loop and a timed loop of the runner measure exactly the same
// thing. Each checks that no message was lost, or that every update
// committed, and stops its actors and its actor system on Close.
package harness
