package cluster

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	pc "github.com/asynkron/protoactor-go/cluster"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/types/known/durationpb"
)

// A handover moves a grain activation from the member that holds it (the
// old owner) to the member that owns it now (the new owner), with its
// state, through the six phases of molt's cooperative update, split as a
// takeover splits them between two processes (actor/move.go):
//
//   - the old owner's placement actor exports each grain (Node.Export:
//     notification, preparation, state checking, then the state sealed in
//     an envelope; the grain is staged and holds every call), a batch of
//     grains bound for one new owner at a time;
//   - it sends the batch (Handover) to the new owner's placement actor,
//     which imports each grain (Node.Import: the state migrated to the
//     version the new owner runs, the grain started held, as a child of
//     the placement actor under the same name) and answers HandoverPlaced;
//   - the old owner commits each placed grain's export to its new PID
//     (Node.Decide): the old activation becomes a forwarder that sends its
//     held calls, and every later one, to the new PID, in order; it aborts
//     the others, which resume where they were with their state;
//   - it tells the new owner (HandoverDecided), which releases the
//     committed grains (Node.Release: the calls they held run, in order)
//     and discards the others.
//
// Import before commit, commit before release: a grain never runs on two
// members at once, and a failure before the commit leaves it running on
// the old owner.

// DefaultHandoverDeadline bounds a grain's handover on its old owner, from
// its hold to the decision, when Config gives none.
const DefaultHandoverDeadline = 5 * time.Second

// forwardFor is how long a moved activation's forwarder lives before it is
// stopped: long enough for the calls on their way to it to be forwarded.
// Callers that still have its PID then get a dead letter, drop it from
// their cache and look the grain up again.
const forwardFor = 10 * time.Second

// exportAnswer is an export's answer (staged, then final), sent by the
// export's answer function to the placement actor.
type exportAnswer struct {
	batch string
	key   string
	ex    molt.Exported
}

// importReady says that an imported grain has handled VersionChanged (or
// failed to).
type importReady struct {
	batch string
	key   string
	pid   *pa.PID
	err   error
}

// outTimeout and inTimeout bound a batch that lost its peer.
type outTimeout struct{ batch string }
type inTimeout struct{ batch string }

// endForwarder stops a moved activation's forwarder.
type endForwarder struct {
	key string
	pid *pa.PID
}

// retry asks the placement actor to try failed handovers again.
type retry struct{}

// retryAfter is how long a member waits before it tries again to hand
// over grains whose handover failed.
const retryAfter = time.Second

// outbound is the old owner's side: grains waiting for a batch, and the
// batches in flight.
type outbound struct {
	queue   map[string][]string  // new owner's address → keys of queued grains
	batches map[string]*outBatch // handover id → batch in flight
	next    uint64
	decided []*HandoverDecided // the latest decisions, for new owners that ask again
	// reach says which new owners answered a probe: a grain is held only
	// once its new owner is known to answer, so that no grain waits for a
	// connection to be set up, or for a member that does not answer.
	reach map[string]reachable
}

type reachable uint8

const (
	unprobed reachable = iota
	probing
	answers
)

// outBatch is one Handover in flight from this member.
type outBatch struct {
	id      string
	owner   string
	moves   map[string]*outMove // by key
	waiting int                 // moves without their staged (or failed) answer
	open    int                 // moves without their final answer
	sent    bool                // Handover sent
	timer   *time.Timer
}

type outMove struct {
	a        *activation
	updateID string
	staged   *molt.Exported
	final    *update.UpdateResult
	failure  string
	placed   *pa.PID // the grain's PID on the new owner
	decided  bool    // Decide sent
}

// enqueue queues a live grain for a handover to owner.
func (p *placement) enqueue(key string, a *activation, owner string) {
	if a.state == queued {
		if a.owner == owner {
			return
		}
		p.dequeue(key, a)
	}
	a.state, a.owner = queued, owner
	p.out.queue[owner] = append(p.out.queue[owner], key)
}

// dequeue takes a queued grain out of its queue: it runs here on.
func (p *placement) dequeue(key string, a *activation) {
	q := p.out.queue[a.owner]
	if i := slices.Index(q, key); i >= 0 {
		p.out.queue[a.owner] = slices.Delete(q, i, i+1)
	}
	if len(p.out.queue[a.owner]) == 0 {
		delete(p.out.queue, a.owner)
	}
	a.state, a.owner = live, ""
}

