package boltstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/persist"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"google.golang.org/protobuf/encoding/protowire"
)

// ErrLocked is returned by Open when another process (or another Open in
// this one) holds the file and does not release it within the open
// timeout (WithOpenTimeout).
var ErrLocked = errors.New("boltstore: the file is held by another process")

// DefaultOpenTimeout is how long Open waits for the file's lock unless
// WithOpenTimeout says otherwise.
const DefaultOpenTimeout = 2 * time.Second

// DefaultBatchDelay is how long a Save waits for others to join its commit
// unless WithBatchDelay says otherwise.
const DefaultBatchDelay = 2 * time.Millisecond

// defaultMaxBatch is bbolt's default MaxBatchSize.
const defaultMaxBatch = 1000

// bucket holds one record per name: the envelope.Marshal bytes of its
// latest snapshot, keyed by the name's bytes.
var bucket = []byte("molt.snapshots.v1")

// Store is a persist.Store in one bbolt file. It is safe for concurrent
// use. Make one with Open.
type Store struct {
	db     *bolt.DB
	path   string
	closed atomic.Bool
}

var _ persist.Store = (*Store)(nil)

type config struct {
	openTimeout time.Duration
	batchDelay  time.Duration
	batchSize   int
	noSync      bool
}

// Option configures Open.
type Option func(*config)

// WithOpenTimeout sets how long Open waits for the file's lock when another
// process holds it before it returns ErrLocked; DefaultOpenTimeout unless
// set. A timeout of 0 or less makes Open try the lock once (bbolt retries
// about every 50 ms, so it waits at most that long).
func WithOpenTimeout(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			d = time.Nanosecond
		}
		c.openTimeout = d
	}
}

// WithBatchDelay sets how long a Save waits for concurrent Saves to join
// its commit (bbolt's MaxBatchDelay): the Saves of one batch share one
// transaction and one fsync. A longer delay makes larger batches under load
// and slower lone Saves; DefaultBatchDelay unless set.
func WithBatchDelay(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.batchDelay = d
		}
	}
}

// WithMaxBatch sets how many Saves one commit holds at most (bbolt's
// MaxBatchSize; 1000 unless set). A full batch commits without waiting
// for the batch delay.
func WithMaxBatch(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.batchSize = n
		}
	}
}

// NoSync turns off fsync: a Save then returns before its snapshot reaches
// the disk, and a crash of the machine (not only of the process) may lose
// acknowledged snapshots or, worse, corrupt the file. It breaks the
// durability rule of persist.Store, and is meant for tests only.
func NoSync() Option {
	return func(c *config) { c.noSync = true }
}

// Open opens the store in the file at path, creating it (mode 0600) if it
// does not exist. Only one Store may have a file open at a time, in any
// process: Open waits for the file's lock up to the open timeout and then
// returns an error wrapping ErrLocked. A file that is not a bbolt database,
// or one damaged beyond what bbolt recovers, is refused with bbolt's error.
func Open(path string, opts ...Option) (*Store, error) {
	c := config{openTimeout: DefaultOpenTimeout, batchDelay: DefaultBatchDelay, batchSize: defaultMaxBatch}
	for _, o := range opts {
		o(&c)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      c.openTimeout,
		NoSync:       c.noSync,
		FreelistType: bolt.FreelistMapType,
	})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s is locked (bbolt takes an exclusive lock on its file), and the lock was not released within %v; stop the process that has it open, or open another file", ErrLocked, path, c.openTimeout)
	case err != nil:
		return nil, fmt.Errorf("boltstore: opening %s: %w", path, err)
	}
	db.MaxBatchDelay = c.batchDelay
	db.MaxBatchSize = c.batchSize
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: preparing %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

// Path returns the path of the store's file.
func (s *Store) Path() string { return s.path }

