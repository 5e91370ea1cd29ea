package harness

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Scenario is one benchmark of the runner: `go run ./benchmarks -scenario
// NAME` runs it. The built-in ones are registered by this package; a new
// one (the group-update and fleet scenarios of the update manager, for
// instance) is added with Register from an init function, and the runner,
// its flags, -json, the table and -plot pick it up with no other change.
type Scenario struct {
	// Name selects the scenario: lower case, words joined by hyphens.
	Name string
	// Description says in one sentence what it measures.
	Description string
	// Cases returns how many cases Run measures under cfg, for the progress
	// bar; nil counts one.
	Cases func(cfg Config) int
	// Run measures the scenario. It calls cfg.Progress after each case,
	// and returns a Result whose Scenario, Description, Environment and
	// ElapsedS Measure fills in if left empty.
	Run func(ctx context.Context, cfg Config) (*Result, error)
	// Charts, if set, draws the scenario's charts from its Result, for
	// -plot.
	Charts func(r *Result) ([]Chart, error)
}

var scenarios struct {
	sync.Mutex
	list []Scenario
}

// Register adds a scenario after the ones registered so far. It returns an
// error for a scenario without a name or a Run, and for a name taken.
func Register(s Scenario) error {
	if s.Name == "" || s.Run == nil {
		return fmt.Errorf("harness: a scenario needs a Name and a Run (got name %q)", s.Name)
	}
	scenarios.Lock()
	defer scenarios.Unlock()
	for _, o := range scenarios.list {
		if o.Name == s.Name {
			return fmt.Errorf("harness: scenario %q is already registered", s.Name)
		}
	}
	scenarios.list = append(scenarios.list, s)
	return nil
}

// Scenarios returns the registered scenarios, in registration order.
func Scenarios() []Scenario {
	scenarios.Lock()
	defer scenarios.Unlock()
	return slices.Clone(scenarios.list)
}

