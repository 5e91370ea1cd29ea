// Package manager is molt's update manager: an actor that takes
// self-describing update packages (package manifest), plans them against
// the live actors, and drives the plan: steps in dependency order, batches
// by the rollout policy, all-or-nothing groups, a failure budget that halts
// the rollout and, if the package says so, rolls back what was updated in
// reverse order; probation results come back as events.
//
// The manager is driven by protobuf messages (RunPackage, CancelPackage,
// Subscribe), so it can be driven from another process; in process, Spawn
// returns a Manager whose Run does the same and waits for the end. A
// manager spawned with Config.Name (DefaultName for a node's one manager)
// is reached from another process at actor.NewPID(nodeAddress, name).
// Subscribe is answered with Subscribed once it holds: wait for it before
// running a package whose first events the subscriber must see.
//
// # All-or-nothing groups
//
// The members of a group get a staged update (update.UpdateActor with
// stage set): each reaches its stable state, stages its migrated state and
// answers STAGED, holding its messages. Once every member has staged, the
// manager sends them CommitUpdate; if one fails, or the group deadline (the
// package's per-actor deadline) passes, the others get AbortUpdate, or abort
// on their own at the deadline, and every member keeps its old version and
// state. No member handles a message while the group is half updated. A
// member that fails in replacement after the commit decision (its new
// version panics on VersionChanged) leaves the group partly committed: the
// manager then rolls the committed members back through their down
// migrations.
//
// A group stays whole after its commit too. A member that fails its
// probation takes its group back with it, while the package runs, after it
// halted or was cancelled, and after it ended (the manager watches an ended
// package's groups on probation, and reports what it did in a
// PACKAGE_REVISED event). A member that does not answer in time is written
// off as failed, told to abort, and, if it still commits, rolled back in
// line with its group.
//
// # One package per kind
//
// A package that touches a kind another running package updates is refused
// with ErrBusy, as is a package whose id is running.
package manager