// pump starts batches while fewer than the configured number are in
// flight, from the longest queue first.
func (p *placement) pump(ctx pa.Context) {
	for len(p.out.batches) < p.m.handover.parallel && len(p.out.queue) > 0 {
		owner := ""
		for o, q := range p.out.queue {
			if p.out.reach[o] != answers {
				p.probe(ctx, o)
				continue
			}
			if owner == "" || len(q) > len(p.out.queue[owner]) || (len(q) == len(p.out.queue[owner]) && o < owner) {
				owner = o
			}
		}
		if owner == "" {
			return // waiting for probes
		}
		q := p.out.queue[owner]
		n := min(len(q), p.m.handover.batch)
		keys := slices.Clone(q[:n])
		if n == len(q) {
			delete(p.out.queue, owner)
		} else {
			p.out.queue[owner] = q[n:]
		}
		p.export(ctx, owner, keys)
	}
}

// probe asks a new owner whether it answers (an empty Claim) before any
// grain is held for it.
func (p *placement) probe(ctx pa.Context, owner string) {
	if p.out.reach[owner] != unprobed {
		return
	}
	p.out.reach[owner] = probing
	f := ctx.RequestFuture(pa.NewPID(owner, PlacementName), &Claim{}, p.m.handover.deadline)
	ctx.ReenterAfter(f, func(_ any, err error) {
		if err != nil {
			delete(p.out.reach, owner)
			ctx.Logger().Warn("molt cluster: a new owner does not answer; its grains stay here for now", slog.String("owner", owner), slog.Any("error", err))
			p.retryLater(ctx)
			return
		}
		p.out.reach[owner] = answers
		p.pump(ctx)
	})
}

// retryLater schedules a reconcile, to try failed handovers again.
func (p *placement) retryLater(ctx pa.Context) {
	if p.retrying {
		return
	}
	p.retrying = true
	root, self := p.m.node.Root(), ctx.Self()
	time.AfterFunc(retryAfter, func() { root.Send(self, retry{}) })
}

// export stages the grains of one batch for the new owner.
func (p *placement) export(ctx pa.Context, owner string, keys []string) {
	p.out.next++
	b := &outBatch{id: fmt.Sprintf("%s/%d", ctx.Self().Address, p.out.next), owner: owner, moves: make(map[string]*outMove, len(keys))}
	p.out.batches[b.id] = b
	deadline := p.m.handover.deadline
	self := ctx.Self()
	root := p.m.node.Root()
	for i, key := range keys {
		a := p.actors[key]
		if a == nil || a.state != queued || a.owner != owner {
			continue
		}
		a.state, a.owner = exporting, ""
		mv := &outMove{a: a, updateID: fmt.Sprintf("molt-cluster/handover/%d/%d", p.out.next, i)}
		b.moves[key] = mv
		b.waiting++
		b.open++
		v, _ := p.m.table.current(a.ci.Kind)
		req := &update.UpdateActor{UpdateId: mv.updateID, ToVersion: v, Deadline: durationpb.New(deadline)}
		batch, k := b.id, key
		err := p.m.node.Export(a.pid, req, func(e molt.Exported) {
			root.Send(self, &exportAnswer{batch: batch, key: k, ex: e})
		})
		if err != nil {
			mv.failure = err.Error()
			b.waiting--
			b.open--
		}
	}
	// A grain that dies while staged never answers: bound the batch.
	b.timer = time.AfterFunc(2*deadline+5*time.Second, func() { root.Send(self, &outTimeout{batch: b.id}) })
	p.maybeSend(ctx, b)
	p.maybeFinish(ctx, b)
}

func (p *placement) exportAnswered(ctx pa.Context, ans *exportAnswer) {
	b := p.out.batches[ans.batch]
	if b == nil {
		return
	}
	mv := b.moves[ans.key]
	if mv == nil {
		return
	}
	res := ans.ex.Result
	if res.GetOutcome() == update.Outcome_OUTCOME_STAGED {
		if mv.staged == nil && mv.final == nil {
			mv.staged = &ans.ex
			b.waiting--
		}
	} else if mv.final == nil {
		mv.final = res
		b.open--
		if mv.staged == nil {
			b.waiting-- // refused or aborted before it staged
			mv.failure = res.GetReason()
		}
	}
	p.maybeSend(ctx, b)
	p.maybeFinish(ctx, b)
}

