package mailbox

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// Control marks a message that travels on the control lane: it overtakes
// queued user messages and is delivered even while user messages are held.
// A message wrapped in an *actor.MessageEnvelope counts if the wrapped
// message does.
type Control interface {
	ControlLane()
}

// Filter reports whether a user message may be delivered while the mailbox
// holds. The message is the one posted, which may be an *actor.MessageEnvelope.
// A Filter that panics keeps the message parked and escalates the panic to
// the supervisor, as a panic in Receive does.
type Filter func(message any) bool

// Counts is a snapshot of what a mailbox has waiting.
type Counts struct {
	Queued  int // user messages posted and not yet examined
	Held    int // user messages parked by hold mode
	Control int // control messages not yet delivered
}

const (
	idle int32 = iota
	running
)

// Mailbox is an update-aware actor.Mailbox. Besides protoactor's semantics
// (system messages first, suspend and resume, throughput yield, panics
// escalated to the supervisor) it has a control lane, a hold mode that parks
// user messages in arrival order, a preparation filter that lets chosen
// messages through while holding, and release, which delivers parked
// messages before any newer one.
//
// Post*, UserMessageCount and Counts may be called from any goroutine. Hold,
// Release, Holding and Defer may only be called from the goroutine that is
// delivering the mailbox's messages, that is from inside the actor's Receive:
// the mailbox state they change is never shared, which is what keeps the
// message path free of extra locks.
type Mailbox struct {
	// Written by producers: the inboxes under mu, status by a CAS on each
	// post that finds the mailbox idle.
	mu     sync.Mutex // the inboxes' lock
	status atomic.Int32
	user   inbox

	// Rarely written, then read-mostly: they keep the producers' hot fields
	// above and the consumer's below on different cache lines, without
	// padding.
	//
	// The system and control lanes are made on first use (under mu, never
	// dropped): an idle actor has seen one system message, Started, which
	// protoactor posts once, at spawn, before any other, and which needs no
	// queue. Together they are 40 % of a mailbox.
	started     atomic.Pointer[actor.Started] // posted and not yet delivered
	rare        atomic.Pointer[lanes]
	invoker     actor.MessageInvoker
	dispatcher  actor.Dispatcher
	process     func()                     // m.processMessages, bound once: scheduling allocates nothing
	middlewares *[]actor.MailboxMiddleware // nil without: most mailboxes have none

	// Written by the consumer.
	userOut   outbox
	suspended atomic.Int32
	holding   bool // consumer only
	held      atomic.Int64

	// Consumer-only state.
	parking *parking // made when first needed: most actors never hold
}

// lanes are the system and control lanes: inboxes written under the
// mailbox's lock, outboxes by the consumer.
type lanes struct {
	system     inbox
	control    inbox
	systemOut  outbox
	controlOut outbox
}

// lanes returns the mailbox's system and control lanes, made on first
// use. Producers only: the consumer reads m.rare, nil when nothing was
// ever posted there.
func (m *Mailbox) lanes() *lanes {
	if l := m.rare.Load(); l != nil {
		return l
	}
	m.mu.Lock()
	l := m.rare.Load()
	if l == nil {
		l = new(lanes)
		m.rare.Store(l)
	}
	m.mu.Unlock()
	return l
}

// parking is where a holding mailbox parks messages.
type parking struct {
	parked      fifo
	heldSystem  fifo   // system messages that run behaviour code, parked by a strict hold
	admit       Filter // the hold's filter; nil parks every user message
	afterSystem func() // called after a system message that runs behaviour code, while holding
}

var _ actor.Mailbox = (*Mailbox)(nil)

// New returns a mailbox that reports to the given middlewares, as
// protoactor's default mailbox does.
func New(middlewares ...actor.MailboxMiddleware) *Mailbox {
	m := &Mailbox{}
	if len(middlewares) > 0 {
		m.middlewares = &middlewares
	}
	return m
}

