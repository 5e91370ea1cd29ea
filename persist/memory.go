package persist

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/molt-go/molt/envelope"
	"google.golang.org/protobuf/proto"
)

// ErrName is returned by every method of the stores in this module for a
// name a store cannot key a snapshot by: an empty one, or one longer than
// envelope.MaxNameLength bytes (the bound of the envelope's own name).
var ErrName = errors.New("persist: invalid name")

// Memory returns a Store that keeps snapshots in this process's memory, for
// tests: it keeps every rule of Store except durability, since nothing it
// holds outlives the process. It stores a copy of each envelope and hands
// out copies, so neither the caller of Save nor the caller of Load can
// change what it holds.
func Memory() Store {
	return &memory{snaps: make(map[string]*envelope.Envelope)}
}

type memory struct {
	mu     sync.RWMutex
	snaps  map[string]*envelope.Envelope
	closed bool
}

func (m *memory) Save(ctx context.Context, name string, snap *envelope.Envelope) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx, name); err != nil {
		return err
	}
	if err := snap.Check(); err != nil {
		return fmt.Errorf("persist: saving %q: %w", name, err)
	}
	c := proto.Clone(snap).(*envelope.Envelope)
	if old, ok := m.snaps[name]; ok && old.GetSequence() > c.GetSequence() {
		return fmt.Errorf("%w: %q holds sequence %d, the snapshot has %d", ErrStale, name, old.GetSequence(), c.GetSequence())
	}
	m.snaps[name] = c
	return nil
}

func (m *memory) Load(ctx context.Context, name string) (*envelope.Envelope, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := m.usable(ctx, name); err != nil {
		return nil, err
	}
	snap, ok := m.snaps[name]
	if !ok {
		return nil, fmt.Errorf("%w of %q", ErrNotFound, name)
	}
	return proto.Clone(snap).(*envelope.Envelope), nil
}

func (m *memory) Delete(ctx context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.usable(ctx, name); err != nil {
		return err
	}
	delete(m.snaps, name)
	return nil
}

func (m *memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.closed = true
	m.snaps = nil
	return nil
}

// usable returns the error a call on name must return before it looks at
// anything else; m.mu is held.
func (m *memory) usable(ctx context.Context, name string) error {
	if m.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return CheckName(name)
}