// maybeSend sends the batch to its new owner once every grain of it is
// staged or has failed.
func (p *placement) maybeSend(ctx pa.Context, b *outBatch) {
	if b.sent || b.waiting > 0 {
		return
	}
	b.sent = true
	h := &Handover{HandoverId: b.id}
	for _, mv := range b.moves {
		if mv.staged == nil || mv.final != nil {
			continue
		}
		res := mv.staged.Result
		e := mv.staged.Envelope
		held := e.GetSealedUnixNanos() - res.GetPreparationNs() - res.GetStateCheckingNs()
		h.Grains = append(h.Grains, &HandoverGrain{Identity: mv.a.ci.Identity, Kind: mv.a.ci.Kind, Envelope: e, HeldUnixNanos: held})
	}
	if len(h.Grains) == 0 {
		return
	}
	f := ctx.RequestFuture(pa.NewPID(b.owner, PlacementName), h, p.m.handover.deadline)
	ctx.ReenterAfter(f, func(res any, err error) {
		placed, ok := res.(*HandoverPlaced)
		if err != nil || !ok {
			reason := fmt.Sprintf("the new owner %s did not place the grains: %v", b.owner, err)
			if err == nil {
				reason = fmt.Sprintf("the new owner %s answered %T", b.owner, res)
			}
			p.decideAll(b, reason)
			return
		}
		p.placed(b, placed)
	})
}

// placed commits the grains the new owner started and aborts the others.
func (p *placement) placed(b *outBatch, m *HandoverPlaced) {
	pids := make(map[string]*pa.PID, len(m.GetPlaced()))
	for _, g := range m.GetPlaced() {
		pids[g.GetKey()] = g.GetPid().PID()
	}
	reasons := make(map[string]string, len(m.GetFailed()))
	for _, f := range m.GetFailed() {
		reasons[f.GetKey()] = f.GetReason()
	}
	for key, mv := range b.moves {
		if mv.staged == nil || mv.final != nil || mv.decided {
			continue
		}
		mv.decided = true
		if to := pids[key]; to != nil {
			mv.placed = to
			p.m.node.Decide(mv.a.pid, mv.updateID, to, "")
			continue
		}
		reason := reasons[key]
		if reason == "" {
			reason = "the new owner did not start it"
		}
		p.m.node.Decide(mv.a.pid, mv.updateID, nil, "handover to "+b.owner+": "+reason)
	}
}

// decideAll aborts every staged grain of a batch: each resumes here.
func (p *placement) decideAll(b *outBatch, reason string) {
	for _, mv := range b.moves {
		if mv.staged == nil || mv.final != nil || mv.decided {
			continue
		}
		mv.decided = true
		p.m.node.Decide(mv.a.pid, mv.updateID, nil, "handover: "+reason)
	}
}

// maybeFinish ends a batch once every grain of it has its final result:
// the moved ones are forwarders now, the others run here again; the new
// owner learns which is which.
func (p *placement) maybeFinish(ctx pa.Context, b *outBatch) {
	if b.open > 0 || (!b.sent && b.waiting > 0) {
		return
	}
	b.timer.Stop()
	delete(p.out.batches, b.id)
	dec := &HandoverDecided{HandoverId: b.id}
	gone := &Moved{}
	failed := 0
	for key, mv := range b.moves {
		a := mv.a
		committed := mv.final.GetOutcome() == update.Outcome_OUTCOME_COMMITTED && mv.placed != nil
		if committed {
			dec.Committed = append(dec.Committed, key)
			a.state, a.to = moved, mv.placed
			p.m.movedOut.Add(1)
			gone.Grains = append(gone.Grains, &MovedGrain{Identity: a.ci.Identity, Kind: a.ci.Kind, Old: update.RefOf(a.pid)})
			root, self, pid := p.m.node.Root(), ctx.Self(), a.pid
			time.AfterFunc(forwardFor, func() { root.Send(self, &endForwarder{key: key, pid: pid}) })
			continue
		}
		reason := mv.failure
		if mv.final != nil && reason == "" {
			reason = mv.final.GetReason()
		}
		if mv.staged != nil {
			dec.Aborted = append(dec.Aborted, &FailedGrain{Key: key, Reason: reason})
		}
		if p.actors[key] == a && a.state == exporting {
			a.state = live // resumed here, with its state
		}
		failed++
		p.m.moveFailed.Add(1)
		ctx.Logger().Warn("molt cluster: grain not handed over; it runs here", slog.String("identity", key),
			slog.String("to", b.owner), slog.String("reason", reason))
	}
	p.tell(ctx, gone)
	if b.sent {
		ctx.Send(pa.NewPID(b.owner, PlacementName), dec)
		p.out.decided = append(p.out.decided, dec)
		if len(p.out.decided) > 256 {
			p.out.decided = slices.Delete(p.out.decided, 0, 1)
		}
	}
	if failed > 0 {
		p.retryLater(ctx)
	}
	p.pump(ctx)
	p.checkLeft(ctx)
}

