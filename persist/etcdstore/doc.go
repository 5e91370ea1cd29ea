// Package etcdstore is a persist.Store on etcd (go.etcd.io/etcd/client/v3):
// the store to use when an actor's state must be loadable on any of
// several machines, as a cluster's grains are when their owner changes,
// by a graceful leave or a crash.
//
// # Keys
//
// Under a prefix (WithPrefix, DefaultPrefix), each name has two keys:
//
//	<prefix>snap/<name>   the envelope.Marshal bytes of its latest snapshot
//	<prefix>seq/<name>    that snapshot's sequence, 16 lowercase hex digits
//
// (RecordKey, SequenceKey). The sequence is fixed-width so that etcd's
// byte-wise comparison of values orders sequences as numbers.
//
// # Atomic sequence checks
//
// A Save is one etcd transaction: if the stored sequence is higher than
// the snapshot's, read it (and return persist.ErrStale); else write the
// record and the sequence. etcd runs the comparison and the writes as one
// step, so the rule holds whatever the number of clients and processes
// writing one name, in one round trip, with no retry loop. Fenced makes
// the comparison "not lower" instead, which closes the case persist.Store
// leaves open on purpose (an equal sequence replaces): two activations of
// one grain that loaded the same snapshot cannot both write the next.
//
// # Durability and reads
//
// etcd acknowledges a transaction once a quorum of its members has
// appended it to their write-ahead logs and fsynced them: what Save
// acknowledged survives a kill -9 of the writer, of etcd, or of a minority
// of etcd's members. Load is linearizable (etcd's default read), so a
// snapshot acknowledged on one machine is what another loads next. Load
// decodes and checks every record (envelope.Unmarshal: checksum, format),
// and reports a record that is not a whole envelope as an envelope error.
//
// # Limits
//
// etcd refuses requests over its --max-request-bytes (1.5 MiB by
// default): Save refuses a snapshot that would not fit with ErrTooLarge,
// before sending it (WithMaxRequest for a server configured otherwise).
// Keep large states out of etcd, or split them over several actors. etcd
// keeps every revision until it compacts: run it with
// --auto-compaction-retention, or compact it yourself, for actors that
// persist often. Each call is bounded by the store's timeout
// (WithTimeout, DefaultTimeout), since etcd's client otherwise waits for
// an unreachable server as long as the caller's context allows.
package etcdstore