// Lookup returns the scenario registered under name.
func Lookup(name string) (Scenario, bool) {
	for _, s := range Scenarios() {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// CaseCount returns how many cases s measures under cfg.
func (s Scenario) CaseCount(cfg Config) int {
	if s.Cases == nil {
		return 1
	}
	return s.Cases(cfg)
}

// Measure runs s under cfg and completes its Result: scenario name,
// description, environment, parameters and elapsed time.
func (s Scenario) Measure(ctx context.Context, cfg Config) (*Result, error) {
	start := time.Now()
	res, err := s.Run(ctx, cfg)
	if res == nil {
		res = &Result{}
	}
	if res.Scenario == "" {
		res.Scenario = s.Name
	}
	if res.Description == "" {
		res.Description = s.Description
	}
	if res.Environment == nil {
		res.Environment = CurrentEnvironment()
	}
	if res.Parameters == nil {
		res.Parameters = cfg.params()
	}
	res.ElapsedS = seconds(time.Since(start))
	if err != nil {
		return res, fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	return res, nil
}

func init() {
	for _, s := range []Scenario{
		{
			Name:        "update-latency",
			Description: "Round trip of one update of a small-state actor, request to result in hand, back and forth between two versions, beside the protoactor floor and Erlang/OTP's sys:suspend, change_code and resume.",
			Cases:       func(Config) int { return len(Isolations) + 1 + 2 }, // the peers: protoactor-floor, erlang
			Run:         runUpdateLatency,
			Charts:      updateLatencyCharts,
		},
		{
			Name:        "state-size",
			Description: "Update round trip against the size of the state, under each isolation of the migration's input.",
			Cases:       func(cfg Config) int { return len(cfg.stateSizes()) * len(Isolations) },
			Run:         runStateSize,
			Charts:      stateSizeCharts,
		},
		{
			Name:        "held-messages",
			Description: "Update latency against the number of user messages queued behind it when it starts.",
			Cases:       func(cfg Config) int { return len(cfg.heldCounts()) * len(HeldModes) },
			Run:         runHeldMessages,
			Charts:      heldMessagesCharts,
		},
		{
			Name:        "pause",
			Description: "Longest delivery gap a steady stream of messages sees around an update, against the gaps it has anyway.",
			Cases:       func(Config) int { return 1 },
			Run:         runPause,
			Charts:      pauseCharts,
		},
		{
			Name:        "throughput",
			Description: "Messages per second and allocations per message with no update running, molt against plain protoactor-go in the same process.",
			Cases:       func(Config) int { return len(workloads) * len(Systems) },
			Run:         runThroughput,
		},
		{
			Name:        "idle-memory",
			Description: "Heap per idle actor, molt against plain protoactor-go.",
			Cases:       func(Config) int { return 2 },
			Run:         runIdleMemory,
		},
	} {
		if err := Register(s); err != nil {
			panic(err)
		}
	}
}

func runUpdateLatency(ctx context.Context, cfg Config) (res *Result, err error) {
	res = &Result{Parameters: cfg.params()}
	var targets []Target
	for _, iso := range Isolations {
		t, err := CounterTarget(iso)
		if err != nil {
			return res, err
		}
		targets = append(targets, t)
	}
	t, err := CounterTarget(IsolateCodec)
	if err != nil {
		return res, err
	}
	t.Name, t.Request = t.Name+"/request", true
	targets = append(targets, t)

	var runs []*targetRun
	for _, t := range targets {
		runs = append(runs, newTargetRun(t))
	}
	floor := &floorRun{rtt: NewRecorder()}
	peer, err := NewErlangPeer(ctx)
	skipped, noErlang := erlangSkipped(err)
	if err != nil && !noErlang {
		return res, err
	}
	if peer != nil {
		defer func() { err = errors.Join(err, peer.Close()) }()
	}

	// Every system is measured in turn, a round each, so that a slow moment
	// of the shared machine hits them all, and not one case alone.
	rounds, per := cfg.latencyRounds()
	res.Parameters["rounds"] = rounds
	erlRTT := NewRecorder()
	var erlRep *ErlangReport
	for range rounds {
		for _, r := range runs {
			if err := r.round(ctx, per, 1); err != nil {
				return res, err
			}
		}
		if err := floor.round(ctx, per); err != nil {
			return res, err
		}
		if peer == nil {
			continue
		}
		if erlRep, err = peer.Latency(ctx, per); err != nil {
			return res, err
		}
		for _, ns := range erlRep.Latencies {
			erlRTT.RecordNs(ns)
		}
	}

	for _, r := range runs {
		res.Cases = append(res.Cases, r.result())
		cfg.progress("update-latency", r.t.name())
	}
	molt := slices.Clone(res.Cases)
	fc := floor.result()
	res.Cases = append(res.Cases, fc)
	cfg.progress("update-latency", fc.Name)
	var erl *Case
	if erlRep != nil {
		erl = &Case{Name: "erlang", Parameters: Params{"system": "erlang", "otp_release": erlRep.OTP, "schedulers": erlRep.Schedulers}}
		erl.SetLatency(erlRTT)
		res.Cases = append(res.Cases, erl)
	}
	cfg.progress("update-latency", "erlang")
	for _, c := range molt {
		addLatencyRatios(c, "floor", fc)
		if erl != nil {
			addLatencyRatios(c, "erlang", erl)
		}
	}
	res.Notes = []string{
		"latency: from the call (node.Update, or RequestFuture for /request) to the result in hand; actor: the six phases on the actor's goroutine (the result's total_ns).",
		"codec copies the state by a msgpack round trip before migrating, clone with a registry.Clone, pure (registry.Pure migrations) not at all.",
		"protoactor-floor: a plain protoactor actor that swaps a state pointer on a message and answers on a channel, from the send to the answer in hand: the least any update round trip on protoactor can cost. erlang: a gen_server updated by sys:suspend, sys:change_code and sys:resume from another process, one sample per update (an erl started by the runner, with as many schedulers as GOMAXPROCS).",
		fmt.Sprintf("the cases and the peers are measured in turn, in %d rounds of 1/%d of the measuring time each, so that a slow moment of the machine hits them all; the percentiles are over every round. vs floor, vs erlang: molt's p50 and p99 over the peer's (below 1: molt is faster).", rounds, rounds),
	}
	if noErlang {
		res.Notes = append(res.Notes, skipped)
	}
	return res, nil
}

// latencyRounds returns how many rounds update-latency measures each of
// its systems in, and the budget of one round: the repetitions, each the
// whole warm-up and a share of the duration; one round of exactly Count
// updates if Count is set.
func (c Config) latencyRounds() (int, Config) {
	if c.Count > 0 {
		return 1, c
	}
	n := c.repetitions()
	per := c
	// The whole warm-up in every round: each starts its system afresh.
	per.Warmup = c.warmup()
	per.Duration = max(c.duration()/time.Duration(n), time.Nanosecond)
	return n, per
}

// addLatencyRatios adds to c its p50 and p99 over peer's, as
// vs_<name>_p50_ratio and vs_<name>_p99_ratio.
func addLatencyRatios(c *Case, name string, peer *Case) {
	if c.Latency == nil || peer.Latency == nil || peer.Latency.P50Ns <= 0 || peer.Latency.P99Ns <= 0 {
		return
	}
	c.Add("vs_"+name+"_p50_ratio", float64(c.Latency.P50Ns)/float64(peer.Latency.P50Ns))
	c.Add("vs_"+name+"_p99_ratio", float64(c.Latency.P99Ns)/float64(peer.Latency.P99Ns))
}

// floorRun is what the protoactor floor's round trips measured so far,
// over one round or several, as targetRun is for a molt actor.
type floorRun struct {
	rtt            *Recorder
	ops            int
	mallocs, bytes uint64
}

// round starts a Floor, warms it up, measures it for cfg's budget, at
// least once, adding to what the run measured, and closes it.
func (r *floorRun) round(ctx context.Context, cfg Config) (err error) {
	f := NewFloor()
	defer func() { err = errors.Join(err, f.Close()) }()
	runtime.GC()
	if err := cfg.warm(ctx, func() error { _, err := f.Update(ctx); return err }); err != nil {
		return err
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	n, _, err := cfg.measure(ctx, 1, func() error {
		d, err := f.Update(ctx)
		if err != nil {
			return err
		}
		r.rtt.Record(d)
		return nil
	})
	runtime.ReadMemStats(&m1)
	r.ops += n
	r.mallocs += m1.Mallocs - m0.Mallocs
	r.bytes += m1.TotalAlloc - m0.TotalAlloc
	return err
}

// result returns the floor's case.
func (r *floorRun) result() *Case {
	c := &Case{Name: "protoactor-floor", Parameters: Params{"system": string(Protoactor)}}
	c.SetLatency(r.rtt)
	ops := float64(max(r.ops, 1))
	c.Add("allocs_per_update", float64(r.mallocs)/ops)
	c.Add("bytes_per_update", float64(r.bytes)/ops)
	return c
}

// erlangSkipped returns the note the scenarios leave when the Erlang peer
// cannot run for want of erl or erlc, and whether err says so.
func erlangSkipped(err error) (string, bool) {
	if errors.Is(err, ErrNoErlang) {
		return "erlang: skipped, " + err.Error(), true
	}
	return "", false
}

func runStateSize(ctx context.Context, cfg Config) (*Result, error) {
	res := &Result{Parameters: cfg.params()}
	res.Parameters["state_bytes"] = cfg.stateSizes()
	for _, size := range cfg.stateSizes() {
		for _, iso := range Isolations {
			t, err := BlobTarget(size, iso)
			if err != nil {
				return res, err
			}
			c, err := measureTarget(ctx, cfg, t, 3)
			if err != nil {
				return res, err
			}
			if iso != IsolatePure {
				if tr, ok := c.Figure("transfer_p50_ns"); ok && tr > 0 {
					c.Add("copy_bytes_per_s", float64(size)/(tr/1e9))
				}
			}
			res.Cases = append(res.Cases, c)
			cfg.progress("state-size", c.Name)
		}
	}
	res.Notes = []string{
		"the migrations hand the bytes over without copying: what grows with the state is the isolating copy (codec: encode and decode; clone: one copy) in the state transfer phase.",
		"copy bytes per s: state size over the median state transfer phase.",
	}
	return res, nil
}

func runHeldMessages(ctx context.Context, cfg Config) (res *Result, err error) {
	res = &Result{Parameters: cfg.params()}
	res.Parameters["queued"] = cfg.heldCounts()
	for _, mode := range HeldModes {
		for _, n := range cfg.heldCounts() {
			c, err := measureHeld(ctx, cfg, mode, n)
			if err != nil {
				return res, err
			}
			res.Cases = append(res.Cases, c)
			cfg.progress("held-messages", c.Name)
		}
	}
	res.Notes = []string{
		"latency: from letting the actor go, with the messages and the update queued, to the result in hand (through a Future); actor: the six phases (total_ns).",
		"overtake: no hooks, the update runs first and the queue waits; park: the actor is not stable until a message queued behind the others, so the update parks them all (held) and releases them after.",
	}
	return res, nil
}

func measureHeld(ctx context.Context, cfg Config, mode HeldMode, n int) (c *Case, err error) {
	h, err := NewHeld(mode)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, h.Close()) }()
	if err := cfg.warm(ctx, func() error { _, _, err := h.Update(ctx, n); return err }); err != nil {
		return nil, err
	}
	rtt, inside, prep := NewRecorder(), NewRecorder(), NewRecorder()
	var held uint32
	if _, _, err := cfg.measure(ctx, 3, func() error {
		d, res, err := h.Update(ctx, n)
		if err != nil {
			return err
		}
		rtt.Record(d)
		inside.RecordNs(res.GetTotalNs())
		prep.RecordNs(res.GetPreparationNs())
		held = max(held, res.GetHeldMessages())
		return nil
	}); err != nil {
		return nil, err
	}
	c = &Case{Name: fmt.Sprintf("%s/%d", mode, n), Parameters: Params{"mode": string(mode), "queued": n}}
	c.SetLatency(rtt)
	c.Add("actor_p50_ns", float64(inside.Quantile(0.50)))
	c.Add("actor_p99_ns", float64(inside.Quantile(0.99)))
	c.Add("preparation_p50_ns", float64(prep.Quantile(0.50)))
	c.Add("held", float64(held))
	return c, nil
}

func runPause(ctx context.Context, cfg Config) (res *Result, err error) {
	res = &Result{Parameters: cfg.params()}
	res.Parameters["stream_window"] = StreamWindow
	p, err := NewPause(ctx)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, p.Close(ctx)) }()
	if err := cfg.warm(ctx, func() error { _, _, _, err := p.Update(ctx); return err }); err != nil {
		return res, err
	}
	gaps, base, rtts := NewRecorder(), NewRecorder(), NewRecorder()
	before := p.Streamed()
	n, elapsed, err := cfg.measure(ctx, 10, func() error {
		gap, b, rtt, err := p.Update(ctx)
		if err != nil {
			return err
		}
		gaps.Record(gap)
		base.Record(b)
		rtts.Record(rtt)
		return nil
	})
	if err != nil {
		return res, err
	}
	with := &Case{Name: "gap/update", Parameters: Params{"updates": n}}
	with.SetLatency(gaps)
	with.Add("stream_msgs_per_s", float64(p.Streamed()-before)/elapsed.Seconds())
	without := &Case{Name: "gap/no-update"}
	without.SetLatency(base)
	rt := &Case{Name: "round-trip"}
	rt.SetLatency(rtts)
	res.Cases = []*Case{with, without, rt}
	cfg.progress("pause", "gap")
	res.Notes = []string{
		"gap/update: per update, the longest gap between two deliveries from just before it is sent until two messages after its result; gap/no-update: the same over as many deliveries right after, with no update (the noise floor); round-trip: the update's own, under the stream.",
		"every message streamed was counted by the actor at the end: none lost.",
	}
	return res, nil
}

