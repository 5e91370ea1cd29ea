// Package protocol drives one cooperative update of one actor through the
// six phases package update describes: Start runs initialization,
// notification and as much of preparation as it can; Continue carries on
// through state checking, state transfer and replacement. Rollback puts an
// older version back when a probation fails.
//
// It is internal because calling it by hand skips what the actor package
// guarantees around it (one update at a time per actor, held messages in
// order, the deadline timer, the result sent once, the directory kept up to
// date): users ask for an update with an UpdateActor and nothing else.
//
// The protocol works against the Host interface and does no I/O, so its
// tests drive every phase with a fake host, without an actor system.
package protocol