// mws returns the mailbox's middlewares.
func (m *Mailbox) mws() []actor.MailboxMiddleware {
	if m.middlewares == nil {
		return nil
	}
	return *m.middlewares
}

// Producer returns an actor.MailboxProducer for actor.WithMailbox.
func Producer(middlewares ...actor.MailboxMiddleware) actor.MailboxProducer {
	return func() actor.Mailbox { return New(middlewares...) }
}

// Queued is implemented by a Control message that may ask, message by
// message, to wait its turn instead: when WaitsItsTurn returns true, the
// message is queued with the user messages, in arrival order, and reaches
// the actor after every message posted before it. (An update sent "in
// order" is one: it takes effect after the messages queued before it.)
type Queued interface {
	WaitsItsTurn() bool
}

// IsControl reports whether message travels on the control lane.
func IsControl(message any) bool {
	if env, ok := message.(*actor.MessageEnvelope); ok {
		message = env.Message
	}
	if _, ok := message.(Control); !ok {
		return false
	}
	q, ok := message.(Queued)
	return !ok || !q.WaitsItsTurn()
}

// PostUserMessage queues a user message, or a control message on the control
// lane. A batch is posted message by message and then as itself, as
// protoactor's default mailbox does.
func (m *Mailbox) PostUserMessage(message any) {
	if batch, ok := message.(actor.MessageBatch); ok {
		for _, msg := range batch.GetMessages() {
			m.PostUserMessage(msg)
		}
	} else if env, ok := message.(*actor.MessageEnvelope); ok {
		if batch, ok := env.Message.(actor.MessageBatch); ok {
			for _, msg := range batch.GetMessages() {
				m.PostUserMessage(msg)
			}
		}
	}
	for _, mw := range m.mws() {
		mw.MessagePosted(message)
	}
	if IsControl(message) {
		m.lanes().control.push(&m.mu, message)
	} else {
		m.user.push(&m.mu, message)
	}
	m.schedule()
}

// PostSystemMessage queues a system message; system messages are delivered
// before any other.
func (m *Mailbox) PostSystemMessage(message any) {
	for _, mw := range m.mws() {
		mw.MessagePosted(message)
	}
	if s, ok := message.(*actor.Started); ok && m.started.CompareAndSwap(nil, s) {
		// Posted at spawn, before any other system message: delivered
		// first, it keeps its order without a queue.
		m.schedule()
		return
	}
	m.lanes().system.push(&m.mu, message)
	m.schedule()
}

// RegisterHandlers is called by protoactor when the actor is spawned.
func (m *Mailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.invoker = invoker
	m.dispatcher = dispatcher
	m.process = m.processMessages
}

// Start is called by protoactor once the actor is ready.
func (m *Mailbox) Start() {
	for _, mw := range m.mws() {
		mw.MailboxStarted()
	}
}

// UserMessageCount returns the user messages waiting, queued or held.
func (m *Mailbox) UserMessageCount() int {
	return m.userLen() + int(m.held.Load())
}

// Counts returns what the mailbox has waiting. The three numbers are read
// one after the other, not as one atomic snapshot.
func (m *Mailbox) Counts() Counts {
	return Counts{Queued: m.userLen(), Held: int(m.held.Load()), Control: m.controlLen()}
}

func (m *Mailbox) userLen() int { return length(&m.user, &m.userOut) }

func (m *Mailbox) systemLen() int {
	n := 0
	if m.started.Load() != nil {
		n = 1
	}
	if l := m.rare.Load(); l != nil {
		n += length(&l.system, &l.systemOut)
	}
	return n
}

func (m *Mailbox) controlLen() int {
	if l := m.rare.Load(); l != nil {
		return length(&l.control, &l.controlOut)
	}
	return 0
}

// park returns the parking area, made on first use.
func (m *Mailbox) park() *parking {
	if m.parking == nil {
		m.parking = &parking{}
	}
	return m.parking
}

