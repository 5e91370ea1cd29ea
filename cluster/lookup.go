package cluster

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	pc "github.com/asynkron/protoactor-go/cluster"
	"github.com/molt-go/molt/update"
)

// PlacementName is the name of the actor that activates grains on each
// member. Its activations are its children, named kind/identity.
const PlacementName = "molt-placement"

// lookup is the version-aware identity lookup (cluster.IdentityLookup):
// protoactor's distributed-hash placement, with the members a grain may be
// placed on restricted to those that run its kind's current version.
type lookup struct {
	m       *Member
	timeout time.Duration
	// pid is the placement actor, nil on a client. Atomic: Setup and
	// Shutdown write it while the member's event subscriber (subscribed
	// before the member starts) reads it.
	pid atomic.Pointer[pa.PID]
	// ownerless has the kinds at versions no member runs, logged once.
	ownerless sync.Map
}

var _ pc.IdentityLookup = (*lookup)(nil)

// Get returns the PID of ci's activation, activating it on its owner if it
// is not active; nil when no member may hold it (none runs the kind's
// current version) or the owner refused or did not answer within the
// activation timeout. cluster.Request retries on nil.
func (l *lookup) Get(ci *pc.ClusterIdentity) *pa.PID {
	owner := l.m.table.owner(ci)
	if owner == "" {
		// Callers see only a timeout after their retries: say why here,
		// once per kind and version.
		if v, ok := l.m.table.current(ci.Kind); ok {
			if _, said := l.ownerless.LoadOrStore(VersionKind(ci.Kind, v), true); !said {
				l.m.node.System().Logger().Warn("molt cluster: no member runs the kind's current version, so its grains cannot be activated; start a member that runs it, or SetVersion to one a member runs",
					slog.String("kind", ci.Kind), slog.Uint64("version", uint64(v)))
			}
		}
		return nil
	}
	req := &pc.ActivationRequest{ClusterIdentity: ci}
	res, err := l.m.node.Root().RequestFuture(pa.NewPID(owner, PlacementName), req, l.timeout).Result()
	if err != nil {
		return nil
	}
	if r, ok := res.(*pc.ActivationResponse); ok && !r.GetFailed() {
		return r.GetPid()
	}
	return nil
}

// RemovePid drops a PID the cluster found dead from this member's cache.
func (l *lookup) RemovePid(ci *pc.ClusterIdentity, pid *pa.PID) {
	l.m.c.PidCache.RemoveByValue(ci.Identity, ci.Kind, pid)
}

// Setup starts the placement actor on a member.
func (l *lookup) Setup(_ *pc.Cluster, _ []string, isClient bool) {
	if isClient {
		return
	}
	props := pa.PropsFromProducer(func() pa.Actor { return newPlacement(l.m) })
	pid, err := l.m.node.Root().SpawnNamed(props, PlacementName)
	if err != nil {
		panic(fmt.Errorf("molt cluster: start the placement actor: %w", err))
	}
	l.pid.Store(pid)
}

// Shutdown stops the placement actor and, with it, every activation of the
// member. It waits at most the activation timeout.
func (l *lookup) Shutdown() {
	pid := l.pid.Swap(nil)
	if pid == nil {
		return
	}
	_ = l.m.node.Root().PoisonFuture(pid).Wait()
}

// reconcile asks the placement actor to bring its activations in line with
// the topology and the targets.
type reconcile struct{}

// grainState is where an activation is in its life on this member.
type grainState uint8

const (
	// live: it runs here.
	live grainState = iota
	// queued: it runs here, and waits for a place in a handover batch.
	queued
	// exporting: it is being handed over (held, then staged); calls wait.
	exporting
	// arriving: handed over to this member, started and held until the
	// member it comes from commits the move.
	arriving
	// moved: handed over to another member; the PID is a forwarder.
	moved
)

// activation is a grain active on this member, or on its way in or out.
type activation struct {
	ci       *pc.ClusterIdentity
	pid      *pa.PID
	updating uint32 // the version an update in flight goes to, 0 if none
	state    grainState
	owner    string  // queued: the member it goes to
	from     *pa.PID // arriving: its PID on the member it comes from
	to       *pa.PID // moved: where it runs now
	molt     bool    // a molt actor (not one of protoactor's own kinds)
}

// where returns the PID calls to the grain should go to now: its own
// while it runs or is held here, the one it had on the member it comes
// from while it arrives (calls are held there and follow it when the move
// commits), the new one once it moved.
func (a *activation) where() *pa.PID {
	switch a.state {
	case arriving:
		return a.from
	case moved:
		return a.to
	}
	return a.pid
}

