package registry

import (
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/envelope"
)

// ErrUnknownCodec is returned by Open for an envelope whose codec is not the
// one its version is registered with in this catalogue: the bytes were
// written by a codec this binary would misread.
var ErrUnknownCodec = errors.New("registry: envelope codec unknown")

// Seal encodes a state of a kind's version into a state envelope (kind,
// version, codec name, bytes and checksum). The caller may add the actor's
// name, labels and a sequence number. The state may be a live one: Seal
// only reads it.
//
// Seal returns ErrUnknownKind, ErrUnknownVersion, ErrTypeMismatch when
// state is not the version's state type, or ErrCodec.
func (c *Catalog) Seal(kind string, number uint32, state any) (*envelope.Envelope, error) {
	v, err := c.versionOf(kind, number, state)
	if err != nil {
		return nil, err
	}
	data, err := v.encode(state)
	if err != nil {
		return nil, err
	}
	e := envelope.New(kind, number, v.codec.Name(), data)
	e.SealedUnixNanos = time.Now().UnixNano()
	return e, nil
}

// Open turns a state envelope into a live state of version to: it checks
// the envelope, decodes the state with the codec of the version that wrote
// it, and migrates it along the shortest chain to to. The version that
// wrote it need not run in this binary (see RegisterState). Message
// interfaces are not compared, since no message in flight depends on a
// stored state; an update that carries messages (a takeover) compares them
// with Plan.
//
// Open changes nothing: the envelope is not modified and a refusal leaves
// no trace. It returns the envelope package's ErrMalformed, ErrFormat or
// ErrCorrupt for a damaged envelope; ErrUnknownKind or ErrUnknownVersion
// for a kind or version this catalogue does not know; ErrUnknownCodec when
// the envelope's codec is not its version's; ErrCodec for state bytes the
// codec refuses or over the size limit; ErrNoPath, ErrMigration or
// ErrNotRunnable (to has no behaviour here) for the migration to to.
func (c *Catalog) Open(e *envelope.Envelope, to uint32) (actor.Actor, error) {
	if err := e.Check(); err != nil {
		return nil, err
	}
	kind, from := e.GetKind(), e.GetVersion()
	c.mu.RLock()
	v, err := c.lookup(kind, from)
	c.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("opening a state envelope written at %s version %d: %w; to read states of a version this binary no longer runs, register its state type with registry.RegisterState and a migration from it", kind, from, err)
	}
	if name := v.codec.Name(); name != e.GetCodec() {
		return nil, fmt.Errorf("%w: the envelope of %s version %d was encoded with %q, and this catalogue has %s version %d with %q; register the version with registry.WithCodec of the codec that wrote it", ErrUnknownCodec, kind, from, e.GetCodec(), kind, from, name)
	}
	if err := c.checkSize(v, len(e.GetState())); err != nil {
		return nil, err
	}
	state, err := v.decode(e.GetState())
	if err != nil {
		return nil, err
	}
	if from == to {
		if err := v.mustRun(); err != nil {
			return nil, err
		}
		return state.(actor.Actor), nil
	}
	p, err := c.cachedPlan(planKey{kind: kind, from: from, to: to, opening: true})
	if err != nil {
		return nil, err
	}
	out, err := p.transfer(state, false)
	if err != nil {
		return nil, err
	}
	return out.(actor.Actor), nil
}
