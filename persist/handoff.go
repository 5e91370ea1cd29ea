package persist

import (
	"context"
	"errors"
	"sync"

	"github.com/molt-go/molt/envelope"
)

// Handoff is a Store that is not there yet: its calls wait until Ready
// gives it the store they go to. It is how a process that takes over from
// another (package takeover) runs actors that persist before it may open
// their store, which a single-process store such as bbolt lets only one
// process hold: the old process closes the store once its actors have
// moved, the new one opens it and calls Ready, and meanwhile a moved actor
// that persists waits. Nothing is acknowledged before it is durable, so a
// takeover that dies before Ready loses no acknowledged write.
//
// The zero value is not usable; call NewHandoff.
type Handoff struct {
	ready chan struct{}
	once  sync.Once
	store Store
	err   error
}

// ErrNoStore is returned by a Handoff's calls after Fail, wrapping the
// reason given.
var ErrNoStore = errors.New("persist: no store was handed over")

// NewHandoff returns a Handoff that waits for Ready or Fail.
func NewHandoff() *Handoff { return &Handoff{ready: make(chan struct{})} }

// Ready hands over the store: waiting calls go on with it. Only the first
// of Ready and Fail counts.
func (h *Handoff) Ready(s Store) {
	h.once.Do(func() {
		h.store = s
		close(h.ready)
	})
}

// Fail makes every waiting and later call return ErrNoStore wrapping err.
// Only the first of Ready and Fail counts.
func (h *Handoff) Fail(err error) {
	h.once.Do(func() {
		h.err = errors.Join(ErrNoStore, err)
		close(h.ready)
	})
}

func (h *Handoff) wait(ctx context.Context) (Store, error) {
	select {
	case <-h.ready:
		return h.store, h.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Save waits for the store, then saves.
func (h *Handoff) Save(ctx context.Context, name string, snap *envelope.Envelope) error {
	s, err := h.wait(ctx)
	if err != nil {
		return err
	}
	return s.Save(ctx, name, snap)
}

// Load waits for the store, then loads.
func (h *Handoff) Load(ctx context.Context, name string) (*envelope.Envelope, error) {
	s, err := h.wait(ctx)
	if err != nil {
		return nil, err
	}
	return s.Load(ctx, name)
}

// Delete waits for the store, then deletes.
func (h *Handoff) Delete(ctx context.Context, name string) error {
	s, err := h.wait(ctx)
	if err != nil {
		return err
	}
	return s.Delete(ctx, name)
}

// Close closes the store handed over, if any; a Handoff still waiting
// fails its calls with ErrClosed from then on.
func (h *Handoff) Close() error {
	h.Fail(ErrClosed)
	select {
	case <-h.ready:
	default:
	}
	if h.store != nil {
		return h.store.Close()
	}
	return nil
}
