package update

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// The cooperative hooks. A behaviour version implements any of them to take
// part in its own update; a version that implements none is updated as soon
// as the update reaches it, since it is stable between any two messages.

// Notifiable is implemented by a behaviour that wants to hear that an update
// is coming, during the notification phase, before anything is held. It may
// stop starting new work, flush, or ask peers to stop sending. A panic aborts
// the update.
type Notifiable interface {
	UpdateComing(ctx actor.Context, notice *Notice)
}

// Quiescent is implemented by a behaviour that is not always in a stable
// state. During preparation, Stable is asked when the update starts and again
// after each message the behaviour receives; the update goes on once it
// returns true, and aborts if that has not happened by the deadline.
type Quiescent interface {
	Stable() bool
}

// Admitter is implemented by a behaviour that needs some messages while it
// drains to its stable state (the replies it waits for, say). During
// preparation, a user message for which Admit returns true is delivered; the
// others are held. Admitted messages may overtake held ones: this is a
// selective receive. Admit must not block; a panic counts as false.
type Admitter interface {
	Admit(message any) bool
}

// Checker is implemented by a behaviour whose state has invariants. They are
// checked on the old state in the state checking phase and on the migrated
// state at the end of state transfer; an error or a panic aborts the update.
type Checker interface {
	CheckInvariants() error
}

// Notice tells a Notifiable behaviour about the update that is coming.
type Notice struct {
	UpdateID string
	From, To uint32
	// Deadline is when the update aborts if it has not reached replacement.
	Deadline time.Time
	// Staged says the update stops, holding everything, once the state is
	// transferred, until its group's decision; Group names the group's
	// members (PID ids), this actor included, when the requester gave them.
	Staged bool
	Group  []string
	// Moving says the actor moves to another process (a takeover): its
	// state is sealed here, and From and To are the versions it runs here
	// and will run there. If the move commits, this value is retired and
	// the actor runs on in the other process.
	Moving bool
}

// VersionChanged is the first message the new version receives, in the
// replacement phase, before any held message. A panic while handling it
// aborts the update and puts the old version back.
type VersionChanged struct {
	From, To uint32
	// Moved says the state came from another process (a takeover); From
	// may then equal To.
	Moved bool
}

// Aborted is delivered to a Notifiable behaviour when an update it was
// notified of aborts, so that it can resume what it stopped. It still runs
// with its old state.
type Aborted struct {
	UpdateID string
	Phase    Phase
	Reason   string
}

// Retired is the last message a behaviour value receives from molt: another
// value has taken its place, and this one will never get a message again.
// It comes after an update commits, to the value that ran before it (From
// is its version, To the one that replaced it), once the new value has
// handled VersionChanged and before any further message reaches the new
// one; and after a probation rollback, to the value rolled back from
// (RolledBack is then true). It never comes after an update aborts: the old
// value just goes on.
//
// A version stops here what it started and owns: timers, tickers,
// goroutines, subscriptions. Its state is no longer read (the new version
// has its own copy) and messages it sends now reach the new version. A
// panic while handling it is recovered and logged; it does not touch the
// new version.
type Retired struct {
	UpdateID   string
	From, To   uint32
	RolledBack bool
}
