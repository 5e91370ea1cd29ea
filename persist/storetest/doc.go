// Package storetest checks that a persist.Store keeps the rules of the
// Store interface. A store's tests call Run with a function that opens a
// fresh, empty store; Run checks each rule in its own subtest: round trips,
// ErrNotFound, Delete, ErrStale and equal-sequence replacement, refusal of
// envelopes that fail their Check, copies rather than shared envelopes,
// names (and persist.ErrName), canceled contexts, ErrClosed, and
// concurrent Saves of many names and of one name with increasing
// sequences, during which no Load may see a torn record or a sequence go
// back. Run the suite under -race.
//
// A store that keeps its records as bytes at rest also calls RunDamaged
// with a function that edits a stored record in place: Load must then
// return an envelope error, never a damaged envelope.
//
// Durability across a crash cannot be checked from inside one process; a
// durable store checks it with a real process killed with SIGKILL (see the
// tests of persist/boltstore).
package storetest
