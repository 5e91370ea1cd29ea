// Package registry is molt's catalogue of versioned actor kinds: which
// versions of each kind exist, how the state of one version becomes the state
// of another, how a state is turned into bytes, and which messages each
// version accepts. The update protocol consults it to validate an update
// before it starts and to build the new state while it runs; the Directory
// records which live actor runs which kind at which version.
//
// # Kinds and versions
//
// A kind names a family of behaviours ("counter", "session"); a version is a
// number from 1 up. Each version is registered with a factory that returns a
// fresh behaviour value:
//
//	cat := registry.New()
//	registry.Register(cat, "counter", 1, func() *CounterV1 { return &CounterV1{} })
//	registry.Register(cat, "counter", 2, func() *CounterV2 { return &CounterV2{} })
//
// A behaviour version is an ordinary protoactor actor.Actor: a Go type with a
// Receive(actor.Context) method. The behaviour value is also the version's
// state: there is no separate state object. Its exported fields are what the
// codec carries; unexported fields (caches, mutexes, handles) are not carried
// and start from whatever the factory puts in them. The state type should be
// a pointer to a struct.
//
// Versions may be registered at any time, also while actors of the kind run:
// a Catalog is safe for concurrent use. Registering a version, migration or
// adapter twice returns ErrDuplicate and leaves the first one in place.
//
// # Migrations
//
// Migrate registers a typed function from the state of one version to the
// state of another. A migration goes up (from < to) or down (from > to); an
// update that goes down needs down migrations, the catalogue never inverts an
// up migration:
//
//	registry.Migrate(cat, "counter", 1, 2, func(old *CounterV1) (*CounterV2, error) {
//		return &CounterV2{Count: int64(old.Count)}, nil
//	})
//
// Migrations need not link every pair of versions. Plan finds the chain with
// the fewest migrations (1→2→3 when there is no direct 1→3, and the direct
// 1→3 once it is registered); among chains of equal length it takes the one
// through lower version numbers, so that the choice is deterministic.
//
// # Isolation of the migration input
//
// A migration runs while the old version is still installed, and an update
// may abort after it (an invariant of the new state fails, the new version
// panics on its first message). So the live state must stay exactly as it
// was whatever the migration does: Plan.Transfer runs the chain on an
// isolated copy of the state, made in one of three ways:
//
//   - by default, a round trip through the version's codec: encode, then
//     decode into a value made by the factory whose carried fields are
//     cleared first. The copy carries the exported fields only, exactly as a
//     state sent to another process would;
//   - with the Clone option at registration, by the user's deep copy, which
//     is usually much faster than the codec and may carry unexported fields;
//   - not at all while the migrations of the chain are registered Pure: a
//     Pure migration promises never to modify its input and receives the
//     live value itself, which saves a copy of the whole state on every
//     update.
//
// Since a Pure migration may return a state that shares memory with the
// live one, the copy is made just before the first migration of the chain
// that is not Pure, from the state the Pure ones returned, with the codec or
// Clone of that step's version. A migration that returns an error, panics or returns nil
// makes Transfer return ErrMigration; a copy that cannot be made (a state the
// codec rejects, a Clone that panics) makes it return ErrCodec. Either way the
// live state is untouched and the update can abort cleanly.
//
// # Codecs
//
// Each version has a Codec that turns its state into bytes and back: it makes
// the isolating copy by default, and Catalog.Encode and Catalog.Decode use it
// to carry a state out of the process. The default is Msgpack (MessagePack of
// the exported fields); a state that is itself a proto.Message gets Protobuf.
// WithCodec chooses another, such as a user codec. Fields the codec cannot
// represent (a channel, a function) make encoding fail with ErrCodec; keep
// them unexported, or give a Clone and mark the migrations Pure. Decode never
// panics on malformed input: it returns ErrCodec. Msgpack checks the lengths
// and nesting of its input before decoding, so a few hostile bytes cannot
// make it allocate more than the input warrants or overflow the stack.
//
// # Message interfaces and adapters
//
// The Accepts option declares the message types a version accepts, by sample
// values (&Increment{}); types are compared exactly, so *Increment and
// Increment are different types. Plan refuses, with ErrIncompatible, an
// update to a version that no longer accepts a type the current version
// accepts, since messages of that type may already be on their way. Adapt
// registers on the target version a function that turns such an older
// message into one the target accepts; with it the update is allowed, and
// while the actor runs that version each message of the older type is
// delivered as the adapter's result (see Adapters). The check compares the
// current version with the target only, and is skipped when either of them
// declares no interface.
//
// # Plans
//
// Catalog.Plan validates an update of a kind from one version to another
// (both registered, a chain of migrations between them, interfaces
// compatible) and returns a Plan: the path of versions, the migrations to
// run, and the target's adapters. Plans are cached per (kind, from, to) and
// shared by every update that asks for the same one; any registration in the
// catalogue (a version, a migration, an adapter) discards the cache, so the
// next Plan sees it. Errors are not cached.
//
// # State envelopes and old versions
//
// Seal turns a state into a state envelope (package envelope): the kind,
// the version, the codec's name, the bytes and their checksum. Open turns
// an envelope back into a live state of any version the catalogue has a
// migration path to. Envelopes are how a state leaves the process: a
// takeover sends them to a new binary, a store keeps them as snapshots.
//
// A binary reads envelopes written by versions it no longer runs once it
// registers their state types with RegisterState (no behaviour needed) and
// the migrations from them. Such a version is read-only: it cannot be
// spawned or updated to (ErrNotRunnable).
//
// # Directory
//
// A Directory records, for each live actor (by PID), the kind and version it
// runs. The runtime adds an actor when it is spawned, sets its version after
// each committed update and removes it when it stops; tools list the actors of
// a kind to update them all. It is read-only outside molt, so that what it
// says can be trusted: actor.Node.Directory returns a node's, and
// DirectoryOf makes a fixed one, to plan a dry run against.
//
// # Errors
//
// Every error the package returns wraps one of its sentinel errors
// (ErrInvalid, ErrDuplicate, ErrUnknownKind, ErrUnknownVersion,
// ErrTypeMismatch, ErrSameVersion, ErrNoPath, ErrIncompatible, ErrMigration,
// ErrCodec, ErrNotRunnable, ErrUnknownCodec) or, from Open, one of package
// envelope's; test for them with errors.Is. The message says what to register
// or change to fix the problem.
package registry
