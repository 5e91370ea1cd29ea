// Package update is molt's cooperative update of one actor: the wire
// messages that ask for an update and report it, the hooks through which a
// behaviour takes part in its own update, and the six phases an update goes
// through.
//
// # Asking for an update
//
// Send an UpdateActor to a molt actor's PID with Request, from anywhere
// (another actor, the root context, another process once the PID is
// remote); the UpdateResult comes back to the sender. In process,
// actor.Node.Update does the same without the cost of a protoactor Future.
// UpdateActor travels on the mailbox's control lane: it overtakes the user
// messages queued before it. Every user message the actor has not yet
// received when the update starts goes to the version that runs after it.
//
// A requester gets one answer to one request: the UpdateResult. (A staged
// update, for all-or-nothing groups, answers STAGED first and its final
// result once decided.) With a Probation, how the window after the commit
// ended goes in a ProbationResult to the actor Probation.report_to names
// (RefOf makes the reference), never to the requester; with no report_to
// none is sent, and the outcome shows in the node's directory and log.
//
// # Limits
//
// Requests may come from other processes, so what they carry is bounded:
// a deadline from MinDeadline to MaxDeadline, a probation up to
// MaxProbation, ids up to MaxIDLength bytes, groups up to MaxGroupMembers,
// an abort's reason up to MaxReasonLength bytes. UpdateActor.Validate,
// CommitUpdate.Validate and AbortUpdate.Validate check them; an actor
// checks a request as it arrives and rejects one over a limit with a
// reason naming it, without echoing an oversized id in the result.
//
// # The six phases
//
// The phases run in order, on the actor's own goroutine:
//
//  1. Initialization: the request is validated (its limits, target
//     version, deadline, optional from_version; an update to the version
//     the actor runs has nothing to do) and planned against the registry: the chain of
//     migrations and the check of the message interface. Nothing has been
//     touched; a failure here rejects the update.
//  2. Notification: a Notifiable behaviour hears that the update is coming.
//  3. Preparation: user messages are held in arrival order; the ones an
//     Admitter admits go through, and a Quiescent behaviour is asked after
//     each message whether it is Stable. The deadline bounds this phase.
//  4. State checking: the old state's invariants (Checker).
//  5. State transfer: the migration chain builds the new state from an
//     isolated copy of the old one, and the new state's invariants are
//     checked.
//  6. Replacement: the new version is installed under the same PID and
//     receives VersionChanged; then the held messages are delivered, in
//     order, before any newer one.
//
// A failure, panic or deadline in phases 2 to 6 aborts the update: the
// actor keeps the old behaviour value, with its state exactly as it was, and
// its held messages are released in order. The UpdateResult names the phase
// that failed and why, the number of messages held and the time spent in
// each phase.
//
// A behaviour that implements none of the hooks is stable between any two
// messages: its whole update happens within the one delivery of the
// UpdateActor, and nothing is held at all.
//
// # The life of a behaviour value
//
// A value starts with protoactor's Started (at spawn, or a fresh one after
// a restart) or with VersionChanged (made by a migration, on a commit or a
// probation rollback). While it runs, an update may tell it UpdateComing
// (Notifiable) and, if the update then fails or is aborted, Aborted: it
// runs on. When an update commits, the new value handles VersionChanged,
// then the old one receives Retired, its last message, before any further
// message reaches the new one and before the result goes out; after a
// probation rollback, the value rolled back from is retired likewise
// (Retired.RolledBack). Retired never follows an abort. A value that
// protoactor restarts or stops hears Restarting or Stopping instead. A
// behaviour may keep the context of any of these messages past Receive,
// as it may keep protoactor's. docs/writing-an-updatable-actor.md draws
// the whole cycle.
//
// # What is bounded and what is not
//
// The deadline (DefaultDeadline unless the request sets one, from
// MinDeadline to MaxDeadline) bounds waiting for the stable state, and is checked again
// after state transfer. Hooks and migrations are the behaviour's own code
// running on its goroutine: one that blocks forever cannot be interrupted,
// as no Go code can be, so keep them short and non-blocking.
//
// # Who runs the protocol
//
// The actor that receives the UpdateActor runs the phases itself. The
// machinery is internal to molt, so that an update only ever starts from a
// request: one at a time per actor, with its deadline armed, its result sent
// once and the node's directory kept up to date. Test a behaviour's hooks
// on an actor.Node, and its migrations with package registry/registrytest.
package update
