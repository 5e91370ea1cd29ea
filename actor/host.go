package actor

import (
	"errors"
	"fmt"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
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
	mailbox *mailbox.Mailbox
	first   pa.Actor // the behaviour Spawn made, for the first incarnation
}

// produce is the actor's protoactor producer: called at spawn and at every
// restart, it makes a host around a fresh behaviour of the current version.
func (c *cell) produce() pa.Actor {
	b := c.first
	c.first = nil
	if b == nil {
		var err error
		if b, err = c.node.catalog.Instantiate(c.kind, c.version); err != nil {
			panic(fmt.Sprintf("molt: cannot restart %s at version %d: %v", c.kind, c.version, err))
		}
	}
	h := &host{cell: c, behavior: b, adapters: c.node.catalog.Adapters(c.kind, c.version)}
	h.admitFn = h.admit
	return h
}

// request is an update waiting for, or in, its turn.
type request struct {
	req    *update.UpdateActor
	sender *pa.PID // where a Request's result goes
	call   *call   // or an in-process caller
}

// deadline tells a host that the update u may have run out of time.
type deadline struct{ u *update.Update }

func (*deadline) ControlLane() {}

// nextUpdate starts the next queued update once the messages held by the
// previous one have been delivered.
type nextUpdate struct{}

// host is the protoactor actor behind every molt actor: it delivers messages
// to the current behaviour and runs updates. It implements update.Host.
type host struct {
	*cell
	behavior pa.Actor
	adapters *registry.Adapters

	upd     *update.Update
	reply   request
	timer   *time.Timer
	queued  []request
	waiting bool // a nextUpdate is deferred in the mailbox

	lc      messageContext
	admitFn mailbox.Filter
}

func (h *host) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *update.UpdateActor:
		h.request(ctx, request{req: m, sender: ctx.Sender()})
	case *call:
		h.request(ctx, request{req: m.req, call: m})
	case *deadline:
		if h.upd == m.u {
			h.upd.Expire(ctx)
			h.settle(ctx)
		}
	case nextUpdate:
		h.waiting = false
		h.startQueued(ctx)
	case *pa.Restarting:
		h.end(ctx, "the actor is restarting")
		h.deliver(ctx)
	case *pa.Stopping:
		h.end(ctx, "the actor is stopping")
		h.deliver(ctx)
	case *pa.Stopped:
		h.node.directory.Remove(ctx.Self())
		h.deliver(ctx)
	default:
		if h.upd == nil {
			h.deliver(ctx)
			return
		}
		h.deliverPreparing(ctx)
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
	h.lc.Context, h.lc.message, h.lc.sender, h.lc.header = ctx, msg, ctx.Sender(), ctx.MessageHeader()
	defer h.lc.clear()
	h.behavior.Receive(&h.lc)
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
	if h.upd == nil && !h.waiting && len(h.queued) == 0 {
		h.start(ctx, r)
		return
	}
	if len(h.queued) >= MaxQueuedUpdates {
		h.respond(ctx, r, h.refusal(ctx, r.req, fmt.Sprintf("%d updates are already queued on this actor; wait for their results and send it again", len(h.queued))))
		return
	}
	h.queued = append(h.queued, r)
}

func (h *host) start(ctx pa.Context, r request) {
	h.upd, h.reply = update.Start(ctx, h.node.catalog, h, r.req), r
	if h.upd.Done() {
		h.settle(ctx)
		return
	}
	u, self, root := h.upd, ctx.Self(), h.node.system.Root
	h.timer = time.AfterFunc(time.Until(u.Deadline()), func() { root.Send(self, &deadline{u}) })
}

func (h *host) startQueued(ctx pa.Context) {
	if len(h.queued) == 0 {
		return
	}
	r := h.queued[0]
	h.queued[0] = request{}
	h.queued = h.queued[1:]
	h.start(ctx, r)
}

// settle finishes the update in progress if it is done: result out, timer
// stopped, the next queued update lined up behind the held messages.
func (h *host) settle(ctx pa.Context) {
	if h.upd == nil || !h.upd.Done() {
		return
	}
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	res := h.upd.Result()
	if res.Outcome == update.Outcome_OUTCOME_COMMITTED {
		h.node.directory.Set(ctx.Self(), h.kind, h.version)
	}
	r := h.reply
	h.upd, h.reply = nil, request{}
	h.respond(ctx, r, res)
	if len(h.queued) > 0 {
		h.mailbox.Defer(nextUpdate{})
		h.waiting = true
	}
}

// end aborts the update in progress and refuses the queued ones: the actor
// is going away.
func (h *host) end(ctx pa.Context, why string) {
	if h.upd != nil {
		h.upd.Abort(ctx, errors.New(why))
		h.settle(ctx)
	}
	for _, r := range h.queued {
		h.respond(ctx, r, h.refusal(ctx, r.req, why+" before the update could start"))
	}
	h.queued = nil
}

func (h *host) refusal(ctx pa.Context, req *update.UpdateActor, reason string) *update.UpdateResult {
	return &update.UpdateResult{
		UpdateId:    req.GetUpdateId(),
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
	switch {
	case r.call != nil:
		r.call.done <- res
	case r.sender != nil:
		ctx.Send(r.sender, res)
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
	return a.Admit(message)
}

// update.Host

func (h *host) Kind() string       { return h.kind }
func (h *host) Version() uint32    { return h.version }
func (h *host) Behavior() pa.Actor { return h.behavior }
func (h *host) Hold()              { h.mailbox.Hold(h.admitFn) }
func (h *host) Release()           { h.mailbox.Release() }
func (h *host) Held() int          { return h.mailbox.Counts().Held }
func (h *host) Install(version uint32, b pa.Actor, adapters *registry.Adapters) {
	h.version, h.behavior, h.adapters = version, b, adapters
}

func (h *host) Deliver(ctx pa.Context, b pa.Actor, message any) {
	h.lc.Context, h.lc.message, h.lc.sender, h.lc.header = ctx, message, nil, nil
	defer h.lc.clear()
	b.Receive(&h.lc)
}

// messageContext is the context a behaviour sees for a message other than
// the one protoactor is delivering: an adapted message, or a lifecycle
// message of the update. The host owns one and reuses it, so this costs no
// allocation; a behaviour must not keep its context past Receive, which
// protoactor already asks.
type messageContext struct {
	pa.Context
	message any
	sender  *pa.PID
	header  pa.ReadonlyMessageHeader
}

func (c *messageContext) Message() any                            { return c.message }
func (c *messageContext) Sender() *pa.PID                         { return c.sender }
func (c *messageContext) MessageHeader() pa.ReadonlyMessageHeader { return c.header }

// Respond answers the sender of the message; a lifecycle message has none,
// so there is nobody to answer.
func (c *messageContext) Respond(response any) {
	if c.sender != nil {
		c.Context.Send(c.sender, response)
	}
}

func (c *messageContext) clear() { *c = messageContext{} }
