package actor

import (
	"context"
	"errors"
	"fmt"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/persist"
)

// ErrNotPersistent is returned by Persist for a context that is not a molt
// actor's spawned with Persistent on a node with a store, and by Spawn for
// Persistent without a store or a name.
var ErrNotPersistent = errors.New("molt: not a persistent actor")

// StoreTimeout bounds each call a node makes to its store: a load at spawn
// or restart, a save by Persist.
const StoreTimeout = 10 * time.Second

// WithStore gives the node a store for the snapshots of its persistent
// actors (see Persistent and Persist).
func WithStore(s persist.Store) Option {
	return func(c *nodeConfig) { c.store = s }
}

// Persistent makes the actor persistent: it starts, at spawn and at every
// restart, from its latest snapshot in the node's store (if it has one),
// migrated from whatever version wrote it to the version it runs; Persist
// writes one. The snapshot is found by the actor's name, so a persistent
// actor must be spawned WithName, on a node WithStore.
//
// A snapshot that cannot be opened (damaged, of a version this binary
// cannot read, no migration path) makes Spawn fail with the reason rather
// than start the actor empty and let its next Persist overwrite the state.
func Persistent() SpawnOption {
	return func(c *spawnConfig) { c.persistent = true }
}

// Persist writes the current state of the molt actor behind ctx, at the
// version it runs, as its latest snapshot under the name it was spawned
// with (WithName: for an actor spawned WithParent, its PID id without the
// parent's prefix), and returns once the store says
// it is durable. Call it from the actor's Receive, after the state changed
// and before acknowledging the change: an acknowledged change then
// survives a crash of the process, and the actor, restarted or spawned
// again by a later binary, starts from it.
//
// Persist returns ErrNotPersistent for a context that is not a persistent
// molt actor's, and the store's error otherwise (persist.ErrStale when a
// newer snapshot of the actor was written elsewhere, as after a takeover;
// the actor must not acknowledge then).
func Persist(ctx pa.Context) error {
	h := hostOf(ctx)
	if h == nil || !h.persistent || h.node.store == nil {
		return fmt.Errorf("%w: Persist needs the context of a molt actor spawned with Persistent on a node WithStore", ErrNotPersistent)
	}
	e, err := h.node.catalog.Seal(h.kind, h.version, h.behavior)
	if err != nil {
		return fmt.Errorf("molt: persist %s: %w", h.name, err)
	}
	// Under the name it was spawned with, which Spawn loads by: under a
	// parent, the PID id has the parent's prefix besides.
	e.Name, e.Labels, e.Sequence = h.name, h.labels, h.seq+1
	sctx, cancel := context.WithTimeout(context.Background(), StoreTimeout)
	defer cancel()
	if err := h.node.store.Save(sctx, e.Name, e); err != nil {
		return fmt.Errorf("molt: persist %s: %w", e.Name, err)
	}
	h.seq++
	return nil
}

// hostOf returns the host behind a molt actor's context, or nil.
func hostOf(ctx pa.Context) *host {
	switch c := ctx.(type) {
	case *messageContext:
		return c.h
	case nil:
		return nil
	}
	h, _ := ctx.Actor().(*host)
	return h
}

// loadSnapshot returns the actor's latest snapshot opened at the cell's
// version, or nil when the store has none.
func (c *cell) loadSnapshot(name string) (pa.Actor, error) {
	ctx, cancel := context.WithTimeout(context.Background(), StoreTimeout)
	defer cancel()
	e, err := c.node.store.Load(ctx, name)
	if errors.Is(err, persist.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("loading the snapshot of %q: %w", name, err)
	}
	return c.open(e)
}

// open turns an envelope of the actor's state into its behaviour at the
// cell's version and takes on the envelope's sequence.
func (c *cell) open(e *envelope.Envelope) (pa.Actor, error) {
	state, err := c.node.catalog.Open(e, c.version)
	if err != nil {
		return nil, fmt.Errorf("opening the snapshot of %q (%s version %d, sequence %d) at version %d: %w", e.GetName(), e.GetKind(), e.GetVersion(), e.GetSequence(), c.version, err)
	}
	if e.GetKind() != c.kind {
		return nil, fmt.Errorf("the snapshot of %q is of kind %s, the actor's is %s", e.GetName(), e.GetKind(), c.kind)
	}
	c.seq = e.GetSequence()
	return state, nil
}