// outTimedOut ends a batch whose grains did not all answer: a grain that
// stopped while staged. Those count as not moved.
func (p *placement) outTimedOut(ctx pa.Context, t *outTimeout) {
	b := p.out.batches[t.batch]
	if b == nil {
		return
	}
	for _, mv := range b.moves {
		if mv.final == nil {
			mv.final = &update.UpdateResult{Outcome: update.Outcome_OUTCOME_ABORTED, Reason: "the grain did not answer its handover"}
			if mv.staged == nil {
				mv.failure = mv.final.Reason
			}
			mv.placed = nil
		}
	}
	b.open, b.waiting = 0, 0
	p.maybeFinish(ctx, b)
}

// placedAgain answers a new owner that asks again for the decision of a
// batch: the decision if the batch is over, nothing while it runs (the
// decision is sent when it ends).
func (p *placement) placedAgain(ctx pa.Context, m *HandoverPlaced) {
	for _, d := range p.out.decided {
		if d.GetHandoverId() == m.GetHandoverId() {
			if s := ctx.Sender(); s != nil {
				ctx.Send(s, d)
			}
			return
		}
	}
}

// tell sends m to every member's placement actor (this one's included),
// which drops the old PIDs from its member's PID cache: callers that cached
// one look the grain up again.
func (p *placement) tell(ctx pa.Context, m *Moved) {
	if len(m.GetGrains()) == 0 {
		return
	}
	for _, addr := range p.m.table.addresses() {
		ctx.Send(pa.NewPID(addr, PlacementName), m)
	}
}

// forget drops the PIDs of grains that moved from the member's PID cache.
func (p *placement) forget(m *Moved) {
	for _, g := range m.GetGrains() {
		p.m.c.PidCache.RemoveByValue(g.GetIdentity(), g.GetKind(), g.GetOld().PID())
	}
}

// endForwarder stops a moved grain's forwarder, after the messages already
// in its mailbox.
func (p *placement) endForwarder(ctx pa.Context, key string, pid *pa.PID) {
	a := p.actors[key]
	if a == nil || a.state != moved || !a.pid.Equal(pid) {
		return
	}
	delete(p.actors, key)
	delete(p.byPID, pid.Id)
	p.ending[pid.Id]++
	p.forgotten(a)
	ctx.Poison(pid)
}

// runsAt is where a grain whose handover to this member failed runs on,
// and since when this member knows it.
type runsAt struct {
	pid   *pa.PID
	since time.Time
}

// runsAtFor is how long a member sends callers to where a grain whose
// handover failed runs on: its old owner tries again every retryAfter and
// renews it if that fails again; a grain that went elsewhere meanwhile is
// found by a lookup again once it expires (well before its forwarder on
// the old owner stops, after forwardFor).
const runsAtFor = 5 * retryAfter

// inBatch is a Handover arriving at this member.
type inBatch struct {
	id     string
	from   string  // the old owner's address
	answer *pa.PID // where HandoverPlaced goes
	grains map[string]*inGrain
	wait   int // imports that have not said they are ready
	placed bool
	timer  *time.Timer
}

type inGrain struct {
	pid      *pa.PID
	held     int64
	from, to uint32 // the version it ran at on the old owner, and here
	failure  string
}

