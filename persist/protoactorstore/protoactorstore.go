package protoactorstore

import (
	"context"
	"fmt"
	"hash/maphash"
	"math"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/persistence"
	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/persist"
	"google.golang.org/protobuf/proto"
)

// stripes is the number of locks the names share: two names on one stripe
// wait for each other, and the locks take no memory per name.
const stripes = 256

// New returns a persist.Store that keeps snapshots in p, whose state it
// takes once, here (p.GetState). See the package documentation for the
// rules that depend on the provider. Close does not close the provider.
// New panics if p is nil or gives a nil state.
func New(p persistence.Provider) persist.Store {
	if p == nil {
		panic("protoactorstore: New with a nil provider")
	}
	state := p.GetState()
	if state == nil {
		panic(fmt.Sprintf("protoactorstore: the provider %T gave a nil state", p))
	}
	s := &store{state: state, seed: maphash.MakeSeed()}
	for i := range s.locks {
		s.locks[i] = make(chan struct{}, 1)
	}
	return s
}

type store struct {
	state  persistence.ProviderState
	seed   maphash.Seed
	locks  [stripes]chan struct{}
	closed atomic.Bool
}

// lock takes the lock of name, or returns ctx's error if ctx ends first,
// or ErrClosed. Every call holds it, Load included: a provider need not
// synchronize calls about one name (protoactor's in-memory one does not).
func (s *store) lock(ctx context.Context, name string) (unlock func(), err error) {
	if s.closed.Load() {
		return nil, persist.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch {
	case name == "":
		return nil, fmt.Errorf("%w: the name is empty", persist.ErrName)
	case len(name) > envelope.MaxNameLength:
		return nil, fmt.Errorf("%w: the name is %d bytes, over the limit of %d (envelope.MaxNameLength)", persist.ErrName, len(name), envelope.MaxNameLength)
	}
	l := s.locks[maphash.String(s.seed, name)%stripes]
	select {
	case l <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	unlock = func() { <-l }
	// Checked again now that the call holds the lock: a Close or a
	// cancellation while it waited stops it before it touches anything.
	if s.closed.Load() {
		unlock()
		return nil, persist.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		unlock()
		return nil, err
	}
	return unlock, nil
}

// Save records a copy of snap as the provider's snapshot of name, with its
// sequence as the snapshot index (capped at math.MaxInt). It returns
// ErrStale when the provider holds a snapshot of name with a higher
// sequence (one it cannot read is replaced), snap's Check error for an
// envelope that fails it, persist.ErrName, persist.ErrClosed, or ctx's
// error when ctx ends before the write.
func (s *store) Save(ctx context.Context, name string, snap *envelope.Envelope) error {
	unlock, err := s.lock(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	if err := snap.Check(); err != nil {
		return fmt.Errorf("protoactorstore: saving %q: %w", name, err)
	}
	if stored, ok, _ := s.stored(name); ok && stored.GetSequence() > snap.GetSequence() {
		return fmt.Errorf("%w: %q holds sequence %d, the snapshot has %d", persist.ErrStale, name, stored.GetSequence(), snap.GetSequence())
	}
	s.state.PersistSnapshot(name, index(snap.GetSequence()), proto.Clone(snap))
	return nil
}

// Load returns a copy of the provider's snapshot of name. It returns
// persist.ErrNotFound when the provider holds none (or a deletion marker),
// an error wrapping envelope.ErrMalformed, ErrFormat or ErrCorrupt for a
// snapshot that is not a sound envelope, persist.ErrName,
// persist.ErrClosed, or ctx's error.
func (s *store) Load(ctx context.Context, name string) (*envelope.Envelope, error) {
	unlock, err := s.lock(ctx, name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	e, ok, err := s.stored(name)
	switch {
	case err != nil:
		return nil, fmt.Errorf("protoactorstore: the snapshot of %q is damaged: %w", name, err)
	case !ok:
		return nil, fmt.Errorf("%w of %q in the provider", persist.ErrNotFound, name)
	}
	if err := e.Check(); err != nil {
		return nil, fmt.Errorf("protoactorstore: the snapshot of %q is damaged: %w", name, err)
	}
	return e, nil
}

// Delete replaces the provider's snapshot of name with a deletion marker
// and asks the provider to delete its snapshots up to that index (see the
// package documentation); deleting a name that has no snapshot writes
// nothing. It returns persist.ErrName, persist.ErrClosed, or ctx's error
// when ctx ends before the write.
func (s *store) Delete(ctx context.Context, name string) error {
	unlock, err := s.lock(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	snap, i, present := s.state.GetSnapshot(name)
	if !present || snap == nil || isMarker(snap) {
		return nil
	}
	s.state.PersistSnapshot(name, i, &envelope.Envelope{})
	s.state.DeleteSnapshots(name, i)
	return nil
}

// Close makes every later call return persist.ErrClosed, Close included.
// Calls under way finish. The provider stays open: it is the caller's.
func (s *store) Close() error {
	if s.closed.Swap(true) {
		return persist.ErrClosed
	}
	return nil
}

// stored returns a copy of the provider's snapshot of name as an envelope,
// not yet checked; ok is false when there is none or a deletion marker,
// and err says why a snapshot is not an envelope at all.
func (s *store) stored(name string) (e *envelope.Envelope, ok bool, err error) {
	snap, _, present := s.state.GetSnapshot(name)
	if !present || snap == nil || isMarker(snap) {
		return nil, false, nil
	}
	switch m := snap.(type) {
	case *envelope.Envelope:
		return proto.Clone(m).(*envelope.Envelope), true, nil
	case proto.Message:
		data, err := proto.Marshal(m)
		if err != nil {
			return nil, false, fmt.Errorf("%w: the provider's %T does not marshal: %v", envelope.ErrMalformed, m, err)
		}
		return decode(data)
	case []byte:
		return decode(m)
	default:
		return nil, false, fmt.Errorf("%w: the provider holds a %T, not a proto message", envelope.ErrMalformed, snap)
	}
}

// decode reads an envelope from a provider's bytes, without checking it.
func decode(data []byte) (*envelope.Envelope, bool, error) {
	if len(data) > envelope.MaxSize {
		return nil, false, fmt.Errorf("%w: %d bytes, over the limit of %d (envelope.MaxSize)", envelope.ErrMalformed, len(data), envelope.MaxSize)
	}
	e := new(envelope.Envelope)
	if err := proto.Unmarshal(data, e); err != nil {
		return nil, false, fmt.Errorf("%w: not an envelope: %v", envelope.ErrMalformed, err)
	}
	return e, true, nil
}

// isMarker reports whether snap is a deletion marker: a message whose wire
// form is empty, which no envelope has (its format is set).
func isMarker(snap any) bool {
	switch m := snap.(type) {
	case proto.Message:
		return proto.Size(m) == 0
	case []byte:
		return len(m) == 0
	}
	return false
}

func index(seq uint64) int {
	if seq > math.MaxInt {
		return math.MaxInt
	}
	return int(seq)
}
