package harness

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Target is a kind to measure updates of: yours or a built-in one. The
// harness spawns one actor of Kind at Versions[0] on a node of its own and
// updates it around the cycle of Versions, Versions[0]→Versions[1]→…→
// Versions[0], for as long as the case runs, so the catalogue needs a
// migration path for every step, the last one back to the start included.
// Every update must commit: a rejected or aborted update fails the case.
type Target struct {
	// Name labels the target's case; Kind if empty.
	Name string
	// Catalog holds the kind, its versions and its migrations.
	Catalog *registry.Catalog
	// Kind is the kind to spawn.
	Kind string
	// Versions is the cycle of versions the actor goes through, at least
	// two; {1, 2} if nil.
	Versions []uint32
	// Deadline is each update's deadline; the request leaves it unset (molt
	// then applies update.DefaultDeadline) if zero.
	Deadline time.Duration
	// Request sends the updates with RootContext.RequestFuture, the path
	// any sender has, instead of Node.Update, the in-process one.
	Request bool
	// Prepare, if set, runs once after the actor is spawned and before the
	// warm-up: send it the messages that give it the state to measure with.
	Prepare func(ctx context.Context, node *molt.Node, pid *actor.PID) error
	// Verify, if set, runs after the measurement, before the actor stops:
	// check that the state came through the updates as it should.
	Verify func(ctx context.Context, node *molt.Node, pid *actor.PID) error
	// NodeOptions and SpawnOptions configure the node and the spawn.
	NodeOptions  []molt.Option
	SpawnOptions []molt.SpawnOption
	// Parameters are reported with the target's case.
	Parameters Params
}

func (t Target) name() string {
	if t.Name != "" {
		return t.Name
	}
	return t.Kind
}

func (t Target) versions() []uint32 {
	if t.Versions == nil {
		return []uint32{1, 2}
	}
	return t.Versions
}

// Updater is one live actor of a Target, updated one step of its cycle at
// a time. StartTarget makes one; MeasureUpdateLatency uses it, and so can a
// testing.B benchmark of your own.
type Updater struct {
	target Target
	node   *molt.Node
	pid    *actor.PID
	reqs   []*update.UpdateActor
	wait   time.Duration // how long a Request waits for the result
	next   int
}

// StartTarget validates t, starts a node, spawns the actor at t's first
// version and runs t.Prepare. Close the Updater when done.
func StartTarget(ctx context.Context, t Target) (*Updater, error) {
	versions := t.versions()
	switch {
	case t.Catalog == nil:
		return nil, fmt.Errorf("harness: target %q has no Catalog", t.name())
	case t.Kind == "":
		return nil, fmt.Errorf("harness: target %q has no Kind", t.name())
	case len(versions) < 2:
		return nil, fmt.Errorf("harness: target %q needs at least two versions to cycle through, has %v", t.name(), versions)
	case t.Deadline != 0 && (t.Deadline < update.MinDeadline || t.Deadline > update.MaxDeadline):
		return nil, fmt.Errorf("harness: target %q: deadline %v is out of range: give one from %v to %v, or 0 for the default", t.name(), t.Deadline, update.MinDeadline, update.MaxDeadline)
	}
	for i, from := range versions {
		to := versions[(i+1)%len(versions)]
		if _, err := t.Catalog.Plan(t.Kind, from, to); err != nil {
			return nil, fmt.Errorf("harness: target %q cannot update %d→%d: %w", t.name(), from, to, err)
		}
	}

	var d *durationpb.Duration
	wait := update.DefaultDeadline
	if t.Deadline > 0 {
		d, wait = durationpb.New(t.Deadline), t.Deadline
	}
	u := &Updater{target: t, wait: 2*wait + time.Second}
	for i := range versions {
		u.reqs = append(u.reqs, &update.UpdateActor{ToVersion: versions[(i+1)%len(versions)], Deadline: d})
	}
	u.node = molt.NewNode(t.Catalog, t.NodeOptions...)
	pid, err := u.node.Spawn(t.Kind, versions[0], t.SpawnOptions...)
	if err != nil {
		u.node.Shutdown()
		return nil, fmt.Errorf("harness: target %q: %w", t.name(), err)
	}
	u.pid = pid
	if t.Prepare != nil {
		if err := t.Prepare(ctx, u.node, pid); err != nil {
			return nil, errors.Join(fmt.Errorf("harness: preparing target %q: %w", t.name(), err), u.Close())
		}
	}
	return u, nil
}

// Node returns the node the actor runs on.
func (u *Updater) Node() *molt.Node { return u.node }

// PID returns the actor's PID.
func (u *Updater) PID() *actor.PID { return u.pid }

// Update moves the actor one step along its cycle and returns the round
// trip, from the request to the result in hand, and the result. It returns
// an error, and no step is taken, unless the update committed.
func (u *Updater) Update(ctx context.Context) (time.Duration, *update.UpdateResult, error) {
	req := u.reqs[u.next]
	var res *update.UpdateResult
	var err error
	start := time.Now()
	if u.target.Request {
		var reply any
		reply, err = u.node.Root().RequestFuture(u.pid, req, u.wait).Result()
		if err == nil {
			var ok bool
			if res, ok = reply.(*update.UpdateResult); !ok {
				err = fmt.Errorf("got a %T back, want *update.UpdateResult", reply)
			}
		}
	} else {
		res, err = u.node.Update(ctx, u.pid, req)
	}
	rtt := time.Since(start)
	if err != nil {
		return rtt, nil, fmt.Errorf("%s: update to version %d: %w", u.target.name(), req.GetToVersion(), err)
	}
	if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		return rtt, res, fmt.Errorf("%s: update %d→%d did not commit: %v in %v: %s", u.target.name(), res.GetFromVersion(), res.GetToVersion(), res.GetOutcome(), res.GetPhase(), res.GetReason())
	}
	u.next = (u.next + 1) % len(u.reqs)
	return rtt, res, nil
}