// workloads are the throughput scenario's ping-pong shapes: pairs of
// actors, messages in flight per pair.
var workloads = []struct {
	name            string
	pairs, inFlight int
}{
	{"1x1", 1, 1},   // one message bouncing: every delivery wakes an idle actor
	{"4x32", 4, 32}, // mailboxes rarely empty, both cores busy
}

func runThroughput(ctx context.Context, cfg Config) (res *Result, err error) {
	res = &Result{Parameters: cfg.params()}
	for _, w := range workloads {
		cases, err := measureWorkload(ctx, cfg, w.name, w.pairs, w.inFlight)
		res.Cases = append(res.Cases, cases...)
		if err != nil {
			return res, err
		}
	}
	res.Notes = []string{
		"NxM: N pairs of actors bouncing M messages each; msgs per s is the median over the repetitions, which alternate the systems; vs protoactor is the median of the per-repetition ratios, min vs protoactor the lowest of them.",
		"molt-pa-dispatcher runs molt's mailbox and host on protoactor's dispatcher: its ratio isolates them from molt's worker pool.",
		"allocs and bytes per msg count the whole process's heap allocations during a run.",
	}
	return res, nil
}

func measureWorkload(ctx context.Context, cfg Config, name string, pairs, inFlight int) (cases []*Case, err error) {
	fixtures := make([]*PingPong, len(Systems))
	defer func() {
		for _, f := range fixtures {
			if f != nil {
				err = errors.Join(err, f.Close())
			}
		}
	}()
	for i, sys := range Systems {
		if fixtures[i], err = NewPingPong(sys, pairs, inFlight); err != nil {
			return nil, err
		}
	}

	// Warm up, and size each run from the rate seen: the repetitions
	// together last about cfg.Duration per system.
	reps := cfg.repetitions()
	sizes := make([]int, len(Systems))
	for i, f := range fixtures {
		var msgs int
		var spent time.Duration
		if err := cfg.warm(ctx, func() error {
			r, err := f.Run(ctx, 10_000, nil)
			msgs, spent = msgs+r.Messages, spent+r.Elapsed
			return err
		}); err != nil {
			return nil, err
		}
		sizes[i] = cfg.Count
		if sizes[i] <= 0 {
			rate := float64(msgs) / spent.Seconds()
			sizes[i] = max(1000, int(rate*cfg.duration().Seconds()/float64(reps)))
		}
	}

	runs := make([][]Run, len(Systems))
	for range reps {
		for i, f := range fixtures {
			r, err := f.Run(ctx, sizes[i], nil)
			if err != nil {
				return nil, fmt.Errorf("%s on %s: %w", name, Systems[i], err)
			}
			runs[i] = append(runs[i], r)
		}
	}

	for i, sys := range Systems {
		var rates, cpu, allocs, bytes, ratios []float64
		cpuOK := true
		for j, r := range runs[i] {
			rates = append(rates, r.MsgsPerSecond())
			cpu = append(cpu, float64(r.CPU)/float64(r.Messages))
			cpuOK = cpuOK && r.CPUOK
			allocs = append(allocs, float64(r.Mallocs)/float64(r.Messages))
			bytes = append(bytes, float64(r.Bytes)/float64(r.Messages))
			ratios = append(ratios, r.MsgsPerSecond()/runs[0][j].MsgsPerSecond())
		}
		c := &Case{Name: name + "/" + string(sys), Parameters: Params{
			"system": string(sys), "pairs": pairs, "in_flight": inFlight, "messages_per_run": sizes[i], "runs": reps,
		}}
		c.Add("msgs_per_s", median(rates))
		c.Add("min_msgs_per_s", slices.Min(rates))
		c.Add("max_msgs_per_s", slices.Max(rates))
		if sys != Protoactor {
			c.Add("vs_protoactor_ratio", median(ratios))
			// The target is on every repetition, not only the median.
			c.Add("min_vs_protoactor_ratio", slices.Min(ratios))
		}
		if cpuOK {
			c.Add("cpu_ns_per_msg", median(cpu))
		}
		c.Add("allocs_per_msg", median(allocs))
		c.Add("bytes_per_msg", median(bytes))
		cases = append(cases, c)
		cfg.progress("throughput", c.Name)
	}
	return cases, nil
}

