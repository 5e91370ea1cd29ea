// Package actor spawns and hosts molt's live-updatable actors on
// protoactor-go.
//
// A behaviour version is ordinary protoactor code: a type with
// Receive(actor.Context), registered by kind and version in a
// registry.Catalog. The behaviour value is also the version's state; its
// exported fields are what the codec carries. It may implement the
// cooperative hooks of package update (Notifiable, Quiescent, Admitter,
// Checker) to take part in its own update.
//
// A Node spawns actors by kind and version. The PID it returns is an
// ordinary *actor.PID and stays the same across every update: users keep
// protoactor's Send, Request and Respond, props options (supervision,
// middleware, dispatchers), children, and watching. Behind the PID a host
// actor delivers each message to the current behaviour and runs the
// updates sent to it (package update describes the protocol). A Node is
// quiet by default: protoactor's logs are discarded unless WithConfig passes
// a logger factory.
//
// Rules of use:
//   - Register a kind's versions, and the migrations between them, before
//     updating to them; they may be added while actors run.
//   - Updates to one actor never interleave: one sent while another is in
//     progress is queued, and starts after the messages held by the first
//     have been delivered. At most MaxQueuedUpdates wait; more are rejected.
//   - If the supervisor restarts an actor, it restarts at the version it
//     runs, with a fresh state from that version's factory, as protoactor
//     does; an update in progress is aborted first.
//   - A stopped actor is removed from the node's Directory; an UpdateActor
//     still in its mailbox when it stops gets no answer.
//   - A request is checked against its limits (UpdateActor.Validate, see
//     package update) as it arrives, before it is queued: one that fails is
//     rejected at once, not after the updates ahead of it.
//   - The requester of an update with probation gets its UpdateResult only;
//     the ProbationResult goes to the probation's report_to. When nobody is
//     named, the end of a probation is logged on the actor system's logger
//     ("molt: probation ended", a warning for a rollback) and a rollback
//     shows in the Directory.
package actor