// placement activates grains on a member, keeps them where the cluster's
// versions say they belong, and hands them over, with their state, to the
// member that owns them when that changes. It runs on its own goroutine, as
// protoactor's placement actor does.
type placement struct {
	m      *Member
	actors map[string]*activation // ci key → activation
	byPID  map[string]string      // pid id → ci key
	ending map[string]int         // pid id → stops asked of an activation no longer in actors

	claims map[string]*claiming // ci key → activation waiting for the other members' answers
	// elsewhere are grains whose handover to this member failed: they run
	// on at this PID, on a member that owns them no longer, and calls for
	// them go there until a handover succeeds or that member leaves.
	elsewhere map[string]runsAt
	out       outbound
	in        map[string]*inBatch // handover id → batch arriving here
	leave     *leaveCall          // the member leaves; nil until Leave
	retrying  bool                // a retry of failed moves is scheduled
	gen       uint64              // numbers the names of grains whose name is taken
}

func newPlacement(m *Member) *placement {
	return &placement{
		m: m, actors: map[string]*activation{}, byPID: map[string]string{}, ending: map[string]int{},
		claims: map[string]*claiming{}, in: map[string]*inBatch{}, elsewhere: map[string]runsAt{},
		out: outbound{queue: map[string][]string{}, batches: map[string]*outBatch{}, reach: map[string]reachable{}},
	}
}

func (p *placement) Receive(ctx pa.Context) {
	switch msg := ctx.Message().(type) {
	case *pc.ActivationRequest:
		p.m.touch()
		p.activate(ctx, msg)
	case *Claim:
		p.m.touch()
		p.claimed(ctx, msg)
	case *pa.Terminated:
		p.terminated(msg.Who)
	case reconcile:
		p.reconcile(ctx)
	case *update.UpdateResult:
		p.updated(ctx, msg)
	case *exportAnswer:
		p.exportAnswered(ctx, msg)
	case *Handover:
		p.handover(ctx, msg)
	case *importReady:
		p.importReady(ctx, msg)
	case *inTimeout:
		p.inTimedOut(ctx, msg)
	case *outTimeout:
		p.outTimedOut(ctx, msg)
	case *Moved:
		p.forget(msg)
	case *HandoverDecided:
		p.decided(ctx, msg)
	case *HandoverPlaced:
		p.placedAgain(ctx, msg) // a new owner asking again for a decision
	case *Leaving:
		if p.m.table.leave(msg.GetAddress()) {
			p.reconcile(ctx)
		}
	case *leaveCall:
		p.leave = msg
		p.reconcile(ctx)
	case leaveStop:
		p.stopRemaining(ctx)
		ctx.Respond(leaveStop{})
	case *endForwarder:
		p.endForwarder(ctx, msg.key, msg.pid)
	case retry:
		p.retrying = false
		p.reconcile(ctx)
	}
}

func (p *placement) activate(ctx pa.Context, req *pc.ActivationRequest) {
	ci := req.GetClusterIdentity()
	if ci == nil {
		ctx.Respond(&pc.ActivationResponse{Failed: true})
		return
	}
	key := ci.AsKey()
	if a, ok := p.actors[key]; ok {
		ctx.Respond(&pc.ActivationResponse{Pid: a.where()})
		return
	}
	if c, ok := p.claims[key]; ok {
		c.waiting = append(c.waiting, ctx.Sender())
		return
	}
	if at, ok := p.elsewhere[key]; ok {
		if time.Since(at.since) < runsAtFor && p.m.table.present(at.pid.Address) && !p.m.table.isLeaving(at.pid.Address) {
			ctx.Respond(&pc.ActivationResponse{Pid: at.pid})
			return
		}
		delete(p.elsewhere, key)
	}
	runs := p.m.runs[ci.Kind]
	if p.leave != nil && len(runs) > 0 {
		// Leaving: the member that owns the grain without this one
		// activates it, and answers the caller.
		if owner := p.m.table.owner(ci); owner != "" && owner != ctx.Self().Address {
			ctx.Forward(pa.NewPID(owner, PlacementName))
			return
		}
		ctx.Respond(&pc.ActivationResponse{Failed: true})
		return
	}
	if len(runs) > 0 {
		// A molt kind: at the kind's current version, if this member runs
		// it. A caller whose view is ahead of or behind this member's may
		// ask a member that cannot: it is refused, and retries.
		v, ok := p.m.table.current(ci.Kind)
		if !ok || !p.m.canRun(ci.Kind, v) {
			p.m.refused.Add(1)
			ctx.Respond(&pc.ActivationResponse{Failed: true})
			return
		}
		if !p.m.table.settled(p.m.settle) {
			// Owners changed lately: another member may still hold the
			// grain, with its state, on its way here. Ask them first.
			if hosts := p.m.table.hosts(ci.Kind, ctx.Self().Address); len(hosts) > 0 {
				p.claim(ctx, ci, hosts)
				return
			}
		}
	}
	pid, err := p.start(ctx, ci)
	if err != nil {
		ctx.Respond(&pc.ActivationResponse{Failed: true})
		return
	}
	ctx.Respond(&pc.ActivationResponse{Pid: pid})
}