// parkedLen and heldSystemLen are the consumer's counts of what is parked.
func (m *Mailbox) parkedLen() int {
	if m.parking == nil {
		return 0
	}
	return m.parking.parked.len()
}

func (m *Mailbox) heldSystemLen() int {
	if m.parking == nil {
		return 0
	}
	return m.parking.heldSystem.len()
}

// Hold starts hold mode: from the next user message on, a message that admit
// rejects is parked, in arrival order, and one that admit accepts is
// delivered. A nil admit parks every user message, and also the system
// messages that run behaviour code (protoactor's ReenterAfter
// continuations), which are delivered on release before anything else.
// Holding again replaces the filter; messages already parked stay parked.
// Control messages, and protoactor's lifecycle and supervision system
// messages, are never held.
func (m *Mailbox) Hold(admit Filter) {
	m.holding = true
	if admit != nil || m.parking != nil {
		m.park().admit = admit
	}
}

// Release ends hold mode. Parked messages are delivered, in order, before any
// user message that is still queued.
func (m *Mailbox) Release() {
	m.holding = false
	if m.parking != nil {
		m.parking.admit = nil
	}
}

// Holding reports whether the mailbox is in hold mode.
func (m *Mailbox) Holding() bool { return m.holding }

// AfterSystem sets a function called, on the consumer goroutine, after each
// system message that runs behaviour code (a ReenterAfter continuation) is
// delivered while the mailbox holds: an actor draining to a stable state may
// get there in a continuation, which it would not otherwise see.
func (m *Mailbox) AfterSystem(fn func()) {
	if fn != nil || m.parking != nil {
		m.park().afterSystem = fn
	}
}

// filter returns the hold's filter, nil if it parks everything.
func (m *Mailbox) filter() Filter {
	if m.parking == nil {
		return nil
	}
	return m.parking.admit
}

// Defer parks message behind every message parked so far. It is delivered
// once the mailbox is released and the messages parked before it have been
// delivered, ahead of queued user messages: an actor uses it to come back to
// some work only after what it held has been served.
func (m *Mailbox) Defer(message any) {
	m.park().parked.push(message)
	m.held.Add(1)
}

func (m *Mailbox) schedule() {
	if m.status.CompareAndSwap(idle, running) {
		m.dispatcher.Schedule(m.process)
	}
}

func (m *Mailbox) processMessages() {
	for {
		m.run()
		// Read while the consumer state is still ours: run may have
		// stopped on a panic right after a Release.
		released := !m.holding && (m.parkedLen() > 0 || m.heldSystemLen() > 0)
		m.status.Store(idle)
		// A message posted after run saw an empty queue, and before the
		// status went idle, did not schedule us: look again.
		pending := m.systemLen() > 0 ||
			(m.suspended.Load() == 0 && (released || m.userLen() > 0 || m.controlLen() > 0))
		if !pending || !m.status.CompareAndSwap(idle, running) {
			break
		}
	}
	if m.UserMessageCount() == 0 && m.suspended.Load() == 0 {
		for _, mw := range m.mws() {
			mw.MailboxEmpty()
		}
	}
}

