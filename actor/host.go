package actor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"sync/atomic"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/internal/protocol"
	"github.com/molt-go/molt/mailbox"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
)

// MaxQueuedUpdates is how many updates may wait behind the one in progress
// on an actor. Updates sent to an actor that is being updated are queued and
// run one after the other, in arrival order; beyond this many, they are
// rejected.
const MaxQueuedUpdates = 64

// cell is what one spawned actor keeps across restarts of its host.
type cell struct {
	node    *Node
	kind    string
	version uint32
	stopped atomic.Bool // set when the actor has stopped, for Spawn
	labels  map[string]string
	mailbox *mailbox.Mailbox
	first   pa.Actor  // the behaviour Spawn made, for the first incarnation
	stashed []stashed // what protoactor's stash holds for the next incarnation, as the behaviour saw it
	state   cellState // what Node.Status reads from other goroutines

	name       string     // the name it was spawned with, or ""
	moved      *pa.PID    // where the actor went, once an export committed: every incarnation forwards
	imported   *importing // held until released (Import); nil otherwise
	seq        uint64     // sequence of the latest snapshot written or loaded
	persistent bool       // loads its snapshot at restart; may Persist
	incarnated bool       // a host has been made for it: the next is a restart
	shared     bool       // spawned with the node's shared props: its hosts bind themselves
	blank      bool       // the node's placeholder cell of unbound hosts, not an actor's
}

// stashed is a message a behaviour stashed through a message context:
// protoactor keeps raw, the message it was delivering, and gives it back
// after the restart; the behaviour must get message, what it saw, again.
type stashed struct {
	raw, message any
}

// produce is the actor's protoactor producer when it has props of its own
// (spawned with a parent or props options): called at spawn and at every
// restart, it makes a host around a fresh behaviour of the current version.
func (c *cell) produce() pa.Actor {
	h := &host{}
	c.incarnate(h)
	return h
}

// unbound is the producer of the node's shared props: a host that binds
// itself to its cell with its first message (see bind).
func (n *Node) unbound() pa.Actor { return &host{cell: &n.blank} }

// bind makes an unbound host the host of its actor's cell, which Spawn
// (through the props' init hook) or the incarnation before a restart left
// in the node's index of cells waiting to bind.
func (h *host) bind(ctx pa.Context) {
	c := h.node.cells.take(ctx.Self().GetId())
	if c == nil {
		panic(fmt.Sprintf("molt: actor %v has no cell to bind to: spawn molt actors with Node.Spawn", ctx.Self()))
	}
	c.incarnate(h)
}

// incarnate makes h the host of a new incarnation of the actor, around a
// fresh behaviour of the current version. It runs on the actor's goroutine
// (at a restart), or in Spawn.
func (c *cell) incarnate(h *host) {
	if c.incarnated {
		// A restart: the host that held the mailbox is gone, and its
		// update with it (it was aborted, or never answered if it
		// arrived while the actor was restarting), so nothing may stay
		// held.
		c.mailbox.Release()
		c.mailbox.AfterSystem(nil) // the new host sets its own with its first update
	}
	c.incarnated = true
	b := c.first
	c.first = nil
	if c.moved != nil {
		// Restarted after it moved (its parent restarted, say): it goes
		// on forwarding, and never runs here again.
		*h = host{cell: c, behavior: forwarder{}}
		return
	}
	if b == nil && c.persistent && c.name != "" {
		var err error
		if b, err = c.loadSnapshot(c.name); err != nil {
			panic(fmt.Sprintf("molt: cannot restart %s at version %d: %v", c.kind, c.version, err))
		}
	}
	if b == nil {
		var err error
		if b, err = c.node.catalog.Instantiate(c.kind, c.version); err != nil {
			panic(fmt.Sprintf("molt: cannot restart %s at version %d: %v", c.kind, c.version, err))
		}
	}
	*h = host{cell: c, behavior: b, adapters: c.node.catalog.Adapters(c.kind, c.version)}
	// protoactor hands its stash back only to the incarnation after a
	// restart: before one, a message equal to a stashed one is just a
	// message.
	if len(c.stashed) > 0 {
		h.more().unstash = c.stashed
	}
	c.stashed = nil
}

