package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/persist"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// ErrTooLarge is returned by Save for a snapshot whose request would be
// over the request size etcd accepts (WithMaxRequest): etcd would refuse
// it, so it is not sent. Nothing is written.
var ErrTooLarge = errors.New("etcdstore: snapshot over etcd's request size")

// DefaultPrefix is the key prefix of a Store unless WithPrefix says
// otherwise.
const DefaultPrefix = "/molt/snapshots/"

// DefaultMaxRequest is etcd's own default limit on a request's size
// (--max-request-bytes, 1.5 MiB).
const DefaultMaxRequest = 1536 << 10

// DefaultTimeout bounds each call to etcd unless WithTimeout says
// otherwise, or the caller's context ends sooner.
const DefaultTimeout = 10 * time.Second

// requestOverhead is room for what a Save's transaction holds besides the
// record and its two keys: the comparison, the sequence value and
// protobuf's framing, well over what they take.
const requestOverhead = 256

// Store is a persist.Store on etcd. It is safe for concurrent use, by any
// number of processes sharing the etcd cluster: each Save is one etcd
// transaction. Make one with Open or New.
type Store struct {
	client     *clientv3.Client
	owned      bool // Close closes the client
	prefix     string
	maxRequest int
	timeout    time.Duration
	fenced     bool
	closed     atomic.Bool
}

var _ persist.Store = (*Store)(nil)

type config struct {
	prefix     string
	maxRequest int
	timeout    time.Duration
	fenced     bool
}

// Option configures Open and New.
type Option func(*config)

// WithPrefix sets the prefix of the store's keys; DefaultPrefix unless
// set. Stores with different prefixes on one etcd are independent.
func WithPrefix(prefix string) Option {
	return func(c *config) { c.prefix = prefix }
}

// WithMaxRequest sets the largest request the etcd server accepts, its
// --max-request-bytes; DefaultMaxRequest unless set. Save refuses a
// snapshot that would not fit with ErrTooLarge.
func WithMaxRequest(bytes int) Option {
	return func(c *config) {
		if bytes > 0 {
			c.maxRequest = bytes
		}
	}
}

// WithTimeout bounds each call to etcd: a call whose context has no
// earlier deadline fails with context.DeadlineExceeded after d (etcd's
// client otherwise waits for an unreachable server as long as the context
// allows). DefaultTimeout unless set.
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

// Fenced makes Save refuse, with persist.ErrStale, a snapshot whose
// sequence is not higher than the stored one's: an equal sequence is
// refused too, instead of replacing the stored snapshot as persist.Store's
// rules say (a retry). It is stricter than the interface, for actors that
// may be active in two places at once for a moment, as a cluster's grains
// are while their owner changes: both activations load the snapshot of
// sequence n and write n+1; without fencing, the second write silently
// replaces the first, acknowledged one. With it, the second is refused,
// and the activation that got ErrStale must neither acknowledge nor go on
// from its state (stop, to be activated again from the latest snapshot).
// A Persist whose Save failed without the actor knowing whether it landed
// (a timeout) then also gets ErrStale at its next Persist, and takes the
// same way out. Fenced stores do not pass storetest's equal-sequence
// case; everything else holds.
func Fenced() Option {
	return func(c *config) { c.fenced = true }
}

// Open connects to the etcd cluster that cfg describes and returns a
// store on it, which Close closes with its client. cfg.Logger, when nil,
// is set to a logger that discards (etcd's client logs at info level to
// standard error otherwise). It returns the client's error when cfg is
// refused (no endpoints, a bad TLS setting); etcd's client connects
// lazily, so an unreachable server shows at the first call, bounded by
// the store's timeout.
func Open(cfg clientv3.Config, opts ...Option) (*Store, error) {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	client, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcdstore: connecting to %v: %w", cfg.Endpoints, err)
	}
	s := New(client, opts...)
	s.owned = true
	return s, nil
}

// New returns a store on an etcd client the caller keeps: Close does not
// close it.
func New(client *clientv3.Client, opts ...Option) *Store {
	c := config{prefix: DefaultPrefix, maxRequest: DefaultMaxRequest, timeout: DefaultTimeout}
	for _, o := range opts {
		o(&c)
	}
	return &Store{client: client, prefix: c.prefix, maxRequest: c.maxRequest, timeout: c.timeout, fenced: c.fenced}
}

// RecordKey returns the etcd key that holds the snapshot of name: the
// envelope.Marshal bytes of its latest snapshot (etcdctl get reads it).
func (s *Store) RecordKey(name string) string { return s.prefix + "snap/" + name }

// SequenceKey returns the etcd key that holds the sequence of name's
// latest snapshot, as 16 lowercase hexadecimal digits, so that etcd's
// byte-wise comparison of values orders sequences as numbers.
func (s *Store) SequenceKey(name string) string { return s.prefix + "seq/" + name }

func encodeSequence(seq uint64) string {
	const digits = "0000000000000000"
	h := strconv.FormatUint(seq, 16)
	return digits[len(h):] + h
}

