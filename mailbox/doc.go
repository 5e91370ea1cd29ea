// Package mailbox implements an update-aware mailbox for protoactor-go
// actors: the mailbox a live update needs to stop an actor's stream of user
// messages at a precise point, let chosen messages through while the actor
// drains to a stable state, and resume the stream without losing,
// duplicating or reordering a message.
//
// A [Mailbox] is an actor.Mailbox. It keeps the semantics of protoactor's
// default mailbox: system messages are delivered before any other;
// actor.SuspendMailbox stops the delivery of everything but system messages
// until actor.ResumeMailbox; the dispatcher's throughput bounds how many
// messages are delivered before the goroutine yields; a panic while a
// message is delivered is passed to the invoker's EscalateFailure with that
// message, so that the actor's supervisor decides; an actor.MessageBatch is
// posted message by message and then as itself; and every
// actor.MailboxMiddleware is told of each post, each delivery, the start and
// each time the queue runs empty. Install it with actor.WithMailbox:
//
//	props := actor.PropsFromProducer(newWorker, actor.WithMailbox(mailbox.Producer()))
//
// # Lanes
//
// A message waits in one of four places, and the next message delivered is
// always taken from the first of them that has one:
//
//  1. system messages, in the order they were posted;
//  2. the control lane: user messages that implement [Control], or an
//     *actor.MessageEnvelope wrapping one, in the order they were posted;
//  3. parked messages, in the order they were parked, but only once the
//     mailbox has been released;
//  4. queued user messages, in the order they were posted.
//
// A control message therefore overtakes every user message queued before
// it, and is delivered even while user messages are held; a control message
// never overtakes another. Control messages are delivered to the actor's
// Receive like any user message, on the actor's goroutine.
//
// # Hold, filter, release and defer
//
// [Mailbox.Hold] puts the mailbox in hold mode. From then on every user
// message taken off the queue is shown to the [Filter] given to Hold: a
// message the filter admits is delivered at once; any other is parked, and
// parked messages keep their arrival order. A nil filter parks everything.
// Holding again replaces the filter; what is already parked stays parked.
//
// [Mailbox.Release] ends hold mode. The parked messages are then delivered,
// in order, before any user message still queued, so a parked message is
// never overtaken by one posted after it. [Mailbox.Defer] parks a message of
// the actor's choosing behind every message parked so far: it is delivered
// after them, once the mailbox is released, and ahead of the queued user
// messages. An actor defers a message to come back to some work only after
// what it held has been served.
//
// The only reordering of user messages the mailbox ever does is the one a
// filter asks for: an admitted message overtakes the messages parked before
// it. With filters that admit nothing, each sender's messages are delivered
// in the order it posted them, however often the mailbox holds and releases.
//
// [Mailbox.Counts] reports how many user messages are queued, how many are
// held (parked or deferred) and how many control messages wait;
// UserMessageCount, which protoactor reads for its metrics, counts the
// queued and the held user messages.
//
// # The consumer goroutine
//
// Hold, Release, Holding and Defer change state that only the goroutine
// delivering the mailbox's messages uses, and may be called only from that
// goroutine: from inside the actor's Receive (the invoker's
// InvokeUserMessage), whatever the message. Calling them from
// anywhere else is a data race. The post methods, UserMessageCount and
// Counts may be called from any goroutine.
//
// This rule is what keeps the message path as cheap as protoactor's own:
// hold mode, the filter and the parking area are never shared, so they need
// no lock; a posted message costs one short lock on its queue, and steady
// traffic allocates nothing.
//
// # Why the update barrier travels on the control lane
//
// A live update must cut the actor's stream of user messages at one point:
// the messages delivered before the cut reach the old version, every later
// one reaches the new version (or, if the update aborts, the old one), in
// order. A system message cannot mark that point, because protoactor
// delivers system messages before all queued user messages, wherever in the
// stream they were posted; and SuspendMailbox stops delivery without telling
// the actor which messages it has already seen. Posted as an ordinary user
// message, the update request would wait behind everything queued before it,
// with no bound on how long.
//
// On the control lane the request is delivered as soon as the current
// message has been handled, on the actor's own goroutine, between two
// deliveries, when the actor's state is consistent. The actor then calls
// Hold there, which makes the cut exact: every message delivered so far
// reached the old version, and every message parked or still queued will be
// delivered, in order, to whichever version is in place when the actor
// calls Release. The preparation filter lets through the messages the old
// version still needs to reach a stable state (the replies it waits for,
// for example), and the update's deadline is itself a control message, so
// it arrives however many user messages are held.
package mailbox