// current is what the host keeps of the update in progress besides the
// update itself: apart, so that an actor that is not being updated does
// not carry it.
type current struct {
	reply request  // where its result goes
	from  pa.Actor // the value that ran when it started: retired if it commits
	// deadline is set on the node's clock once the update outlives its
	// first turn (alarmed): most end in it.
	deadline alarm
	alarmed  bool
}

// request is an update waiting for, or in, its turn.
type request struct {
	req    *update.UpdateActor
	sender *pa.PID     // where a Request's result goes
	call   *call       // or an in-process caller
	export *exportCall // or an export (Node.Export)
}

// deadline tells a host that the update u may have run out of time.
type deadline struct {
	u     *protocol.Update
	epoch uint64 // u's when the alarm was set; u may serve a later update by now
}

func (*deadline) ControlLane() {}

// nextUpdate starts the next queued update of host h once the messages held
// by the previous one have been delivered. One deferred by a host that a
// restart replaced is ignored.
type nextUpdate struct{ h *host }

// The molt's own messages are no activity of the behaviour's: they do not
// reset its receive timeout.
func (*call) NotInfluenceReceiveTimeout()         {}
func (*deadline) NotInfluenceReceiveTimeout()     {}
func (nextUpdate) NotInfluenceReceiveTimeout()    {}
func (*probationEnd) NotInfluenceReceiveTimeout() {}

// probation watches a new version after its commit.
type probation struct {
	updateID string
	report   *pa.PID // where the ProbationResult goes; nil: nowhere
	version  uint32  // on probation
	back     uint32  // to roll back to
	limit    uint32  // messages in the window; 0: no limit
	count    uint32
	start    time.Time
	timer    *time.Timer
}

// probationEnd tells a host that the probation p's time is up.
type probationEnd struct{ p *probation }

func (*probationEnd) ControlLane() {}

// host is the protoactor actor behind every molt actor: it delivers messages
// to the current behaviour and runs updates. It implements protocol.Host.
type host struct {
	*cell
	behavior pa.Actor
	adapters *registry.Adapters

	upd     *protocol.Update
	staged  bool    // the STAGED result of upd has been sent
	waiting bool    // a nextUpdate is deferred in the mailbox
	cont    bool    // the mailbox calls afterContinuation: set with the first update
	leaving leaving // set when the incarnation goes away: updates are refused from then

	lc   *messageContext // made on first use: most actors never need one
	rare *rarely         // made on first use (more): most actors never need it
}

// rarely is what few incarnations need: an update, updates queued behind
// it, a probation, a stash to redeliver, the hold filter bound once. An
// idle actor does without: the host is a third of what a molt actor adds
// to a protoactor one. Made on first use, kept for the incarnation.
type rarely struct {
	cur     current // what upd needs besides
	queued  []request
	probe   *probation
	unstash []stashed      // the cell's stash entries, for this incarnation to match
	admitFn mailbox.Filter // h.admit, bound on the first hold that admits
	last    lastUpdate     // for Status (cellState.last points here)
}

// more returns the host's rarely used part, made on first use.
func (h *host) more() *rarely {
	if h.rare == nil {
		h.rare = &rarely{}
	}
	return h.rare
}

// queue returns the updates queued behind the one in progress.
func (h *host) queue() []request {
	if h.rare == nil {
		return nil
	}
	return h.rare.queued
}

// onProbation returns the probation the version is on, or nil.
func (h *host) onProbation() *probation {
	if h.rare == nil {
		return nil
	}
	return h.rare.probe
}

// leaving says why an incarnation is going away; it refuses updates
// from then on. A code rather than a string: it shares a word with the
// host's flags, and a stopping actor needs no rarely used part for it.
type leaving uint8

const (
	staying leaving = iota
	restarting
	stopping
	stopped
)

func (l leaving) String() string {
	switch l {
	case restarting:
		return "the actor is restarting"
	case stopping:
		return "the actor is stopping"
	case stopped:
		return "the actor stopped"
	}
	return ""
}

