// Package protoactorstore keeps molt's snapshots in a protoactor-go
// persistence provider (github.com/asynkron/protoactor-go/persistence), for
// setups that already have one: New turns a persistence.Provider into a
// persist.Store.
//
// Each name's latest envelope is the provider's snapshot of that actor
// name, stored as the proto message it is (an *envelope.Envelope), with its
// sequence as the snapshot index. Load accepts what the provider hands
// back: the *envelope.Envelope itself, or any other proto message with the
// envelope's wire form (a provider that stores bytes and decodes them into
// its own type, or round-trips through anypb), which it converts with
// proto.Marshal and checks as envelope.Unmarshal does.
//
// # Which rules are the provider's
//
// protoactor's provider API returns no errors and makes no promise of its
// own, so the Store rules hold only as far as the provider keeps them:
//
//   - Durability is the provider's: Save returns once PersistSnapshot
//     returns. protoactor's in-memory provider keeps nothing past the
//     process, and a provider that writes asynchronously acknowledges
//     before the write lands. Use persist/boltstore where an acknowledged
//     snapshot must survive a crash.
//   - Atomicity per name is the provider's: a provider that could store
//     part of a message breaks it. The checksum still catches damaged
//     state bytes, which Load returns as an envelope error.
//   - A failed write cannot be seen: a provider that drops a write (a
//     network error it only logs) makes Save return nil all the same.
//   - Delete calls DeleteSnapshots and, since providers may ignore it
//     (protoactor's in-memory one does), first replaces the snapshot with
//     an empty deletion marker, which Load reports as persist.ErrNotFound.
//     With a provider that keeps every snapshot index, returns the highest
//     and ignores DeleteSnapshots, a Save after Delete must use a sequence
//     at least the deleted one's to be seen.
//
// The adapter itself enforces the rest. ErrStale: Save reads the stored
// sequence and writes only if it is not higher; providers have no
// compare-and-swap, so the read and the write run under a lock of the
// name in this process. That protects writers within one process only:
// two processes that share a provider can still overwrite a newer
// snapshot with an older one. The envelope's Check, ErrNotFound, copies
// (neither Save's caller nor Load's shares memory with what the provider
// holds), persist.ErrName, canceled contexts and persist.ErrClosed are
// the adapter's as well.
package protoactorstore