// next returns the next message to deliver and whether it is a system
// message, or nil when there is nothing to deliver now.
func (m *Mailbox) next() (any, bool) {
	if s := m.started.Load(); s != nil {
		m.started.Store(nil)
		return s, true
	}
	for {
		l := m.rare.Load()
		// System messages are rare: their lane keeps no buffer once
		// drained.
		if msg := l.popSystem(&m.mu); msg != nil {
			if m.holding && m.filter() == nil && !lifecycle(msg) {
				m.park().heldSystem.push(msg)
				continue
			}
			return msg, true
		}
		if !m.holding && m.heldSystemLen() > 0 {
			return m.parking.heldSystem.pop(), true
		}
		if m.suspended.Load() == 1 {
			return nil, false
		}
		if l != nil {
			refill := l.controlOut.head == len(l.controlOut.out)
			if msg := l.popControl(&m.mu); msg != nil {
				if refill && l.systemPending() {
					// Posted before some of the control messages
					// just taken, after the look at its lane above.
					l.controlOut.unpop(msg)
					continue
				}
				return msg, false
			}
		}
		if !m.holding && m.parkedLen() > 0 {
			m.held.Add(-1)
			return m.parking.parked.pop(), false
		}
		refill := m.userOut.head == len(m.userOut.out)
		msg := m.userOut.pop(&m.mu, &m.user, true)
		if msg != nil && refill && m.rare.Load().pending() {
			// A system or control message was posted before some of the
			// user messages just taken, after the look at its lane above
			// (or with the lanes, made by the first control message): it
			// goes first, so that a user message never overtakes a
			// control message posted before it.
			m.userOut.unpop(msg)
			continue
		}
		if msg == nil || !m.holding || m.admits(msg) {
			return msg, false
		}
		m.park().parked.push(msg)
		m.held.Add(1)
	}
}

// popSystem pops the system lane's next message, nil from lanes never
// made; popControl the control lane's, of lanes that exist. Consumer only.
func (l *lanes) popSystem(mu *sync.Mutex) any {
	if l == nil {
		return nil
	}
	return l.systemOut.pop(mu, &l.system, false)
}

func (l *lanes) popControl(mu *sync.Mutex) any {
	return l.controlOut.pop(mu, &l.control, true)
}

// systemPending and pending report whether the system lane, or either
// lane, has messages not popped yet. Any goroutine may call them; a nil
// lanes has none.
func (l *lanes) systemPending() bool {
	return l != nil && length(&l.system, &l.systemOut) > 0
}

func (l *lanes) pending() bool {
	return l != nil && (length(&l.system, &l.systemOut) > 0 || length(&l.control, &l.controlOut) > 0)
}

// lifecycle reports whether a system message is one of protoactor's
// lifecycle and supervision messages, which are never held. The others
// (ReenterAfter's continuations) run behaviour code.
func lifecycle(msg any) bool {
	switch msg.(type) {
	case *actor.Started, *actor.Stop, *actor.Restart, *actor.Watch, *actor.Unwatch,
		*actor.Terminated, *actor.Failure, *actor.SuspendMailbox, *actor.ResumeMailbox:
		return true
	}
	return false
}

// filterPanic carries a panic of the Filter, and the message it was looking
// at, to run's recover.
type filterPanic struct {
	reason  any
	message any
}

// admits asks the filter about msg. If the filter panics, msg is parked, so
// that it is not lost, and the panic goes to the supervisor with msg.
func (m *Mailbox) admits(msg any) bool {
	admit := m.filter()
	if admit == nil {
		return false
	}
	defer func() {
		if r := recover(); r != nil {
			m.park().parked.push(msg)
			m.held.Add(1)
			panic(filterPanic{reason: r, message: msg})
		}
	}()
	return admit(msg)
}

func (m *Mailbox) run() {
	var msg any
	defer func() {
		if r := recover(); r != nil {
			if fp, ok := r.(filterPanic); ok {
				r, msg = fp.reason, fp.message
			}
			m.invoker.EscalateFailure(r, msg)
		}
	}()

	i, t := 0, m.dispatcher.Throughput()
	for {
		if i > t {
			i = 0
			runtime.Gosched()
		}
		i++

		var system bool
		if msg, system = m.next(); msg == nil {
			return
		}
		if system {
			switch msg.(type) {
			case *actor.SuspendMailbox:
				m.suspended.Store(1)
			case *actor.ResumeMailbox:
				m.suspended.Store(0)
			default:
				m.invoker.InvokeSystemMessage(msg)
				if m.holding && m.parking != nil && m.parking.afterSystem != nil && !lifecycle(msg) {
					m.parking.afterSystem()
				}
			}
		} else {
			m.invoker.InvokeUserMessage(msg)
		}
		for _, mw := range m.mws() {
			mw.MessageReceived(msg)
		}
	}
}