// Save records snap as the latest snapshot of name, durably: it returns nil
// once the transaction that holds it is committed and fsynced. Concurrent
// Saves share commits (bbolt's Batch). It returns ErrStale when the file
// holds a snapshot of name with a higher sequence; a stored record that
// cannot be read is replaced. It returns snap's Check error for an envelope
// that fails it, persist.ErrName, persist.ErrClosed, or ctx's error when
// ctx is done before the snapshot is written.
func (s *Store) Save(ctx context.Context, name string, snap *envelope.Envelope) error {
	if err := s.usable(ctx, name); err != nil {
		return err
	}
	record, err := envelope.Marshal(snap)
	if err != nil {
		return fmt.Errorf("boltstore: saving %q: %w", name, err)
	}
	key := []byte(name)
	seq := snap.GetSequence()
	// Batch may run the function more than once (when another call in the
	// batch fails, it retries the others); result holds the last run's.
	var result error
	err = s.db.Batch(func(tx *bolt.Tx) error {
		result = nil
		if err := ctx.Err(); err != nil {
			result = err
			return nil
		}
		b := tx.Bucket(bucket)
		if old := b.Get(key); old != nil {
			if stored, ok := sequenceOf(old); ok && stored > seq {
				result = fmt.Errorf("%w: %q holds sequence %d, the snapshot has %d", persist.ErrStale, name, stored, seq)
				return nil
			}
		}
		return b.Put(key, record)
	})
	if err != nil {
		return s.failed("saving", name, err)
	}
	return result
}

// Load returns the latest snapshot of name. It returns persist.ErrNotFound
// when the file holds none, and envelope.ErrMalformed, ErrFormat or
// ErrCorrupt for a record damaged at rest; persist.ErrName,
// persist.ErrClosed, or ctx's error when ctx is done.
func (s *Store) Load(ctx context.Context, name string) (*envelope.Envelope, error) {
	if err := s.usable(ctx, name); err != nil {
		return nil, err
	}
	var snap *envelope.Envelope
	err := s.db.View(func(tx *bolt.Tx) error {
		record := tx.Bucket(bucket).Get([]byte(name))
		if record == nil {
			return fmt.Errorf("%w of %q in %s", persist.ErrNotFound, name, s.path)
		}
		// Unmarshal copies: nothing refers to the memory-mapped record
		// once the transaction ends.
		e, err := envelope.Unmarshal(record)
		if err != nil {
			return fmt.Errorf("boltstore: the snapshot of %q in %s is damaged: %w", name, s.path, err)
		}
		snap = e
		return nil
	})
	if err != nil {
		return nil, s.failed("loading", name, err)
	}
	return snap, nil
}

// Delete forgets the snapshot of name, durably; deleting a name that has
// none is not an error. It returns persist.ErrName, persist.ErrClosed, or
// ctx's error when ctx is done before anything is deleted.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := s.usable(ctx, name); err != nil {
		return err
	}
	var result error
	err := s.db.Batch(func(tx *bolt.Tx) error {
		result = ctx.Err()
		if result != nil {
			return nil
		}
		return tx.Bucket(bucket).Delete([]byte(name))
	})
	if err != nil {
		return s.failed("deleting", name, err)
	}
	return result
}

// Close closes the file, after the transactions under way end, and
// releases its lock. Calls after Close, Close included, return
// persist.ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return persist.ErrClosed
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltstore: closing %s: %w", s.path, err)
	}
	return nil
}

func (s *Store) usable(ctx context.Context, name string) error {
	if s.closed.Load() {
		return persist.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return persist.CheckName(name)
}

// failed turns bbolt's error for a store closed under a call into
// persist.ErrClosed, and names the file in the others.
func (s *Store) failed(doing, name string, err error) error {
	switch {
	case errors.Is(err, bolterrors.ErrDatabaseNotOpen), errors.Is(err, os.ErrClosed):
		return persist.ErrClosed
	case errors.Is(err, persist.ErrNotFound), isEnvelopeError(err):
		return err
	}
	return fmt.Errorf("boltstore: %s %q in %s: %w", doing, name, s.path, err)
}

func isEnvelopeError(err error) bool {
	return errors.Is(err, envelope.ErrMalformed) || errors.Is(err, envelope.ErrFormat) || errors.Is(err, envelope.ErrCorrupt)
}

// sequenceOf reads the sequence field of a stored record without decoding
// the rest; ok is false for a record that is not protobuf.
func sequenceOf(record []byte) (seq uint64, ok bool) {
	const sequenceField = 9 // envelope.proto: uint64 sequence = 9
	for len(record) > 0 {
		num, typ, n := protowire.ConsumeTag(record)
		if n < 0 {
			return 0, false
		}
		record = record[n:]
		if num == sequenceField && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(record)
			if n < 0 {
				return 0, false
			}
			seq, record = v, record[n:] // the last one wins, as in proto.Unmarshal
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, record)
		if n < 0 {
			return 0, false
		}
		record = record[n:]
	}
	return seq, true
}