// Verify runs the target's Verify, if it has one.
func (u *Updater) Verify(ctx context.Context) error {
	if u.target.Verify == nil {
		return nil
	}
	if err := u.target.Verify(ctx, u.node, u.pid); err != nil {
		return fmt.Errorf("harness: verifying target %q: %w", u.target.name(), err)
	}
	return nil
}

// Close stops the actor and shuts the node down.
func (u *Updater) Close() error {
	err := stop(u.node.Root(), u.pid)
	u.node.Shutdown()
	return err
}

// MeasureUpdateLatency measures the update latency of each target, one
// after the other, with the same method and output as the built-in
// update-latency scenario: for each target it starts an Updater, warms up,
// then updates it for cfg's duration or count, and returns one Case per
// target, named by the target, with:
//
//   - Latency: the round trip of each update, from the request to the
//     result in hand (the time an operator waits, and an upper bound on the
//     time the actor was held);
//   - figures actor_p50_ns and actor_p99_ns: the UpdateResult's total_ns,
//     the time the six phases took on the actor's goroutine;
//     transfer_p50_ns, the state transfer phase alone (migration and
//     isolation copy); held_max, the most messages an update held;
//     allocs_per_update and bytes_per_update, the process's allocations
//     during the measurement divided by the updates.
//
// Write the Result with WriteTable or WriteJSON, or chart it with Plot.
func MeasureUpdateLatency(ctx context.Context, cfg Config, targets ...Target) (*Result, error) {
	start := time.Now()
	res := &Result{
		Scenario:    "update-latency",
		Description: "Round trip of one update of one actor, request to result in hand, back and forth between versions.",
		Parameters:  cfg.params(),
		Environment: CurrentEnvironment(),
	}
	for _, t := range targets {
		c, err := measureTarget(ctx, cfg, t, 1)
		if err != nil {
			return res, err
		}
		res.Cases = append(res.Cases, c)
		cfg.progress(res.Scenario, c.Name)
	}
	res.ElapsedS = seconds(time.Since(start))
	return res, nil
}

// measureTarget measures one target for cfg's budget, at least minOps
// updates.
func measureTarget(ctx context.Context, cfg Config, t Target, minOps int) (*Case, error) {
	r := newTargetRun(t)
	if err := r.round(ctx, cfg, minOps); err != nil {
		return nil, err
	}
	return r.result(), nil
}

// targetRun is what one target's updates measured so far, over one round
// or several: the update-latency scenario alternates rounds of each
// target and peer.
type targetRun struct {
	t                     Target
	rtt, inside, transfer *Recorder
	held                  uint32
	ops                   int
	mallocs, bytes        uint64
}

func newTargetRun(t Target) *targetRun {
	return &targetRun{t: t, rtt: NewRecorder(), inside: NewRecorder(), transfer: NewRecorder()}
}

// round starts the target's actor, warms it up, updates it for cfg's
// budget, at least minOps times, adding to what the run measured, runs the
// target's Verify, and stops the actor. Each round has a node of its own,
// and only one node runs at a time, as when a case is measured alone.
func (r *targetRun) round(ctx context.Context, cfg Config, minOps int) (err error) {
	u, err := StartTarget(ctx, r.t)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, u.Close()) }()
	// Start from a collected heap, not from the garbage of the case before.
	runtime.GC()
	if err := cfg.warm(ctx, func() error { _, _, err := u.Update(ctx); return err }); err != nil {
		return err
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	n, _, err := cfg.measure(ctx, minOps, func() error {
		d, res, err := u.Update(ctx)
		if err != nil {
			return err
		}
		r.rtt.Record(d)
		r.inside.RecordNs(res.GetTotalNs())
		r.transfer.RecordNs(res.GetStateTransferNs())
		r.held = max(r.held, res.GetHeldMessages())
		return nil
	})
	runtime.ReadMemStats(&m1)
	r.ops += n
	r.mallocs += m1.Mallocs - m0.Mallocs
	r.bytes += m1.TotalAlloc - m0.TotalAlloc
	if err != nil {
		return err
	}
	return u.Verify(ctx)
}

// result returns the case of everything the run measured.
func (r *targetRun) result() *Case {
	t := r.t
	c := &Case{Name: t.name(), Parameters: Params{"versions": t.versions(), "request": t.Request}}
	for k, v := range t.Parameters {
		c.Parameters[k] = v
	}
	c.SetLatency(r.rtt)
	c.Add("actor_p50_ns", float64(r.inside.Quantile(0.50)))
	c.Add("actor_p99_ns", float64(r.inside.Quantile(0.99)))
	c.Add("transfer_p50_ns", float64(r.transfer.Quantile(0.50)))
	c.Add("held_max", float64(r.held))
	ops := float64(max(r.ops, 1))
	c.Add("allocs_per_update", float64(r.mallocs)/ops)
	c.Add("bytes_per_update", float64(r.bytes)/ops)
	return c
}