// start activates ci here with no state, as a molt actor at its kind's
// current version, or as protoactor would for another kind.
func (p *placement) start(ctx pa.Context, ci *pc.ClusterIdentity) (*pa.PID, error) {
	key := ci.AsKey()
	var (
		pid    *pa.PID
		err    error
		isMolt bool
	)
	if runs := p.m.runs[ci.Kind]; len(runs) > 0 {
		v, ok := p.m.table.current(ci.Kind)
		if !ok || !p.m.canRun(ci.Kind, v) {
			p.m.refused.Add(1)
			return nil, fmt.Errorf("this member does not run %s's current version", ci.Kind)
		}
		pid, err = p.m.node.Spawn(ci.Kind, v, p.grainOptions(ctx, ci, p.nameFor(ctx, key))...)
		isMolt = true
	} else if k, ok := p.m.c.TryGetClusterKind(ci.Kind); ok && !isVersionKind(ci.Kind) {
		// Another kind (protoactor's pub-sub topics): as protoactor does.
		pid, err = ctx.SpawnNamed(pc.WithClusterIdentity(k.Props, ci), key)
	} else {
		err = fmt.Errorf("kind %q is not hosted here", ci.Kind)
	}
	if err != nil {
		ctx.Logger().Warn("molt cluster: activation refused", slog.String("identity", key), slog.Any("error", err))
		return nil, err
	}
	p.actors[key] = &activation{ci: ci, pid: pid, molt: isMolt}
	p.byPID[pid.Id] = key
	return pid, nil
}

func isVersionKind(name string) bool {
	_, _, ok := ParseVersionKind(name)
	return ok
}

// terminated forgets a stopped activation and tells every member's PID
// cache.
func (p *placement) terminated(who *pa.PID) {
	if n := p.ending[who.Id]; n > 0 {
		// A forwarder or a discarded import, forgotten already: a later
		// activation may have its name.
		if n == 1 {
			delete(p.ending, who.Id)
		} else {
			p.ending[who.Id] = n - 1
		}
		return
	}
	key, ok := p.byPID[who.Id]
	if !ok {
		return
	}
	a := p.actors[key]
	delete(p.byPID, who.Id)
	delete(p.actors, key)
	p.forgotten(a)
	if a.state == arriving {
		return // it never ran here: nobody knows its PID
	}
	p.broadcast(&pc.ActivationTerminated{Pid: who, ClusterIdentity: a.ci})
}

// broadcast publishes ev on every member's event stream, this one's
// included.
func (p *placement) broadcast(ev *pc.ActivationTerminated) {
	for _, addr := range p.m.table.addresses() {
		p.m.node.Root().Send(pa.NewPID(addr, "eventstream"), ev)
	}
}

// reconcile hands over, with their state, the activations this member no
// longer owns (all of them when it leaves) to the members that own them
// now, and updates in place, with UpdateActor, the ones it owns whose
// version is not their kind's current version.
func (p *placement) reconcile(ctx pa.Context) {
	self := ctx.Self().Address
	for key, a := range p.actors {
		p.place(ctx, self, key, a)
	}
	p.pump(ctx)
	p.checkLeft(ctx)
}

// place brings one activation in line: queued for a handover if another
// member owns it, updated in place if its version is not its kind's.
func (p *placement) place(ctx pa.Context, self, key string, a *activation) {
	if a.state != live && a.state != queued {
		return
	}
	owner := p.m.table.owner(a.ci)
	if !a.molt {
		if owner != self && owner != "" {
			ctx.Poison(a.pid) // not a molt actor: stopped, as protoactor does
		}
		return
	}
	if owner != self {
		if owner != "" { // with no owner at all, it stays where it is
			p.enqueue(key, a, owner)
		}
		return
	}
	if a.state == queued { // owned here again before its turn came
		p.dequeue(key, a)
	}
	v, ok := p.m.table.current(a.ci.Kind)
	if !ok || a.updating == v {
		return
	}
	e, running := p.m.node.Directory().Lookup(a.pid)
	if !running || e.Version == v || !p.m.canRun(a.ci.Kind, v) {
		return
	}
	a.updating = v
	id := fmt.Sprintf("molt-cluster/%s/%d", key, v)
	ctx.Request(a.pid, &update.UpdateActor{UpdateId: id, ToVersion: v})
}

func (p *placement) updated(ctx pa.Context, res *update.UpdateResult) {
	key, ok := p.byPID[res.GetActor()] // the answer comes without a sender
	if !ok {
		return
	}
	a := p.actors[key]
	a.updating = 0
	if res.GetOutcome() == update.Outcome_OUTCOME_COMMITTED {
		p.m.upgraded.Add(1)
		return
	}
	p.m.failed.Add(1)
	ctx.Logger().Warn("molt cluster: grain not moved to its kind's version", slog.String("identity", key),
		slog.String("outcome", res.GetOutcome().String()), slog.String("reason", res.GetReason()))
}

// counters of a member's placement, for Stats.
type counters struct {
	refused, upgraded, failed           atomic.Int64
	movedOut, movedIn, moveFailed, lost atomic.Int64
}