// Save records snap as the latest snapshot of name, in one etcd
// transaction that compares the stored sequence and writes the record and
// its sequence only if the stored one is not higher (not as high, when
// Fenced): the check and the write are one atomic step, whatever the
// number of processes writing. It returns once etcd has committed the
// transaction, which it does after a quorum of its members has written it
// to their logs and fsynced them: what Save acknowledged survives a crash
// of this process and of a minority of etcd's.
//
// It returns persist.ErrStale (wrapped, naming both sequences) when the
// stored sequence is higher, or equal on a fenced store; snap's Check
// error for an envelope that fails it; ErrTooLarge for a snapshot over the
// request size; persist.ErrName, persist.ErrClosed; ctx's error when ctx
// ends first (the transaction may then have been committed or not: a
// later Save of a higher sequence settles it); and etcd's error otherwise.
func (s *Store) Save(ctx context.Context, name string, snap *envelope.Envelope) error {
	if err := s.usable(ctx, name); err != nil {
		return err
	}
	record, err := envelope.Marshal(snap)
	if err != nil {
		return fmt.Errorf("etcdstore: saving %q: %w", name, err)
	}
	rk, sk := s.RecordKey(name), s.SequenceKey(name)
	// The sequence key is in the transaction three times: compared, read
	// (stale), written (not).
	if size := len(record) + len(rk) + 3*len(sk) + requestOverhead; size > s.maxRequest {
		return fmt.Errorf("%w: the snapshot of %q makes a request of about %d bytes, over the limit of %d (WithMaxRequest; etcd's --max-request-bytes)", ErrTooLarge, name, size, s.maxRequest)
	}
	seq := snap.GetSequence()
	// stale holds when the stored sequence must win. A missing sequence
	// key fails every value comparison in etcd, so a first Save writes.
	var stale clientv3.Cmp
	switch {
	case !s.fenced:
		stale = clientv3.Compare(clientv3.Value(sk), ">", encodeSequence(seq))
	case seq == 0: // any stored sequence is at least 0
		stale = clientv3.Compare(clientv3.CreateRevision(sk), ">", 0)
	default:
		stale = clientv3.Compare(clientv3.Value(sk), ">", encodeSequence(seq-1))
	}
	cctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.client.Txn(cctx).
		If(stale).
		Then(clientv3.OpGet(sk)).
		Else(clientv3.OpPut(rk, string(record)), clientv3.OpPut(sk, encodeSequence(seq))).
		Commit()
	if err != nil {
		return s.failed(ctx, cctx, "saving", name, err)
	}
	if res.Succeeded {
		stored := "a higher one"
		if r := res.Responses[0].GetResponseRange(); r != nil && len(r.Kvs) == 1 {
			if n, err := strconv.ParseUint(string(r.Kvs[0].Value), 16, 64); err == nil {
				stored = strconv.FormatUint(n, 10)
			}
		}
		return fmt.Errorf("%w: %q holds sequence %s, the snapshot has %d", persist.ErrStale, name, stored, seq)
	}
	return nil
}

// Load returns the latest snapshot of name, read linearizably (a Save
// acknowledged anywhere before Load began is seen). It returns
// persist.ErrNotFound when etcd holds none, and envelope.ErrMalformed,
// ErrFormat or ErrCorrupt for a record that is not a whole envelope (one
// written by another tool, or damaged); persist.ErrName,
// persist.ErrClosed; ctx's error when ctx ends first; etcd's error
// otherwise.
func (s *Store) Load(ctx context.Context, name string) (*envelope.Envelope, error) {
	if err := s.usable(ctx, name); err != nil {
		return nil, err
	}
	cctx, cancel := s.bound(ctx)
	defer cancel()
	res, err := s.client.Get(cctx, s.RecordKey(name))
	if err != nil {
		return nil, s.failed(ctx, cctx, "loading", name, err)
	}
	if len(res.Kvs) == 0 {
		return nil, fmt.Errorf("%w of %q in etcd under %s", persist.ErrNotFound, name, s.prefix)
	}
	e, err := envelope.Unmarshal(res.Kvs[0].Value)
	if err != nil {
		return nil, fmt.Errorf("etcdstore: the snapshot of %q is damaged: %w", name, err)
	}
	return e, nil
}

// Delete forgets the snapshot of name and its sequence, in one
// transaction; deleting a name that has none is not an error. A later
// Save of any sequence then writes. It returns persist.ErrName,
// persist.ErrClosed, ctx's error when ctx ends first, and etcd's error
// otherwise.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := s.usable(ctx, name); err != nil {
		return err
	}
	cctx, cancel := s.bound(ctx)
	defer cancel()
	_, err := s.client.Txn(cctx).Then(clientv3.OpDelete(s.RecordKey(name)), clientv3.OpDelete(s.SequenceKey(name))).Commit()
	if err != nil {
		return s.failed(ctx, cctx, "deleting", name, err)
	}
	return nil
}

// Close releases the store, and closes the etcd client if Open made it.
// Calls after Close, Close included, return persist.ErrClosed; calls under
// way when the client closes return persist.ErrClosed too.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return persist.ErrClosed
	}
	if s.owned {
		if err := s.client.Close(); err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("etcdstore: closing the client: %w", err)
		}
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

// bound gives a call the store's timeout unless ctx ends sooner.
func (s *Store) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// failed says which of the caller's context, Close, the store's timeout
// (cctx, the call's context) or etcd made a call fail.
func (s *Store) failed(ctx, cctx context.Context, doing, name string, err error) error {
	switch {
	case s.closed.Load():
		return persist.ErrClosed
	case ctx.Err() != nil:
		return ctx.Err()
	case cctx.Err() != nil:
		return fmt.Errorf("etcdstore: %s %q: etcd did not answer within %v (WithTimeout): %w", doing, name, s.timeout, cctx.Err())
	}
	return fmt.Errorf("etcdstore: %s %q: %w", doing, name, err)
}
