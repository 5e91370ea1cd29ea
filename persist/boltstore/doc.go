// Package boltstore is molt's durable default persist.Store: one file,
// written through go.etcd.io/bbolt.
//
// The file holds one bucket, "molt.snapshots.v1", with one record per name:
// the envelope.Marshal bytes of the name's latest snapshot, keyed by the
// name's bytes. Any bbolt tool can read it.
//
// # Durability
//
// bbolt is a B+tree with copy-on-write pages: a commit writes new pages,
// fsyncs them, then writes and fsyncs a meta page that points at them, and
// the meta page carries its own checksum. A crash at any moment (kill -9,
// power loss with honest disks) leaves the file at the last meta page that
// was whole: every record is the one of some committed Save, never a torn
// one. Save returns only after its commit has been fsynced, so what it
// acknowledged survives. Load also checks each record's CRC-32C (envelope
// checksum), which catches state bytes damaged at rest and returns them as
// envelope.ErrCorrupt.
//
// # Group commit
//
// Each Save runs in bbolt's Batch: Saves that arrive together, from many
// actors, share one transaction and one fsync, and each is acknowledged
// when that commit is durable. A Save waits up to the batch delay
// (WithBatchDelay, DefaultBatchDelay) for others to join it, which is the
// price of a lone Save. Within its batch, a Save reads the stored sequence
// of its name and refuses a lower one with persist.ErrStale, so the check
// and the write are one atomic step.
//
// # One process at a time
//
// bbolt takes an exclusive lock on the file (flock). While one Store has
// it open, Open elsewhere, in this or another process, waits up to the open
// timeout (WithOpenTimeout, DefaultOpenTimeout) and returns ErrLocked: a
// new process that takes over from an old one opens the store once the old
// one has closed it or died (the lock dies with its process).
package boltstore
