// Command benchmarks measures what live update costs in molt: how long one
// update takes, how that grows with the state and with the messages queued
// behind it, how long a busy actor stops delivering while it is updated,
// how long an all-or-nothing group takes and how many actors a fleet
// update gets through per second with the update manager, and what a molt
// actor costs over a plain protoactor actor, in time and in memory, when no
// update runs.
//
// It has two front ends over the same code, the scenarios and fixtures of
// package harness (benchmarks/harness):
//
//   - the runner, this command:
//
//     go run ./benchmarks -quick        # every scenario, small: under 2 minutes on 2 cores
//     go run ./benchmarks               # the full parameter sets, about 2½ minutes and 5 GB of memory
//     go run ./benchmarks -list         # the scenarios
//     go run ./benchmarks -scenario update-latency,pause -duration 5s
//     go run ./benchmarks -scenario group-update,fleet-update -groups 2,16 -fleets 1000,100000
//     go run ./benchmarks -quick -json > run.json   # one JSON object per scenario
//     go run ./benchmarks -plot docs/charts         # SVG and PNG charts
//
//     It prints a table at the end (to stderr with -json, whose array goes
//     to stdout) and shows a progress bar while it runs if stderr is a
//     terminal. -h lists every flag.
//
//   - the testing.B benchmarks in the _test.go files:
//
//     go test -run '^$' -bench . -count 5 ./benchmarks/
//
//     and compare medians (for example with benchstat) on a shared or small
//     machine, where single runs are noisy. Every benchmark also runs
//     under the race detector as a smoke test:
//
//     go test -race -run '^$' -bench . -benchtime 10x ./benchmarks/
//
// docs/benchmarks.md has the method, the figures of a run and how to read
// them. To benchmark your own kinds with the same harness and output, see
// harness.MeasureUpdateLatency. Each scenario and benchmark stops its
// actors and shuts its actor system down; TestMain checks with goleak that
// no goroutine is left behind.
//
// # Scenarios of the runner
//
//   - update-latency: one small-state actor updated back and forth between
//     versions 1 and 2, under each isolation (codec, clone, pure), with
//     node.Update, and with RequestFuture (counter/codec/request). Latency
//     percentiles (p50 … max) of the round trip from an HDR histogram, and
//     the six phases' own time on the actor's goroutine. Beside them, in the
//     same run, two peers (see Peers below): protoactor-floor and erlang,
//     and on each molt case its p50 and p99 over theirs ("vs floor p50",
//     "vs erlang p99"; in the JSON vs_floor_p50_ratio and so on). The
//     cases and the peers are measured in turn, in rounds (-reps, 5 by
//     default) of a share of -duration each, so that a slow moment of the
//     machine hits them all.
//   - state-size: the same on a state of 1KB … 64MB, per isolation.
//   - held-messages: an update sent while 0 … 100,000 user messages are
//     queued behind it; "overtake" (no hooks: the update goes first, the
//     queue waits) and "park" (the actor is not stable until a message
//     queued behind the others: the update parks them all).
//   - pause: the longest delivery gap a steady stream sees around each
//     update, against the same statistic without an update.
//   - throughput: ping-pong messages per second, allocations and CPU per
//     message, plain protoactor-go against molt and molt on protoactor's
//     dispatcher, in the same process, as a ratio.
//   - idle-memory: live heap per idle actor, molt against protoactor-go.
//   - group-update: an all-or-nothing group of 2, 16 and 256 actors (-groups)
//     updated back and forth through the update manager: manager.Run of a
//     package with one group of every actor, from the call to the
//     package's end in hand. Latency percentiles, and the part of it spent
//     planning, staging and committing.
//   - fleet-update: a fleet of 1,000 … 1,000,000 actors (-fleets; up to
//     100,000 with -quick) updated back and forth by one all-at-once
//     package (targets: all, maxInFlight 1,024) per direction: actors
//     updated per second over the packages' total time, and over their
//     runs alone, without the planning. The fleet is spawned once per
//     size, and the node shut down after. Beside each size up to 100,000,
//     Erlang's fleet of the same size (fleet/N/erlang), one of its passes
//     after each of molt's packages, and on molt's case its rate over
//     Erlang's ("vs erlang", vs_erlang_ratio); with Erlang, at least six
//     packages per size.
//
// # Peers
//
// The update-latency and fleet-update scenarios measure, in the same run
// and on the same machine, what molt is read against:
//
//   - protoactor-floor: a plain protoactor-go actor that, on a message,
//     swaps its state pointer for the one the message carries and answers
//     on a channel, timed from the send to the answer in hand: the least
//     any update round trip on protoactor can cost (harness.Floor).
//   - erlang: Erlang/OTP, when erl and erlc are on PATH (Debian's
//     erlang-base): benchmarks/erlang/molt_peer.erl, a gen_server whose
//     code_change/3 turns its state from version 1's shape to version 2's
//     and back, updated as release_handler updates a process: sys:suspend,
//     sys:change_code, sys:resume, from another process. One process
//     updated back and forth for the round trip, each update timed; a fleet
//     of the scenario's size updated by one coordinator, one process after
//     the other, for the rate, one pass of the whole fleet at a time on the
//     runner's command, alternated with molt's packages so that a slow
//     moment of the shared machine hits both. The runner compiles the module with erlc
//     into a temporary directory and runs it with erl -noshell, with as
//     many schedulers as GOMAXPROCS, bounded by a timeout after which erl
//     is killed, and reads the records it prints (harness.ErlangPeer,
//     harness.ParseErlangOutput). Without erl the runner says so in a note
//     ("erlang: skipped, erl not on PATH (apt-get install erlang-base)")
//     and measures the rest.
//
// Every ratio is molt over the peer, from the same run: for latencies,
// below 1 is molt faster; for rates, above 1.
//
// group-update and fleet-update are registered by package harness through
// harness.Register, as a scenario of your own would be: the runner has no
// code of its own for them beyond their flags.
//
// # Targets
//
// The targets below are for a 2-core machine. They are what the figures
// are read against; no test asserts them.
//
//   - Update latency: p50 ≤ 3 µs, p99 ≤ 10 µs for a small state, below
//     Erlang/OTP's sys:suspend, change_code and resume (the erlang row of
//     the same run), and a p99 at most the protoactor floor's.
//   - State size: the runtime's own cost does not grow with the state beyond
//     what the chosen isolation needs.
//   - Throughput: molt ≥ 0.95 × protoactor's messages per second on the same
//     workload, and no extra allocation per message.
//   - Pause under load: the longest gap in delivery around an update, p99
//     ≤ 50 µs for a small state.
//   - Group update: an all-or-nothing group of 16 actors in 100 µs or less
//     (p50, manager.Run to the package's end).
//   - Fleet update: 250,000 updates per second or more for a fleet of
//     100,000 actors, and at least twice Erlang's rate from the same run.
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
// Each size runs in three isolation modes:
//
//   - codec: the default. Before the first migration runs, the live state is
//     copied by a round trip through its version's codec (msgpack here), so
//     that an aborted update leaves the old state exactly as it was. The
//     cost is an encode and a decode of the whole state, two allocations of
//     its size, and the garbage collection they bring: it grows linearly
//     with the state, and MB/s is the codec's speed.
//   - clone: each version has a registry.Clone, a hand-written deep copy
//     (here one copy of the bytes): one allocation of the state's size.
//   - pure: the migrations are registered with registry.Pure(), a promise
//     that they never modify their input, so they get the live state and no
//     copy is made. The cost of an update no longer depends on the state's
//     size: this mode shows the runtime's own cost, and its MB/s only says
//     that nothing was copied.
//
// # BenchmarkUpdateLatencyHeld
//
// An update sent while 0, 1,000 or 100,000 user messages are queued in the
// actor's mailbox: the actor is blocked inside Receive, the messages and
// then the update are posted, and the actor is let go. "overtake/N": the
// actor ("counter") has no hooks, so the update runs first, on the control
// lane, and the queue waits untouched. "park/N": the actor ("job") is not
// stable until a message queued behind the N others arrives, which it
// admits; the mailbox parks the N messages to reach it, the update commits,
// and the N are released in order (the result's held_messages is N). ns/op,
// "p50-ns" and "p99-ns" are from letting the actor go to the result in hand
// (through a Future, since the request must be queued before the actor is
// let go); "actor-" is the six phases. Queueing and draining the messages
// are not timed; the actor must count every message.
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
// BenchmarkThroughputVsProtoactor/1x1 and /4x32 run plain protoactor and
// molt in turn, one repetition of each per op (100,000 and 1,000,000
// messages), and report molt's rate over protoactor's: "vs-protoactor",
// the median of the per-op ratios, "min-vs-protoactor", the lowest, and
// both rates. Run it with -benchtime 5x or more.
//
// # BenchmarkIdleMemory
//
// Spawns 20,000 idle actors on plain protoactor and as many on molt, in
// turn, once per op, each having handled one message, and measures the
// growth of the live heap after a GC. Reported: "protoactor-B/actor",
// "molt-B/actor" and "vs-protoactor", the medians over the ops.
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
// (scheduling, garbage collection, other processes), and
// "vs-base-gap-p99", the update's gap p99 over that one. The gap an update
// adds is the difference. After the run the benchmark checks that the actor
// counted every message sent: none was lost across the updates.
//
// # BenchmarkGroupUpdate and BenchmarkFleetUpdate
//
// The update manager's benchmarks, on harness.Fleet, the fixture of the
// group-update and fleet-update scenarios: a node, its update manager
// (manager.Spawn), and actors of a small-state kind ("member": version 1
// holds an int, version 2 two int64s) updated back and forth by update
// packages run with manager.Run, with no event listener. Every package must
// complete with every actor updated.
//
// BenchmarkGroupUpdate/N updates an all-or-nothing group of N actors (2, 16,
// 256): one package naming them all, with one group of them all, so that
// the manager stages every member and commits them only once all have
// staged. One op is one group update, from the call to manager.Run to the
// package's end in hand; reported: ns/op, "p50-ns" and "p99-ns", and
// "cpu-ns/op", the process's CPU time per group update.
//
// BenchmarkFleetUpdate updates a fleet of 100,000 actors with one
// all-at-once package per direction (targets: all, maxInFlight 1,024),
// after two unmeasured packages, there and back (the first packages after
// the spawn are slower), and measures at least one package each way. One
// op is one actor updated; whole packages run, so ns/op is the packages'
// time per actor updated, "updates/s" its inverse, and "cpu-ns/update" the
// process's CPU time per actor updated. With erl and erlc on PATH, the
// Erlang peer's fleet of as many gen_servers runs one pass after each molt
// package, outside the timer (at least six packages then): reported,
// "erlang-updates/s" and "vs-erlang", molt's rate over Erlang's.
package main
