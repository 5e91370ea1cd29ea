package cluster

import (
	"fmt"
	"log/slog"
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
	pid     *pa.PID // the placement actor; nil on a client
}

var _ pc.IdentityLookup = (*lookup)(nil)

// Get returns the PID of ci's activation, activating it on its owner if it
// is not active; nil when no member may hold it (none runs the kind's
// current version) or the owner refused or did not answer within the
// activation timeout. cluster.Request retries on nil.
func (l *lookup) Get(ci *pc.ClusterIdentity) *pa.PID {
	owner := l.m.table.owner(ci)
	if owner == "" {
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
	props := pa.PropsFromProducer(func() pa.Actor {
		return &placement{m: l.m, actors: map[string]*activation{}, byPID: map[string]string{}}
	})
	pid, err := l.m.node.Root().SpawnNamed(props, PlacementName)
	if err != nil {
		panic(fmt.Errorf("molt cluster: start the placement actor: %w", err))
	}
	l.pid = pid
}

// Shutdown stops the placement actor and, with it, every activation of the
// member. It waits at most the activation timeout.
func (l *lookup) Shutdown() {
	if l.pid == nil {
		return
	}
	pid := l.pid
	l.pid = nil
	_ = l.m.node.Root().PoisonFuture(pid).Wait()
}

// reconcile asks the placement actor to bring its activations in line with
// the topology and the targets.
type reconcile struct{}

// activation is a grain active on this member.
type activation struct {
	ci       *pc.ClusterIdentity
	pid      *pa.PID
	updating uint32 // the version an update in flight goes to, 0 if none
}

// placement activates grains on a member and keeps them where the
// cluster's versions say they belong. It runs on its own goroutine, as
// protoactor's placement actor does.
type placement struct {
	m      *Member
	actors map[string]*activation // ci key → activation
	byPID  map[string]string      // pid id → ci key
}

func (p *placement) Receive(ctx pa.Context) {
	switch msg := ctx.Message().(type) {
	case *pc.ActivationRequest:
		p.activate(ctx, msg)
	case *pa.Terminated:
		p.terminated(msg.Who)
	case reconcile:
		p.reconcile(ctx)
	case *update.UpdateResult:
		p.updated(ctx, msg)
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
		ctx.Respond(&pc.ActivationResponse{Pid: a.pid})
		return
	}
	var (
		pid *pa.PID
		err error
	)
	if runs := p.m.runs[ci.Kind]; len(runs) > 0 {
		// A molt kind: at the kind's current version, if this member runs
		// it. A caller whose view is ahead of or behind this member's may
		// ask a member that cannot: it is refused, and retries.
		v, ok := p.m.table.current(ci.Kind)
		if !ok || !p.m.canRun(ci.Kind, v) {
			p.m.refused.Add(1)
			ctx.Respond(&pc.ActivationResponse{Failed: true})
			return
		}
		pid, err = activate(p.m.node, ci, v, ctx, key, p.m.spawn...)
	} else if k, ok := p.m.c.TryGetClusterKind(ci.Kind); ok && !isVersionKind(ci.Kind) {
		// Another kind (protoactor's pub-sub topics): as protoactor does.
		pid, err = ctx.SpawnNamed(pc.WithClusterIdentity(k.Props, ci), key)
	} else {
		err = fmt.Errorf("kind %q is not hosted here", ci.Kind)
	}
	if err != nil {
		ctx.Logger().Warn("molt cluster: activation refused", slog.String("identity", key), slog.Any("error", err))
		ctx.Respond(&pc.ActivationResponse{Failed: true})
		return
	}
	p.actors[key] = &activation{ci: ci, pid: pid}
	p.byPID[pid.Id] = key
	ctx.Respond(&pc.ActivationResponse{Pid: pid})
}

func isVersionKind(name string) bool {
	_, _, ok := ParseVersionKind(name)
	return ok
}

// terminated forgets a stopped activation and tells every member's PID
// cache.
func (p *placement) terminated(who *pa.PID) {
	key, ok := p.byPID[who.Id]
	if !ok {
		return
	}
	a := p.actors[key]
	delete(p.byPID, who.Id)
	delete(p.actors, key)
	ev := &pc.ActivationTerminated{Pid: who, ClusterIdentity: a.ci}
	for _, addr := range p.m.table.addresses() {
		p.m.node.Root().Send(pa.NewPID(addr, "eventstream"), ev)
	}
}

// reconcile stops the activations this member no longer owns (as
// protoactor's placement does on a topology change: their in-memory state
// is lost; see docs/cluster.md) and updates in place, with UpdateActor, the
// ones it owns whose version is not their kind's current version.
func (p *placement) reconcile(ctx pa.Context) {
	self := ctx.Self().Address
	for _, a := range p.actors {
		if owner := p.m.table.owner(a.ci); owner != self {
			if owner != "" { // with no owner at all, it stays where it is
				ctx.Poison(a.pid)
			}
			continue
		}
		v, ok := p.m.table.current(a.ci.Kind)
		if !ok || a.updating == v {
			continue
		}
		e, live := p.m.node.Directory().Lookup(a.pid)
		if !live || e.Version == v || !p.m.canRun(a.ci.Kind, v) {
			continue
		}
		a.updating = v
		id := fmt.Sprintf("molt-cluster/%s/%d", a.ci.AsKey(), v)
		ctx.Request(a.pid, &update.UpdateActor{UpdateId: id, ToVersion: v})
	}
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
	refused, upgraded, failed atomic.Int64
}