func (h *host) Receive(ctx pa.Context) {
	if c := h.cell; c.blank {
		h.bind(ctx)
	} else if c.shared {
		if _, ok := ctx.Message().(*pa.Restarting); ok {
			// The next incarnation's host is made by the shared
			// props, which cannot tell whose it is: it finds the cell
			// here.
			h.node.cells.expect(ctx.Self().GetId(), c)
		}
	}
	if h.rare != nil && len(h.rare.unstash) > 0 && h.redeliver(ctx) {
		return
	}
	if h.node.net != nil && h.refused(ctx) {
		return
	}
	if h.moved != nil && h.forward(ctx) {
		return
	}
	switch m := ctx.Message().(type) {
	case *exportCall:
		h.request(ctx, request{req: m.req, export: m})
	case *exportDecision:
		h.decideExport(ctx, m)
	case releaseImport:
		h.release(ctx)
	case *update.UpdateActor:
		h.request(ctx, request{req: m, sender: ctx.Sender()})
	case *call:
		h.request(ctx, request{req: m.req, call: m})
	case *update.CommitUpdate:
		h.decide(ctx, m.GetUpdateId(), true, "", m.Validate())
	case *update.AbortUpdate:
		h.decide(ctx, m.GetUpdateId(), false, m.GetReason(), m.Validate())
	case *deadline:
		if h.upd == m.u && h.upd.Epoch() == m.epoch {
			h.upd.Expire(ctx)
			if !h.upd.Done() {
				h.armDeadline(ctx)
			}
			h.settle(ctx)
		}
	case *probationEnd:
		if h.onProbation() == m.p {
			h.endProbation(ctx, update.ProbationOutcome_PROBATION_OUTCOME_PASSED, "", 0)
		}
	case nextUpdate:
		if m.h == h {
			h.waiting = false
			h.startQueued(ctx)
		}
	case *pa.Started:
		if h.imported != nil {
			h.deliver(ctx)
			h.startImported(ctx)
			return
		}
		h.node.record.Add(ctx.Self(), h.kind, h.version, h.labels)
		h.started(ctx.Self())
		h.deliver(ctx)
	case *pa.Restarting:
		h.end(ctx, restarting)
		h.deliver(ctx)
	case *pa.Stopping:
		h.end(ctx, stopping)
		h.deliver(ctx)
	case *pa.Stopped:
		h.end(ctx, stopped)
		h.stopped.Store(true)
		h.node.record.Remove(ctx.Self())
		h.ended(ctx.Self())
		h.deliver(ctx)
	default:
		switch {
		case h.upd != nil && h.upd.Staged():
			h.deferStaged(ctx)
		case h.upd != nil:
			h.deliverPreparing(ctx)
		case h.onProbation() != nil:
			h.deliverOnProbation(ctx)
		default:
			h.deliver(ctx)
		}
	}
}

// deliver hands the current message to the behaviour, adapted if the
// version has an adapter for its type.
func (h *host) deliver(ctx pa.Context) {
	if h.adapters == nil {
		h.behavior.Receive(ctx)
		return
	}
	msg, adapted := h.adapters.Adapt(ctx.Message())
	if !adapted {
		h.behavior.Receive(ctx)
		return
	}
	h.show(ctx, h.behavior, shown{message: msg, sender: ctx.Sender(), header: ctx.MessageHeader()})
}

// redeliver gives the behaviour of a restarted actor a message it stashed
// through a message context, in place of the raw message protoactor gives
// back. protoactor's stash is a stack: the entries are matched from the
// most recent, and a message stashed directly in between keeps its place.
func (h *host) redeliver(ctx pa.Context) bool {
	last := len(h.rare.unstash) - 1
	s := h.rare.unstash[last]
	if ctx.Message() != s.raw {
		return false
	}
	h.rare.unstash[last] = stashed{}
	h.rare.unstash = h.rare.unstash[:last]
	// protoactor stashes the message without its sender: so does molt.
	h.show(ctx, h.behavior, shown{message: s.message})
	return true
}

// deferStaged keeps a message that reaches a staged actor outside the
// mailbox's hold (a Terminated, say) for the version that runs after the
// decision: the old state was copied already and must not change.
func (h *host) deferStaged(ctx pa.Context) {
	msg := ctx.Message()
	if s := ctx.Sender(); s != nil {
		env := &pa.MessageEnvelope{Message: msg, Sender: s}
		if hd := ctx.MessageHeader(); hd != nil && hd.Length() > 0 {
			env.Header = hd.ToMap()
		}
		msg = env
	}
	h.mailbox.Defer(msg)
}

