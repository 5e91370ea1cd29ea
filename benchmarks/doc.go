// Package benchmarks measures what live update costs in molt: how long one
// update takes, how that grows with the state, what a molt actor costs over
// a plain protoactor actor when no update runs, and how long a busy actor
// stops delivering messages while it is updated.
//
// The package has no API: everything is in its _test.go files. Run
//
//	go test -run '^$' -bench . ./benchmarks/
//
// and add -count 5 (then compare medians, for example with benchstat) on a
// shared or small machine, where single runs are noisy. Every benchmark also
// runs under the race detector as a smoke test:
//
//	go test -race -run '^$' -bench . -benchtime 10x ./benchmarks/
//
// Each benchmark stops its actors and shuts its actor system down; TestMain
// checks with goleak that no goroutine is left behind.
//
// # Targets
//
// The targets below are for a 2-core machine. They are what the benchmarks
// are read against; no test asserts them.
//
//   - Update latency: p50 ≤ 3 µs, p99 ≤ 10 µs for a small state (Erlang/OTP's
//     sys:suspend, change_code and resume measure p50 3 µs, p99 9 µs on the
//     same machine).
//   - State size: the runtime's own cost does not grow with the state beyond
//     what the chosen isolation needs.
//   - Throughput: molt ≥ 0.95 × protoactor's messages per second on the same
//     workload, and no extra allocation per message.
//   - Pause under load: the longest gap in delivery around an update, p99
//     ≤ 50 µs for a small state.
//
// # BenchmarkUpdateLatency
//
// One actor of a small-state kind ("counter": version 1 holds an int,
// version 2 two int64s, with an up and a down migration) is updated back and
// forth, 1→2, 2→1, with node.Update, the in-process path that waits without
// a protoactor Future. One op is one update; each is timed from the call to
// the result in hand, and must commit (the benchmark fails otherwise).
// Reported: ns/op, "p50-ns" and "p99-ns" of the round trip, allocations per
// update, and "actor-p50-ns" / "actor-p99-ns", the UpdateResult's total_ns:
// the time the six phases took on the actor's goroutine. The round trip
// minus that time is messaging and scheduling: posting the request, waking
// the actor's goroutine, and handing the result back.
//
// BenchmarkUpdateLatencyPure is the same with the migrations declared
// registry.Pure, so no isolating copy of the state is made; the difference
// with BenchmarkUpdateLatency is what the default isolation, a msgpack round
// trip, costs on a small state.
//
// BenchmarkUpdateLatencyRequest sends the same updates with
// RootContext.RequestFuture, the path open to any sender, local or remote;
// the difference with BenchmarkUpdateLatency is the cost of a protoactor
// Future (a process registered and removed per request, and more
// allocations).
//
// # BenchmarkUpdateLatencyState
//
// The same back-and-forth update on a state that carries a []byte of 1KB,
// 1MB or 16MB (kind "blob"; both versions carry the bytes, and the
// migrations hand them over without copying). Reported: ns/op, "p50-ns",
// "p99-ns", and MB/s of state carried through updates. After the run the
// benchmark checks that the bytes came through every migration intact.
//
// Each size runs in two isolation modes:
//
//   - codec: the default. Before the first migration runs, the live state is
//     copied by a round trip through its version's codec (msgpack here), so
//     that an aborted update leaves the old state exactly as it was. The
//     cost is an encode and a decode of the whole state, two allocations of
//     its size, and the garbage collection they bring: it grows linearly
//     with the state, and MB/s is the codec's speed.
//   - pure: the migrations are registered with registry.Pure(), a promise
//     that they never modify their input, so they get the live state and no
//     copy is made. The cost of an update no longer depends on the state's
//     size: this mode shows the runtime's own cost, and its MB/s only says
//     that nothing was copied.
//
// A registry.Clone option is the middle way (a hand-written deep copy,
// usually much faster than a codec round trip); it is not measured here.
//
// # BenchmarkThroughputProtoactor and BenchmarkThroughputMolt
//
// The same ping-pong workload, with no update running: two actors of one
// behaviour bounce a pre-allocated *ping between them, each delivery
// decrementing its count, until b.N messages have been delivered; the end
// is signalled through a channel. BenchmarkThroughputProtoactor runs the
// behaviour as plain protoactor actors (actor.PropsFromProducer, the default
// mailbox, a quiet logger like a molt node's); BenchmarkThroughputMolt runs
// it as a registered molt kind spawned with node.Spawn (molt's mailbox and
// host). One op is one message delivered; reported: "msgs/s", ns/op,
// allocs/op, which is per message, and "cpu-ns/op", the CPU time the whole
// process spent per message (on Unix), which varies less than msgs/s when
// other processes compete for the cores. The ratio of the two msgs/s is the
// throughput target; allocs/op must be the same (zero) for both.
//
// With one message bouncing, every delivery finds the receiver idle, so the
// benchmark mostly measures how fast the dispatcher wakes an actor up, not
// the cost of a mailbox. protoactor's default dispatcher starts a goroutine
// per wake-up, which then grows its stack; a molt node runs its actors on
// warm worker goroutines instead, which is most of the difference here.
// The ...OnProtoactorDispatcher variants run molt actors on protoactor's
// dispatcher, so that the comparison with plain protoactor isolates molt's
// mailbox and host. BenchmarkThroughputProtoactorBatched and
// BenchmarkThroughputMoltBatched run 4 pairs at once, each with 32 messages
// in flight, so that mailboxes rarely run dry and both cores stay busy:
// there the framework's own cost per message shows.
//
// # BenchmarkPauseUnderLoad
//
// A small-state actor (kind "target") receives a steady stream from a
// sender goroutine (as fast as the actor takes it, at most 64 messages
// ahead) while it is updated back and forth b.N times. Both versions report
// each delivery to a shared recorder, captured by their factories and
// migrations so that it survives every migration, which keeps the longest
// gap between two consecutive deliveries. For each update the window opens
// just before the update is sent and closes once two messages have been
// delivered after its result came back; the longest gap in it is the pause
// the update caused as the stream sees it. Reported: "gap-p50-ns",
// "gap-p99-ns" and "gap-max-ns" over the updates, the update round trip
// under load as "p50-ns" and "p99-ns", and "base-gap-p50-ns" and
// "base-gap-p99-ns": the same statistic over control windows, as many
// deliveries long, with no update, which is the gap the stream has anyway
// (scheduling, garbage collection, other processes). The gap an update adds
// is the difference. After the run the benchmark checks that the actor
// counted every message sent: none was lost across the updates.
package benchmarks