func runIdleMemory(ctx context.Context, cfg Config) (*Result, error) {
	res := &Result{Parameters: cfg.params()}
	n, reps := cfg.idleActors(), cfg.repetitions()
	res.Parameters["actors"] = n
	systems := []System{Protoactor, Molt}
	per := make([][]float64, len(systems))
	goroutines := make([][]float64, len(systems))
	for range reps {
		for i, sys := range systems {
			idle, err := IdleMemory(ctx, sys, n)
			if err != nil {
				return res, fmt.Errorf("%s: %w", sys, err)
			}
			per[i] = append(per[i], idle.BytesPerActor())
			goroutines[i] = append(goroutines[i], float64(idle.Goroutines)/float64(n))
		}
	}
	for i, sys := range systems {
		c := &Case{Name: string(sys), Parameters: Params{"system": string(sys), "actors": n, "runs": reps}}
		c.Add("bytes_per_actor", median(per[i]))
		c.Add("min_bytes_per_actor", slices.Min(per[i]))
		c.Add("max_bytes_per_actor", slices.Max(per[i]))
		if i > 0 {
			ratios := make([]float64, reps)
			for j := range ratios {
				ratios[j] = per[i][j] / per[0][j]
			}
			c.Add("vs_protoactor_ratio", median(ratios))
		}
		c.Add("goroutines_per_actor", median(goroutines[i]))
		res.Cases = append(res.Cases, c)
		cfg.progress("idle-memory", c.Name)
	}
	res.Notes = []string{
		"bytes per actor: growth of the live heap (HeapAlloc after GC) over the actors spawned, each having handled one message; median of the runs, which alternate the systems.",
	}
	return res, nil
}

// median returns the median of vs, the mean of the middle two for an even
// count; 0 for none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