// afterContinuation lets a preparing update see what a ReenterAfter
// continuation did: it may have made the behaviour stable.
func (h *host) afterContinuation(ctx pa.Context) {
	if h.upd != nil && !h.upd.Staged() {
		h.upd.Continue(ctx)
		h.settle(ctx)
	}
}

// deliverPreparing delivers a message the behaviour admitted while it drains,
// then lets the update go on. A panic aborts the update before supervision
// sees it.
func (h *host) deliverPreparing(ctx pa.Context) {
	defer func() {
		if r := recover(); r != nil {
			if h.upd != nil {
				h.upd.Abort(ctx, fmt.Errorf("the behaviour panicked while draining to its stable state: %v", r))
			}
			h.settle(ctx)
			panic(r)
		}
	}()
	h.deliver(ctx)
	h.upd.Continue(ctx)
	h.settle(ctx)
}

func (h *host) request(ctx pa.Context, r request) {
	if h.leaving != staying {
		// protoactor may still deliver messages while the actor waits for
		// its children to stop: an update started now would outlive it.
		h.respond(ctx, r, h.refusal(ctx, r.req, h.leaving.String()+"; send the update again once it has restarted"))
		return
	}
	if err := h.Validate(r.req); err != nil {
		// Refused on arrival rather than when its turn comes: nothing
		// about it will change by waiting.
		h.respond(ctx, r, h.refusal(ctx, r.req, err.Error()))
		return
	}
	if r.call != nil && r.req.GetStage() {
		h.respond(ctx, r, h.refusal(ctx, r.req, "a staged update answers twice (STAGED, then its final result): send it with Request from an actor (the update manager does), not with Node.Update"))
		return
	}
	if h.upd == nil && !h.waiting && len(h.queue()) == 0 {
		h.start(ctx, r)
		return
	}
	if len(h.queue()) >= MaxQueuedUpdates {
		h.respond(ctx, r, h.refusal(ctx, r.req, fmt.Sprintf("%d updates are already queued on this actor; wait for their results and send it again", len(h.queue()))))
		return
	}
	x := h.more()
	x.queued = append(x.queued, r)
}

func (h *host) start(ctx pa.Context, r request) {
	if h.onProbation() != nil {
		h.endProbation(ctx, update.ProbationOutcome_PROBATION_OUTCOME_ENDED, "another update started before the window ended", 0)
	}
	if !h.cont {
		// Only an update in progress cares about continuations: an
		// actor that is never updated keeps no closure for it.
		h.cont = true
		h.mailbox.AfterSystem(func() { h.afterContinuation(ctx) })
	}
	h.more()
	h.rare.cur.from = h.behavior
	if r.export != nil {
		h.upd, h.rare.cur.reply = protocol.StartExport(ctx, h.node.catalog, h, r.req), r
	} else {
		h.upd, h.rare.cur.reply = protocol.Start(ctx, h.node.catalog, h, r.req), r
	}
	if !h.upd.Done() {
		h.armDeadline(ctx)
	}
	h.settle(ctx)
}

// armDeadline sets the timer that tells the actor its update's deadline has
// come.
func (h *host) armDeadline(ctx pa.Context) {
	h.rare.cur.alarmed = true
	h.node.deadlines.set(&h.rare.cur.deadline, h.upd.Deadline(), h.upd.Span(), ctx.Self(), deadline{h.upd, h.upd.Epoch()})
}

// decide commits or aborts the update in progress on the word of a
// CommitUpdate or AbortUpdate naming it; invalid, the decision over its
// limits, is refused without being looked at.
func (h *host) decide(ctx pa.Context, updateID string, commit bool, reason string, invalid error) {
	refuse := func(why string) {
		if s := ctx.Sender(); s != nil {
			ctx.Respond(h.refusal(ctx, &update.UpdateActor{UpdateId: updateID}, why))
		}
	}
	if invalid != nil {
		refuse(invalid.Error())
		return
	}
	if h.upd == nil || h.upd.Result().GetUpdateId() != updateID {
		if !commit && h.dropQueued(ctx, updateID, reason) {
			return
		}
		refuse(fmt.Sprintf("no update %q is in progress on this actor", updateID))
		return
	}
	if !commit {
		if reason == "" {
			reason = "aborted on request"
		}
		h.upd.Abort(ctx, errors.New(reason))
	} else if !h.upd.Commit(ctx) {
		refuse(fmt.Sprintf("update %q is not staged yet: commit it once it has answered STAGED", updateID))
		return
	}
	h.settle(ctx)
}