// handover starts, held, the grains of a batch handed to this member.
func (p *placement) handover(ctx pa.Context, h *Handover) {
	id := h.GetHandoverId()
	if _, dup := p.in[id]; dup {
		return
	}
	from := ctx.Sender().GetAddress()
	if i := strings.LastIndexByte(id, '/'); from == "" && i > 0 {
		from = id[:i]
	}
	b := &inBatch{id: id, from: from, answer: ctx.Sender(), grains: make(map[string]*inGrain, len(h.GetGrains()))}
	p.in[id] = b
	self, root := ctx.Self(), p.m.node.Root()
	for _, g := range h.GetGrains() {
		ci := pc.NewClusterIdentity(g.GetIdentity(), g.GetKind())
		key := ci.AsKey()
		ig := &inGrain{held: g.GetHeldUnixNanos(), from: g.GetEnvelope().GetVersion()}
		b.grains[key] = ig
		pid, err := p.importGrain(ctx, ci, g, b.from, &ig.to, func(pid *pa.PID, err error) {
			root.Send(self, &importReady{batch: id, key: key, pid: pid, err: err})
		})
		if err != nil {
			ig.failure = err.Error()
			if _, here := p.actors[key]; !here {
				p.elsewhere[key] = runsAt{pa.NewPID(b.from, g.GetEnvelope().GetName()), time.Now()}
			}
			continue
		}
		ig.pid = pid
		b.wait++
	}
	b.timer = time.AfterFunc(p.m.handover.deadline, func() { root.Send(self, &inTimeout{batch: id}) })
	p.maybePlaced(ctx, b)
}

// importGrain starts one handed-over grain, held, at the version this
// member runs its kind at.
func (p *placement) importGrain(ctx pa.Context, ci *pc.ClusterIdentity, g *HandoverGrain, from string, version *uint32, ready func(*pa.PID, error)) (*pa.PID, error) {
	key := ci.AsKey()
	if p.leave != nil {
		return nil, fmt.Errorf("%s leaves the cluster", ctx.Self().Address)
	}
	var name string
	if a, ok := p.actors[key]; ok {
		if a.state != moved {
			return nil, fmt.Errorf("it is active on %s already", ctx.Self().Address)
		}
		// It comes back to a member where its forwarder from an earlier
		// handover still runs: the forwarder stops once it has passed on
		// what it holds, and the grain takes another name.
		delete(p.actors, key)
		delete(p.byPID, a.pid.Id)
		p.ending[a.pid.Id]++
		ctx.Poison(a.pid)
	}
	name = p.nameFor(ctx, key)
	v, ok := p.m.table.current(ci.Kind)
	if !ok || !p.m.canRun(ci.Kind, v) {
		return nil, fmt.Errorf("%s does not run %s's current version", ctx.Self().Address, ci.Kind)
	}
	*version = v
	pid, err := p.m.node.Import(g.GetEnvelope(), v, ready, p.grainOptions(ctx, ci, name)...)
	if err != nil {
		return nil, err
	}
	p.actors[key] = &activation{ci: ci, pid: pid, state: arriving, from: pa.NewPID(from, g.GetEnvelope().GetName()), molt: true}
	p.byPID[pid.Id] = key
	return pid, nil
}

func (p *placement) importReady(ctx pa.Context, r *importReady) {
	b := p.in[r.batch]
	if b == nil {
		return
	}
	g := b.grains[r.key]
	if g == nil || g.pid == nil || b.placed {
		return
	}
	b.wait--
	if r.err != nil {
		// It stopped itself: Terminated follows and forgets it.
		g.failure = r.err.Error()
	}
	p.maybePlaced(ctx, b)
}

// maybePlaced answers the old owner once every import of the batch is
// ready or has failed.
func (p *placement) maybePlaced(ctx pa.Context, b *inBatch) {
	if b.placed || b.wait > 0 {
		return
	}
	b.placed = true
	b.timer.Stop()
	out := &HandoverPlaced{HandoverId: b.id}
	for key, g := range b.grains {
		if g.failure == "" {
			out.Placed = append(out.Placed, &PlacedGrain{Key: key, Pid: update.RefOf(g.pid)})
			continue
		}
		out.Failed = append(out.Failed, &FailedGrain{Key: key, Reason: g.failure})
		if g.pid != nil {
			p.discard(key, g.pid)
			g.pid = nil
		}
	}
	ctx.Send(b.answer, out)
	// The old owner decides within twice the handover deadline; past
	// that (and a margin), ask it again.
	self, root := ctx.Self(), p.m.node.Root()
	b.timer = time.AfterFunc(2*p.m.handover.deadline+5*time.Second, func() { root.Send(self, &inTimeout{batch: b.id}) })
}

