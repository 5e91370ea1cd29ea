package cluster

import (
	"context"
	"errors"
	"fmt"
	"github.com/molt-go/molt/internal/remotestop"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	pc "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TargetsKey is the gossip key under which each member publishes the
// targets it knows (a JSON object: kind → {"v": version, "e": epoch}).
const TargetsKey = "molt.cluster/targets"

// DefaultActivationTimeout bounds how long a lookup waits for the owner of
// a grain to activate it.
const DefaultActivationTimeout = 5 * time.Second

// ErrConfig is returned by Start for a configuration it refuses.
var ErrConfig = errors.New("molt cluster: invalid configuration")

// Config configures a member.
type Config struct {
	// Name is the cluster's name; members of one cluster share it.
	// Default "molt".
	Name string
	// Provider finds the other members: protoactor's test provider, etcd,
	// Consul, Kubernetes, ZooKeeper. Required.
	Provider pc.ClusterProvider
	// Host and Port are where the member's protoactor remote listens:
	// 127.0.0.1 and a free port by default.
	Host string
	Port int
	// Remote passes options to protoactor remote.
	Remote []remote.ConfigOption
	// Kinds are the kinds of the node's catalogue this member hosts as
	// grains; by default (nil) every kind with a version the catalogue
	// runs. An empty list hosts none: a member that only calls grains.
	Kinds []string
	// Policy is the compatibility policy (Adapt by default). Every member
	// of a cluster must have the same.
	Policy Policy
	// ActivationTimeout bounds a lookup's wait for an activation; default
	// DefaultActivationTimeout.
	ActivationTimeout time.Duration
	// Options pass further options to protoactor's cluster configuration
	// (request timeout, gossip interval, ...).
	Options []pc.ConfigOption
	// Spawn are options for every activation this member starts, such as
	// molt.Persistent() for grains that load their latest snapshot (from
	// the node's store: molt.WithStore) when they are activated; the name,
	// parent and labels are the cluster's. A handed-over grain is started
	// with them too.
	Spawn []molt.SpawnOption

	// HandoverDeadline bounds one grain's handover on the member it
	// leaves, from the start of its hold to the decision (DefaultHandoverDeadline
	// if 0): a grain whose handover does not commit by then resumes where
	// it was, with its state, and its held calls run there.
	HandoverDeadline time.Duration
	// HandoverBatch is how many grains one Handover carries (64 if 0),
	// HandoverParallel how many batches a member has in flight at once (2
	// if 0), as a takeover's batches.
	HandoverBatch, HandoverParallel int
	// OnArrival, if not nil, is called for each grain handed over to this
	// member, once it runs here, on the placement actor's goroutine: keep
	// it short.
	OnArrival func(Arrival)
}

// handoverConfig is Config's handover settings with their defaults.
type handoverConfig struct {
	deadline        time.Duration
	batch, parallel int
}

// Member is a molt node that is a member of a protoactor cluster: its
// grains are molt actors, placed by version.
type Member struct {
	node   *molt.Node
	spawn  []molt.SpawnOption
	c      *pc.Cluster
	table  *table
	runs   map[string][]uint32 // kind → versions this member runs, ascending
	lookup *lookup
	sub    *eventstream.Subscription
	counters

	handover  handoverConfig
	onArrival func(Arrival)
	settle    time.Duration // how long after a change of owners activations ask the other members first

	leaving  atomic.Bool  // Leave has begun
	traffic  atomic.Int64 // Unix nanoseconds of the latest call or lookup seen while leaving
	leftOnce sync.Once
	leftErr  error
	shutOnce sync.Once
}

// Start makes node a member of the cluster cfg describes and returns once
// the member has joined (protoactor's StartMember, which takes about a
// second). The node must not run remote itself (molt.WithRemote): the
// cluster starts protoactor remote on the node's actor system.
//
// For each hosted kind, the member registers the kind itself and one
// version kind per version it runs (VersionKind): the provider publishes
// them with the member, and every member reads from the topology which
// member runs which version.
func Start(node *molt.Node, cfg Config) (m *Member, err error) {
	if node == nil || cfg.Provider == nil {
		return nil, fmt.Errorf("%w: a node and a provider are needed", ErrConfig)
	}
	if cfg.Policy != Adapt && cfg.Policy != Wait {
		return nil, fmt.Errorf("%w: unknown policy %d", ErrConfig, cfg.Policy)
	}
	if cfg.Name == "" {
		cfg.Name = "molt"
	}
	if cfg.Host == "" {
		cfg.Host = "127.0.0.1"
	}
	if cfg.ActivationTimeout <= 0 {
		cfg.ActivationTimeout = DefaultActivationTimeout
	}
	cat := node.Catalog()
	kinds := cfg.Kinds
	if kinds == nil {
		kinds = cat.Kinds()
	}
	if cfg.HandoverDeadline <= 0 {
		cfg.HandoverDeadline = DefaultHandoverDeadline
	}
	if cfg.HandoverDeadline < update.MinDeadline || cfg.HandoverDeadline > update.MaxDeadline {
		return nil, fmt.Errorf("%w: handover deadline %v: give one from %v to %v", ErrConfig, cfg.HandoverDeadline, update.MinDeadline, update.MaxDeadline)
	}
	if cfg.HandoverBatch <= 0 {
		cfg.HandoverBatch = 64
	}
	if cfg.HandoverParallel <= 0 {
		cfg.HandoverParallel = 2
	}
	m = &Member{
		node: node, spawn: cfg.Spawn, table: newTable(cfg.Policy), runs: map[string][]uint32{},
		handover:  handoverConfig{deadline: cfg.HandoverDeadline, batch: cfg.HandoverBatch, parallel: cfg.HandoverParallel},
		onArrival: cfg.OnArrival,
		settle:    2*cfg.HandoverDeadline + 5*time.Second,
	}
	var ck []*pc.Kind
	for _, kind := range kinds {
		vs := Runnable(cat, kind)
		if len(vs) == 0 {
			if cfg.Kinds == nil {
				continue // a kind whose states this binary only reads
			}
			return nil, fmt.Errorf("%w: %w %q: the catalogue runs no version of it", ErrConfig, registry.ErrUnknownKind, kind)
		}
		if isVersionKind(kind) {
			return nil, fmt.Errorf("%w: kind %q: a name ending in %s<number> is reserved", ErrConfig, kind, versionMark)
		}
		m.runs[kind] = vs
		k, err := Kind(node, kind, vs[len(vs)-1])
		if err != nil {
			return nil, err
		}
		ck = append(ck, k)
		for _, v := range vs {
			// Never activated: the placement refuses version kinds.
			ck = append(ck, &pc.Kind{Kind: VersionKind(kind, v), Props: pa.PropsFromFunc(func(pa.Context) {})})
		}
	}
	m.lookup = &lookup{m: m, timeout: cfg.ActivationTimeout}
	rc := remote.Configure(cfg.Host, cfg.Port, cfg.Remote...)
	opts := append([]pc.ConfigOption{pc.WithKinds(ck...)}, cfg.Options...)
	m.c = pc.New(node.System(), pc.Configure(cfg.Name, cfg.Provider, m.lookup, rc, opts...))
	m.sub = node.System().EventStream.Subscribe(m.observe)
	defer func() {
		if r := recover(); r != nil { // protoactor panics when it cannot start
			node.System().EventStream.Unsubscribe(m.sub)
			m, err = nil, fmt.Errorf("molt cluster: start member: %v", r)
		}
	}()
	m.c.StartMember()
	return m, nil
}

// observe follows the topology, the targets other members gossip and the
// activations that end elsewhere.
func (m *Member) observe(ev any) {
	switch e := ev.(type) {
	case *pc.ClusterTopology:
		m.table.setMembers(e.GetMembers())
		m.reconcile()
		m.greet(e.GetJoined())
	case *pc.GossipUpdate:
		if e.Key != TargetsKey || e.Value == nil {
			return
		}
		var s wrapperspb.StringValue
		if e.Value.UnmarshalTo(&s) != nil {
			return
		}
		targets, err := decodeTargets(s.GetValue())
		if err != nil {
			return
		}
		newer := false
		for kind, t := range targets {
			if m.table.learn(kind, t) {
				newer = true
			}
		}
		if newer {
			// Adopt it: the target outlives the member that set it.
			m.publish()
			m.reconcile()
		}
	case *pc.ActivationTerminated:
		if ci := e.GetClusterIdentity(); ci != nil {
			m.c.PidCache.RemoveByValue(ci.Identity, ci.Kind, e.GetPid())
		}
	}
}

// greet sends each member that joined a request that its placement
// actor answers: protoactor remote connects to a member with its first
// message, in each direction, and a connection takes tens to hundreds of
// milliseconds to set up; better now than under a grain's handover or a
// caller's first call.
func (m *Member) greet(joined []*pc.Member) {
	self := m.Address()
	for _, j := range joined {
		if addr := j.Address(); addr != self {
			m.node.Root().RequestFuture(pa.NewPID(addr, PlacementName), &Claim{}, m.lookup.timeout)
		}
	}
}

func (m *Member) publish() {
	m.c.Gossip.SetState(TargetsKey, wrapperspb.String(m.table.encodeTargets()))
}

func (m *Member) reconcile() {
	if pid := m.lookup.pid.Load(); pid != nil {
		m.node.Root().Send(pid, reconcile{})
	}
}

func (m *Member) canRun(kind string, v uint32) bool {
	_, ok := slices.BinarySearch(m.runs[kind], v)
	return ok
}

// Cluster returns the protoactor cluster: call grains with its Request.
func (m *Member) Cluster() *pc.Cluster { return m.c }

// Node returns the member's molt node.
func (m *Member) Node() *molt.Node { return m.node }

// Address returns the member's remote address.
func (m *Member) Address() string { return m.node.System().Address() }

// Runs returns the versions of kind this member runs.
func (m *Member) Runs(kind string) []uint32 { return slices.Clone(m.runs[kind]) }

// Version returns the version grains of kind are placed and kept at, as
// this member sees the cluster: the kind's target, bounded under the Wait
// policy by the oldest interface a member hosting the kind speaks. False
// when no member hosts the kind.
func (m *Member) Version(kind string) (uint32, bool) { return m.table.current(kind) }

// Owner returns the address of the member that owns the grain (identity,
// kind) as this member sees the cluster: the member it is activated on,
// or handed over to. "" when no member may hold it (none runs its kind's
// current version).
func (m *Member) Owner(identity, kind string) string {
	return m.table.owner(pc.NewClusterIdentity(identity, kind))
}

// SetVersion sets the target version of kind for the whole cluster: the
// member gossips it, every member adopts it (the latest setting wins), new
// activations are placed on members that run it, and every member updates
// the activations it holds to it, with UpdateActor, if it runs it.
func (m *Member) SetVersion(kind string, v uint32) error {
	if v == 0 {
		return fmt.Errorf("molt cluster: SetVersion(%q, 0): versions are numbered from 1", kind)
	}
	if !m.table.versioned(kind) {
		return fmt.Errorf("molt cluster: %w %q: no member hosts it", registry.ErrUnknownKind, kind)
	}
	m.table.learn(kind, Target{Version: v, Epoch: time.Now().UnixNano()})
	m.publish()
	m.reconcile()
	return nil
}

// Update sends req to the grain (identity, kind), through protoactor's
// cluster (it is activated if it is not), and returns its result. The
// grain's kind keeps its target: the next change of the kind's version
// moves this grain too.
func (m *Member) Update(identity, kind string, req *update.UpdateActor, opts ...pc.GrainCallOption) (*update.UpdateResult, error) {
	res, err := m.c.Request(identity, kind, req, opts...)
	if err != nil {
		return nil, err
	}
	r, ok := res.(*update.UpdateResult)
	if !ok {
		return nil, fmt.Errorf("molt cluster: %s/%s answered the update with %T", kind, identity, res)
	}
	return r, nil
}

// Stats counts what the member's placement did.
type Stats struct {
	// Refused counts activation requests refused because this member does
	// not run the kind's current version.
	Refused int64
	// Upgraded and Failed count the activations moved to their kind's
	// version in place, and the updates that did not commit.
	Upgraded, Failed int64
	// MovedOut and MovedIn count the grains handed over from this member
	// and to it; MoveFailed the handovers from it that did not commit
	// (the grain ran on here, and the move was tried again).
	MovedOut, MovedIn, MoveFailed int64
	// Lost counts the grains Leave stopped without a handover.
	Lost int64
}

// Stats returns the member's counters.
func (m *Member) Stats() Stats {
	return Stats{
		Refused: m.refused.Load(), Upgraded: m.upgraded.Load(), Failed: m.failed.Load(),
		MovedOut: m.movedOut.Load(), MovedIn: m.movedIn.Load(), MoveFailed: m.moveFailed.Load(), Lost: m.lost.Load(),
	}
}

// ErrGrainsLost is returned by Leave when some grains could not be handed
// over before its context ended, or had no other member to go to (no
// member left runs their kind's version): they were stopped, and their
// in-memory state is lost unless they persist it.
var ErrGrainsLost = errors.New("molt cluster: grains stopped without a handover")

// drainQuiet is how long a member that leaves waits with no call reaching
// its forwarders, nor lookup its placement, before it deregisters: the
// other members have dropped the old PIDs from their caches by then.
const drainQuiet = 300 * time.Millisecond

// DefaultLeaveTimeout bounds the Leave that Shutdown runs.
const DefaultLeaveTimeout = 30 * time.Second

// Leave hands every grain this member holds, with its state, to the member
// that owns it without this one, and leaves the cluster. In order:
//
//  1. The member tells the others that it leaves: from then on no member
//     places a grain on it, a kind's version is computed without it, and
//     it takes no handover. A lookup that reaches it meanwhile is passed on
//     to the grain's new owner, which answers the caller.
//  2. Its grains move, in batches (Config.HandoverBatch, HandoverParallel),
//     each through the six phases: held and sealed here, migrated and
//     started held on the new owner, committed here (the old PID forwards
//     every call, in order, to the new one), released there. Calls that
//     arrive meanwhile wait and then run, in order, on the new owner. A
//     handover that fails (the new owner dies or refuses, the migration
//     fails, the deadline passes) leaves the grain running here with its
//     state; it is tried again a second later, until ctx ends.
//  3. Once nothing is left to move, the member waits until no call has
//     reached its forwarders, nor a lookup its placement actor, for 300 ms
//     (the others have dropped the old PIDs from their caches), or until
//     ctx ends, and then deregisters from the provider. In that order:
//     once the member is out of their topology, the others close their
//     connections to it, and what they were sending to it is lost.
//
// When ctx ends before every grain has moved, or a grain has no member
// to go to (no other member runs its kind's version), the grains still
// here are stopped and Leave returns ErrGrainsLost with their count: their
// in-memory state is lost unless they persist it (molt.Persistent), in
// which case they reload it on their next activation. Leave is bounded by
// ctx and by twice the handover deadline of the batches in flight when it
// ends.
//
// After Leave the member serves no grain; call Shutdown to stop it.
// Leave runs once: later calls return the first one's result.
func (m *Member) Leave(ctx context.Context) error {
	m.leftOnce.Do(func() { m.leftErr = m.leave(ctx) })
	return m.leftErr
}

func (m *Member) leave(ctx context.Context) error {
	self := m.Address()
	m.leaving.Store(true)
	m.touch()
	pid := m.lookup.pid.Load()
	if pid == nil {
		_ = m.c.Config.ClusterProvider.Shutdown(true)
		return nil
	}
	m.table.leave(self)
	for _, addr := range m.table.addresses() {
		if addr != self {
			m.node.Root().Send(pa.NewPID(addr, PlacementName), &Leaving{Address: self})
		}
	}
	before := m.lost.Load()
	call := &leaveCall{done: make(chan struct{})}
	m.node.Root().Send(pid, call)
	select {
	case <-call.done:
	case <-ctx.Done():
	}
	// What is left has no member to go to, or no time: stopped.
	_ = m.node.Root().RequestFuture(pid, leaveStop{}, 5*time.Second).Wait()
	// Drain before deregistering: once the member is out of their
	// topology, the others close their connections to it, and whatever
	// they were sending to its forwarders is lost.
	if m.movedOut.Load() > 0 {
		m.drain(ctx)
	}
	_ = m.c.Config.ClusterProvider.Shutdown(true)
	if lost := m.lost.Load() - before; lost > 0 {
		why := "no other member runs their kind's version"
		if err := context.Cause(ctx); err != nil {
			why = "not handed over before the context ended: " + err.Error()
		}
		return fmt.Errorf("%w: %d grains of %s: %s", ErrGrainsLost, lost, self, why)
	}
	return nil
}

// drain waits until nothing has reached the member for drainQuiet, or ctx
// ends.
func (m *Member) drain(ctx context.Context) {
	t := time.NewTimer(drainQuiet)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		quiet := time.Since(time.Unix(0, m.traffic.Load()))
		if quiet >= drainQuiet {
			return
		}
		t.Reset(drainQuiet - quiet)
	}
}

// touch records traffic while the member leaves.
func (m *Member) touch() {
	if m.leaving.Load() {
		m.traffic.Store(time.Now().UnixNano())
	}
}

// middleware is grainMiddleware, and records the calls that reach a
// member that leaves (forwarded, most of them).
func (m *Member) middleware(next pa.ReceiverFunc) pa.ReceiverFunc {
	inner := grainMiddleware(next)
	return func(c pa.ReceiverContext, env *pa.MessageEnvelope) {
		m.touch()
		inner(c, env)
	}
}

// Shutdown leaves the cluster, handing its grains over first (Leave, with
// DefaultLeaveTimeout, if Leave was not called), then stops its placement
// actor (and with it every forwarder and whatever Leave could not move),
// gossip and remote. The node keeps running; shut it down after. Shutdown
// runs once.
func (m *Member) Shutdown() {
	m.shutOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), DefaultLeaveTimeout)
		_ = m.Leave(ctx)
		cancel()
		m.node.System().EventStream.Unsubscribe(m.sub)
		m.lookup.Shutdown()
		m.c.Gossip.Shutdown()
		remotestop.Graceful(m.c.Remote)
	})
}