// dropQueued removes a queued update that is aborted before it started; its
// requester is told.
func (h *host) dropQueued(ctx pa.Context, updateID, reason string) bool {
	for i, r := range h.queue() {
		if r.req.GetUpdateId() == updateID {
			h.rare.queued = append(h.rare.queued[:i], h.rare.queued[i+1:]...)
			if reason == "" {
				reason = "aborted on request"
			}
			h.respond(ctx, r, h.refusal(ctx, r.req, reason+", before it started"))
			return true
		}
	}
	return false
}

func (h *host) startQueued(ctx pa.Context) {
	if len(h.queue()) == 0 {
		return
	}
	r := h.rare.queued[0]
	h.rare.queued[0] = request{}
	h.rare.queued = h.rare.queued[1:]
	h.start(ctx, r)
}

// settle finishes the update in progress if it is done: result out, timer
// stopped, the next queued update lined up behind the held messages.
func (h *host) settle(ctx pa.Context) {
	if h.upd == nil {
		return
	}
	if !h.upd.Done() {
		if h.upd.Staged() && !h.staged {
			// The update goes on: answer with a copy, since the
			// result will still change.
			h.staged = true
			res := h.upd.Result()
			if h.rare.cur.reply.export == nil {
				// An export's answer is read on this goroutine, at
				// once; a reply that leaves it must not change.
				res = copyResult(res)
			}
			h.respond(ctx, h.rare.cur.reply, res)
		}
		return
	}
	if h.rare.cur.alarmed {
		h.node.deadlines.cancel(&h.rare.cur.deadline)
	}
	res := h.upd.Result()
	c := h.mailbox.Counts()
	res.QueuedMessages = uint32(c.Held + c.Queued)
	r, from := h.rare.cur.reply, h.rare.cur.from
	var retired *update.Retired
	if res.Outcome == update.Outcome_OUTCOME_COMMITTED {
		retired = h.upd.Retired()
	}
	h.upd.Release()
	h.upd, h.staged, h.rare.cur = nil, false, current{}
	if res.Outcome == update.Outcome_OUTCOME_COMMITTED {
		if h.moved == nil {
			h.node.record.Set(ctx.Self(), h.kind, h.version)
		}
		if spec := r.req.GetProbation(); spec != nil {
			h.startProbation(ctx, res, spec)
		}
		// Before the result: a requester that hears COMMITTED knows
		// the old value has stopped what it owned.
		h.retire(ctx, from, retired)
	}
	h.respond(ctx, r, res)
	if len(h.queue()) > 0 {
		h.mailbox.Defer(nextUpdate{h})
		h.waiting = true
	}
}

// end aborts the update in progress and refuses the queued ones: the actor
// is going away.
func (h *host) end(ctx pa.Context, l leaving) {
	h.leaving = l
	why := l.String()
	if h.onProbation() != nil {
		h.endProbation(ctx, update.ProbationOutcome_PROBATION_OUTCOME_ENDED, why, 0)
	}
	if h.upd != nil {
		h.upd.Abort(ctx, errors.New(why))
		h.settle(ctx)
	}
	for _, r := range h.queue() {
		h.respond(ctx, r, h.refusal(ctx, r.req, why+" before the update could start"))
	}
	if h.rare != nil {
		h.rare.queued = nil
	}
}

func (h *host) refusal(ctx pa.Context, req *update.UpdateActor, reason string) *update.UpdateResult {
	return &update.UpdateResult{
		UpdateId:    protocol.EchoID(req.GetUpdateId()),
		Outcome:     update.Outcome_OUTCOME_REJECTED,
		Kind:        h.kind,
		Actor:       ctx.Self().GetId(),
		FromVersion: h.version,
		ToVersion:   req.GetToVersion(),
		Phase:       update.Phase_PHASE_INITIALIZATION,
		Reason:      reason,
	}
}