// inTimedOut handles a batch whose old owner is silent: before the
// answer, the imports that are not ready fail; after it, the old owner is
// asked again for its decision, and if it has left the cluster, the grains
// run here (as a takeover does: those it committed run nowhere else, and
// the others left with it).
func (p *placement) inTimedOut(ctx pa.Context, t *inTimeout) {
	b := p.in[t.batch]
	if b == nil {
		return
	}
	if !b.placed {
		for _, g := range b.grains {
			if g.pid != nil && g.failure == "" {
				g.failure = fmt.Sprintf("it did not start within %v", p.m.handover.deadline)
			}
		}
		b.wait = 0
		p.maybePlaced(ctx, b)
		return
	}
	if !p.m.table.present(b.from) {
		ctx.Logger().Warn("molt cluster: the member that handed grains over left before deciding; they run here", slog.String("from", b.from))
		committed := make([]string, 0, len(b.grains))
		for key, g := range b.grains {
			if g.pid != nil {
				committed = append(committed, key)
			}
		}
		p.decided(ctx, &HandoverDecided{HandoverId: b.id, Committed: committed})
		return
	}
	again := &HandoverPlaced{HandoverId: b.id}
	ctx.Request(pa.NewPID(b.from, PlacementName), again)
	self, root := ctx.Self(), p.m.node.Root()
	b.timer = time.AfterFunc(2*p.m.handover.deadline+5*time.Second, func() { root.Send(self, &inTimeout{batch: b.id}) })
}

// decided releases the grains whose move committed and discards the
// others.
func (p *placement) decided(ctx pa.Context, d *HandoverDecided) {
	b := p.in[d.GetHandoverId()]
	if b == nil || !b.placed {
		return
	}
	b.timer.Stop()
	delete(p.in, b.id)
	now := time.Now()
	gone := &Moved{}
	for _, key := range d.GetCommitted() {
		g := b.grains[key]
		if g == nil || g.pid == nil {
			continue
		}
		a := p.actors[key]
		if a == nil || a.state != arriving || !a.pid.Equal(g.pid) {
			continue
		}
		p.m.node.Release(a.pid)
		gone.Grains = append(gone.Grains, &MovedGrain{Identity: a.ci.Identity, Kind: a.ci.Kind, Old: update.RefOf(a.from)})
		delete(p.elsewhere, key)
		a.state, a.from = live, nil
		g.pid = nil
		p.m.movedIn.Add(1)
		if p.m.onArrival != nil {
			p.m.onArrival(Arrival{
				Identity: a.ci.Identity, Kind: a.ci.Kind, From: b.from,
				FromVersion: g.from, Version: g.to,
				Pause: now.Sub(time.Unix(0, g.held)),
			})
		}
	}
	for key, g := range b.grains {
		if g.pid != nil { // aborted, or not named: it runs on the old owner
			p.discard(key, g.pid)
		}
	}
	p.tell(ctx, gone)
	// A grain that arrived may belong elsewhere by now, or run an older
	// version than its kind's.
	self := ctx.Self().Address
	for _, key := range d.GetCommitted() {
		if a := p.actors[key]; a != nil {
			p.place(ctx, self, key, a)
		}
	}
	p.pump(ctx)
}

// discard stops an import that must not run here: the grain runs on where
// it came from.
func (p *placement) discard(key string, pid *pa.PID) {
	if a := p.actors[key]; a != nil && a.pid.Equal(pid) && a.state == arriving {
		p.elsewhere[key] = runsAt{a.from, time.Now()}
		delete(p.actors, key)
		delete(p.byPID, pid.Id)
		p.ending[pid.Id]++
		p.forgotten(a)
	}
	p.m.node.Discard(pid)
}

// nameFor returns the name of a new activation of key: the key, or, while
// an earlier activation under that name is stopping, the key and a number.
func (p *placement) nameFor(ctx pa.Context, key string) string {
	if p.ending[ctx.Self().Id+"/"+key] == 0 {
		return key
	}
	p.gen++
	return fmt.Sprintf("%s$%d", key, p.gen)
}

// grainOptions are the spawn options of an activation of ci named name (its
// key, or its key and a number when that name is taken), a child of the
// placement actor: the same for an activation with no state and for one
// handed over.
func (p *placement) grainOptions(ctx pa.Context, ci *pc.ClusterIdentity, name string) []molt.SpawnOption {
	// The member's options first: the name, parent and labels are the
	// cluster's.
	return append(slices.Clip(p.m.spawn),
		molt.WithParent(ctx),
		molt.WithName(name),
		molt.WithLabels(map[string]string{LabelIdentity: ci.Identity}),
		molt.WithProps(
			pa.WithOnInit(func(ctx pa.Context) { pc.SetClusterIdentity(ctx, ci) }),
			pa.WithReceiverMiddleware(p.m.middleware),
		),
	)
}

