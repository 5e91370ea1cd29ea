package persist

import (
	"context"
	"errors"
	"fmt"

	"github.com/molt-go/molt/envelope"
)

// Errors a Store returns, each wrapped with the detail of the case.
var (
	// ErrNotFound is returned by Load when the store holds no snapshot of
	// the name.
	ErrNotFound = errors.New("persist: no snapshot")
	// ErrStale is returned by Save when the store already holds a snapshot
	// of the name with a higher sequence: an older writer (a process being
	// taken over, a delayed retry) must not overwrite a newer state. The
	// stored snapshot is unchanged.
	ErrStale = errors.New("persist: snapshot older than the stored one")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("persist: store closed")
)

// Store keeps the latest snapshot of each actor, by name, as a state
// envelope. It is how a molt actor's state outlives its process: the
// envelope says which kind and version wrote it, so a binary running a
// later version opens it migrated (registry.Catalog.Open).
//
// Implementations must be safe for concurrent use, and keep these rules:
//   - Save is durable: once it returns nil, the snapshot survives a crash
//     of the process (kill -9), and Load returns it or a newer one.
//   - Save is atomic per name: Load never returns a torn or mixed record.
//   - Save refuses, with ErrStale, a snapshot whose Sequence is lower than
//     the stored one's; an equal sequence replaces it (a retry).
//   - Save refuses an envelope that fails its Check, unchanged.
//   - Load returns ErrNotFound for a name never saved or deleted, and an
//     envelope error (package envelope's ErrCorrupt, ...) for a record that
//     was damaged at rest, never a damaged envelope.
//   - A canceled ctx makes a call return ctx.Err() without effect, where
//     the store can still tell.
type Store interface {
	// Save records snap as the latest snapshot of name.
	Save(ctx context.Context, name string, snap *envelope.Envelope) error
	// Load returns the latest snapshot of name.
	Load(ctx context.Context, name string) (*envelope.Envelope, error)
	// Delete forgets the snapshots of name; deleting a name that has none
	// is not an error.
	Delete(ctx context.Context, name string) error
	// Close releases the store. Calls after Close return ErrClosed.
	Close() error
}

// CheckName returns nil for a name a Store accepts, and an ErrName that
// says what is wrong otherwise: empty, or longer than
// envelope.MaxNameLength. Stores call it first in each method, so that
// every store refuses the same names.
func CheckName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: the name is empty", ErrName)
	case len(name) > envelope.MaxNameLength:
		return fmt.Errorf("%w: the name is %d bytes, over the limit of %d (envelope.MaxNameLength)", ErrName, len(name), envelope.MaxNameLength)
	}
	return nil
}