func (h *host) respond(ctx pa.Context, r request, res *update.UpdateResult) {
	if res.GetOutcome() != update.Outcome_OUTCOME_STAGED {
		h.updateEnded(res)
	}
	switch {
	case r.export != nil:
		h.answerExport(ctx, r.export, res)
	case r.call != nil:
		r.call.done <- res
		if h.mailbox.UserMessageCount() > 0 {
			// The caller was just woken on this core, behind this worker,
			// which would otherwise deliver up to a throughput's worth of
			// queued messages first: let the caller have its result now.
			runtime.Gosched()
		}
	case r.sender != nil:
		ctx.Send(r.sender, res)
	}
}

// startProbation opens the probation window of a committed update. Its
// outcome never goes to the update's requester, which got its one answer,
// the UpdateResult (a protoactor Future that gets a second message races):
// it goes to the actor the probation names, if any.
func (h *host) startProbation(ctx pa.Context, res *update.UpdateResult, spec *update.Probation) {
	p := &probation{
		updateID: res.GetUpdateId(),
		report:   spec.GetReportTo().PID(),
		version:  res.GetToVersion(),
		back:     res.GetFromVersion(),
		limit:    spec.GetMessages(),
		start:    time.Now(),
	}
	if d := spec.GetDuration(); d != nil {
		self, root := ctx.Self(), h.node.system.Root
		p.timer = time.AfterFunc(d.AsDuration(), func() { root.Send(self, &probationEnd{p}) })
	}
	h.more().probe = p
}

// deliverOnProbation delivers a message to a version on probation: a panic,
// or a broken invariant after the message, rolls the actor back. The state
// is copied before each message, so that a message the new version panicked
// on goes to the old version from the state before it: applied once, not
// on top of what the panic left half done.
func (h *host) deliverOnProbation(ctx pa.Context) {
	p := h.onProbation()
	before, snapErr := h.node.catalog.Copy(h.kind, h.version, h.behavior)
	if r := h.deliverGuarded(ctx); r != nil {
		why := fmt.Sprintf("the new version panicked on %T: %v", ctx.Message(), r)
		if snapErr != nil {
			// No state from before the message: roll back from what the
			// panic left, and do not deliver the message again.
			h.rollBack(ctx, why+"; the message was not delivered again, since the state before it could not be copied: "+snapErr.Error(), h.behavior, nil)
			return
		}
		h.rollBack(ctx, why, before, r)
		return
	}
	p.count++
	if c, ok := h.behavior.(update.Checker); ok {
		if err := checkQuietly(c); err != nil {
			h.rollBack(ctx, fmt.Sprintf("after a %T the new version breaks its invariants: %v", ctx.Message(), err), h.behavior, nil)
			return
		}
	}
	if p.limit > 0 && p.count >= p.limit {
		h.endProbation(ctx, update.ProbationOutcome_PROBATION_OUTCOME_PASSED, "", 0)
	}
}

// deliverGuarded delivers the current message and returns what it panicked
// with, or nil.
func (h *host) deliverGuarded(ctx pa.Context) (panicked any) {
	defer func() { panicked = recover() }()
	h.deliver(ctx)
	return nil
}

func checkQuietly(c update.Checker) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("CheckInvariants panicked: %v", r)
		}
	}()
	return c.CheckInvariants()
}

// rollBack puts the old version back after a failure on probation, its
// state migrated down from state. If the new version panicked on the
// current message, the message is then delivered to the old version, so
// that it is not lost; if the rollback fails, the panic goes on to the
// supervisor.
func (h *host) rollBack(ctx pa.Context, why string, state pa.Actor, panicked any) {
	p := h.onProbation()
	start := time.Now()
	from := h.behavior
	if err := protocol.Rollback(ctx, h.node.catalog, h, state, p.back); err != nil {
		h.endProbation(ctx, update.ProbationOutcome_PROBATION_OUTCOME_ROLLBACK_FAILED, why+"; the rollback failed: "+err.Error(), time.Since(start))
		if panicked != nil {
			panic(panicked)
		}
		return
	}
	h.node.record.Set(ctx.Self(), h.kind, h.version)
	h.retire(ctx, from, &update.Retired{UpdateID: p.updateID, From: p.version, To: p.back, RolledBack: true})
	h.endProbation(ctx, update.ProbationOutcome_PROBATION_OUTCOME_ROLLED_BACK, why, time.Since(start))
	if panicked != nil {
		h.deliver(ctx)
	}
}