// claiming is an activation waiting for the other members to say whether
// they hold the grain.
type claiming struct {
	ci      *pc.ClusterIdentity
	asked   int
	found   *pa.PID
	waiting []*pa.PID // requesters to answer
}

// claim asks every other member that hosts ci's kind whether it holds the
// grain; the requester gets the PID one of them gives, or, when none does,
// a new activation here.
func (p *placement) claim(ctx pa.Context, ci *pc.ClusterIdentity, hosts []string) {
	key := ci.AsKey()
	c := &claiming{ci: ci, asked: len(hosts), waiting: []*pa.PID{ctx.Sender()}}
	p.claims[key] = c
	wait := max(p.m.lookup.timeout/2, 100*time.Millisecond)
	msg := &Claim{Identity: ci.Identity, Kind: ci.Kind}
	for _, h := range hosts {
		f := ctx.RequestFuture(pa.NewPID(h, PlacementName), msg, wait)
		ctx.ReenterAfter(f, func(res any, err error) {
			if a, ok := res.(*ClaimAnswer); ok && err == nil && a.GetPid() != nil && c.found == nil {
				c.found = a.GetPid().PID()
			}
			c.asked--
			if c.asked == 0 {
				p.claimsAnswered(ctx, key, c)
			}
		})
	}
}

func (p *placement) claimsAnswered(ctx pa.Context, key string, c *claiming) {
	delete(p.claims, key)
	pid := c.found
	if a, ok := p.actors[key]; ok {
		pid = a.where() // handed over meanwhile
	} else if pid == nil {
		pid, _ = p.start(ctx, c.ci)
	}
	for _, to := range c.waiting {
		if to != nil {
			ctx.Send(to, &pc.ActivationResponse{Pid: pid, Failed: pid == nil})
		}
	}
}

// claimed answers another member's Claim.
func (p *placement) claimed(ctx pa.Context, c *Claim) {
	out := &ClaimAnswer{}
	if a, ok := p.actors[pc.NewClusterIdentity(c.GetIdentity(), c.GetKind()).AsKey()]; ok {
		out.Pid = update.RefOf(a.where())
	}
	ctx.Respond(out)
}

// forgotten is called when an activation leaves actors.
func (p *placement) forgotten(a *activation) {
	if a.state == queued {
		p.dequeue(a.ci.AsKey(), a)
	}
}

// leaveCall is Leave's request to the placement actor: hand over every
// grain; done is closed once none is left here but forwarders.
type leaveCall struct {
	done   chan struct{}
	closed bool
}

// leaveStop ends a Leave whose context ended: the grains still here are
// stopped.
type leaveStop struct{}

// checkLeft tells Leave when nothing is left to hand over: every molt
// grain has moved, or has no member to go to.
func (p *placement) checkLeft(ctx pa.Context) {
	l := p.leave
	if l == nil || l.closed || len(p.out.batches) > 0 || len(p.out.queue) > 0 || len(p.in) > 0 {
		return
	}
	for _, a := range p.actors {
		if a.state == moved || !a.molt {
			continue
		}
		if p.m.table.owner(a.ci) != "" {
			return // it may move yet: a failed handover is tried again
		}
	}
	l.closed = true
	close(l.done)
}

// stopRemaining stops every activation that is not a forwarder: what Leave
// could not hand over in time, or that had no member to go to.
func (p *placement) stopRemaining(ctx pa.Context) {
	keys := slices.Sorted(maps.Keys(p.actors))
	for _, key := range keys {
		a := p.actors[key]
		if a.state == moved {
			continue
		}
		if a.molt {
			p.m.lost.Add(1)
		}
		// Stop, not Poison: a grain held by its handover would hold a
		// Poison too.
		ctx.Stop(a.pid)
	}
	if l := p.leave; l != nil && !l.closed {
		l.closed = true
		close(l.done)
	}
}

// Arrival is a grain handed over to a member, as that member saw it once
// the grain ran there.
type Arrival struct {
	Identity, Kind string
	// From is the address of the member it came from.
	From string
	// FromVersion is the version it ran there, Version the one it runs
	// here (its state migrated between them on the way).
	FromVersion, Version uint32
	// Pause is how long the grain took no call: from the start of its
	// hold on the member it came from to its release here, by the wall
	// clock of each member.
	Pause time.Duration
}
