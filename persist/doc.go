// Package persist keeps molt actors' state across restarts and processes,
// version-aware: every record is a state envelope (package envelope), so a
// snapshot written by version 1 of a kind loads into a binary that runs
// version 3, migrated on the way by the catalogue (registry.Catalog.Open).
//
// Store is the interface; this package provides Memory, an in-process store
// for tests, and the subpackages provide a durable one on bbolt
// (persist/boltstore) and an adapter that keeps molt's snapshots in a
// protoactor-go persistence provider (persist/protoactorstore), for users
// whose setups already use one.
//
// A molt node with a store (actor.WithStore) loads an actor's latest
// snapshot when the actor is spawned or restarted, and the actor writes one
// with actor.Persist from its Receive, before it acknowledges what changed:
// what was acknowledged then survives a crash.
package persist