// retire tells b, a value that no longer runs, that it has been replaced.
// Its panic is its own affair: the version that replaced it is installed
// and must not pay for it.
func (h *host) retire(ctx pa.Context, b pa.Actor, m *update.Retired) {
	defer func() {
		if r := recover(); r != nil {
			ctx.Logger().Warn("molt: a retired version panicked on Retired; the panic was recovered",
				slog.String("actor", ctx.Self().GetId()), slog.String("kind", h.kind), slog.String("update_id", m.UpdateID),
				slog.Uint64("retired_version", uint64(m.From)), slog.Uint64("version", uint64(m.To)), slog.Any("panic", r))
		}
	}()
	h.Deliver(ctx, b, m)
}

func (h *host) endProbation(ctx pa.Context, outcome update.ProbationOutcome, reason string, rollback time.Duration) {
	p := h.rare.probe
	h.rare.probe = nil
	if p.timer != nil {
		p.timer.Stop()
	}
	res := &update.ProbationResult{
		UpdateId:         p.updateID,
		Outcome:          outcome,
		Kind:             h.kind,
		Actor:            ctx.Self().GetId(),
		ProbationVersion: p.version,
		Version:          h.version,
		Reason:           reason,
		Messages:         p.count,
		DurationNs:       int64(time.Since(p.start)),
		RollbackNs:       int64(rollback),
	}
	// The log is where the outcome shows when nobody asked to hear it; a
	// failure is worth a warning either way.
	level := slog.LevelInfo
	if outcome == update.ProbationOutcome_PROBATION_OUTCOME_ROLLED_BACK || outcome == update.ProbationOutcome_PROBATION_OUTCOME_ROLLBACK_FAILED {
		level = slog.LevelWarn
	}
	ctx.Logger().Log(context.Background(), level, "molt: probation ended",
		slog.String("actor", res.Actor), slog.String("kind", res.Kind), slog.String("update_id", res.UpdateId),
		slog.String("outcome", outcome.String()), slog.Uint64("probation_version", uint64(res.ProbationVersion)),
		slog.Uint64("version", uint64(res.Version)), slog.String("reason", reason))
	if p.report != nil {
		ctx.Send(p.report, res)
	}
}

// admit is the mailbox's filter while an update prepares.
func (h *host) admit(message any) (ok bool) {
	a, isAdmitter := h.behavior.(update.Admitter)
	if !isAdmitter {
		return false
	}
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if env, isEnvelope := message.(*pa.MessageEnvelope); isEnvelope {
		message = env.Message
	}
	switch message.(type) {
	case *update.UpdateActor, *call:
		// An update sent in order waits its turn among the user
		// messages; admitted now, it would overtake those held before it.
		return false
	}
	return a.Admit(message)
}

// protocol.Host

func (h *host) Kind() string       { return h.kind }
func (h *host) Version() uint32    { return h.version }
func (h *host) Behavior() pa.Actor { return h.behavior }
func (h *host) Hold(admit bool) {
	if admit {
		x := h.more()
		if x.admitFn == nil {
			x.admitFn = h.admit
		}
		h.mailbox.Hold(x.admitFn)
	} else {
		h.mailbox.Hold(nil)
	}
}
func (h *host) Release()  { h.mailbox.Release() }
func (h *host) Held() int { return h.mailbox.Counts().Held }

// Validate is the node's validate: a request sent to every member of a
// group is checked once.
func (h *host) Validate(req *update.UpdateActor) error { return h.node.validate(req) }

func (h *host) Install(version uint32, b pa.Actor, adapters *registry.Adapters) {
	h.version, h.behavior, h.adapters = version, b, adapters
}

func (h *host) Deliver(ctx pa.Context, b pa.Actor, message any) {
	h.show(ctx, b, shown{message: message})
}

// show delivers to b, through the host's message context, a message other
// than the one protoactor is delivering on ctx. What the context showed
// before is put back after: it was showing nothing, unless a behaviour's
// Receive is running further up the stack.
func (h *host) show(ctx pa.Context, b pa.Actor, m shown) {
	c := h.lc
	if c == nil || c.Context != ctx {
		// A new context rather than a changed one: a goroutine may be
		// using the old one, and reads its protoactor context unlocked.
		c = &messageContext{Context: ctx, h: h}
		h.lc = c
	}
	m.on = true
	prev := c.cur
	c.cur = m
	defer func() { c.cur = prev }()
	b.Receive(c)
}

// shown is what a message context shows as the current message, while on.
type shown struct {
	on      bool
	message any
	sender  *pa.PID
	header  pa.ReadonlyMessageHeader
}

// messageContext is the context a behaviour sees for a message other than
// the one protoactor is delivering: an adapted message, or a lifecycle
// message of the update. While that message is delivered, everything that
// reads the current message (Message, Sender, MessageHeader, Respond,
// Forward, Stash, ReenterAfter) sees it; at any other time the context is
// protoactor's, unchanged. So a behaviour may keep it as it keeps
// protoactor's: after Receive returns it still sends, spawns and answers
// Self, and Message reports what the actor handles then. The host makes
// one and reuses it, so this costs one allocation per actor incarnation at
// most.
type messageContext struct {
	pa.Context // never changes: goroutines that kept the context read it
	h          *host
	cur        shown // written and read on the actor's goroutine only
}

func (c *messageContext) Message() any {
	if c.cur.on {
		return c.cur.message
	}
	return c.Context.Message()
}

func (c *messageContext) Sender() *pa.PID {
	if c.cur.on {
		return c.cur.sender
	}
	return c.Context.Sender()
}

func (c *messageContext) MessageHeader() pa.ReadonlyMessageHeader {
	if c.cur.on {
		return c.cur.header
	}
	return c.Context.MessageHeader()
}

// Respond answers the sender of the message; a lifecycle message has none,
// so there is nobody to answer.
func (c *messageContext) Respond(response any) {
	if !c.cur.on {
		c.Context.Respond(response)
		return
	}
	if c.cur.sender != nil {
		c.Context.Send(c.cur.sender, response)
	}
}

// Forward passes the message on as the behaviour sees it, with its sender
// and headers, as protoactor forwards its envelope: the receiver may accept
// only the adapted message.
func (c *messageContext) Forward(pid *pa.PID) {
	if !c.cur.on {
		c.Context.Forward(pid)
		return
	}
	var msg any = c.cur.message
	hd := c.cur.header
	if c.cur.sender != nil || (hd != nil && hd.Length() > 0) {
		env := &pa.MessageEnvelope{Message: msg, Sender: c.cur.sender}
		if hd != nil && hd.Length() > 0 {
			env.Header = hd.ToMap()
		}
		msg = env
	}
	c.Context.Send(pid, msg)
}

// Stash stashes the message the behaviour sees. protoactor's stash is out
// of reach and takes its own current message: it keeps its place there,
// and the host swaps the behaviour's message back in when protoactor
// delivers it after the restart. A raw message of a type that cannot be
// compared cannot be recognised then: it comes back as protoactor kept it,
// adapted again if an adapter applies.
func (c *messageContext) Stash() {
	c.Context.Stash()
	if !c.cur.on {
		return
	}
	raw := c.Context.Message()
	if t := reflect.TypeOf(raw); t != nil && t.Comparable() {
		c.h.cell.stashed = append(c.h.cell.stashed, stashed{raw: raw, message: c.cur.message})
	}
}

// ReenterAfter runs the continuation with the context showing the message
// it was started from, as protoactor does for its own.
func (c *messageContext) ReenterAfter(f *pa.Future, cont func(res any, err error)) {
	if !c.cur.on {
		c.Context.ReenterAfter(f, cont)
		return
	}
	m := c.cur
	c.Context.ReenterAfter(f, func(res any, err error) {
		prev := c.cur
		c.cur = m
		defer func() { c.cur = prev }()
		cont(res, err)
	})
}
