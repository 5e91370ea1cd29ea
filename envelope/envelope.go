package envelope

import (
	"errors"
	"fmt"
	"hash/crc32"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
)

// Format is the envelope layout this package writes and reads.
const Format = 1

// Bounds an envelope must keep. They are generous for real actors and
// small enough that a hostile envelope cannot make a reader allocate much.
const (
	// MaxSize bounds a marshalled envelope: 64 MiB, room for the largest
	// state a catalogue accepts (registry.MaxStateSize is 16 MiB; it can
	// be raised) and its frame.
	MaxSize = 64 << 20
	// MaxKindLength bounds, in bytes, the kind and the codec name.
	MaxKindLength = 256
	// MaxNameLength bounds, in bytes, the actor's name.
	MaxNameLength = 1024
	// MaxLabels bounds the number of labels; MaxLabelLength each key and
	// value, in bytes.
	MaxLabels      = 64
	MaxLabelLength = 1024
)

// Errors returned by Check and Unmarshal, each wrapped with what was wrong.
var (
	// ErrMalformed is returned for bytes that are not an envelope (not
	// protobuf, or over MaxSize) and for an envelope with a required
	// field missing or a field over its bound.
	ErrMalformed = errors.New("envelope: malformed")
	// ErrFormat is returned for an envelope of a format this package does
	// not know: it was written by a newer molt.
	ErrFormat = errors.New("envelope: unknown format")
	// ErrCorrupt is returned when the state bytes do not match the
	// checksum: the envelope was damaged in storage or transit.
	ErrCorrupt = errors.New("envelope: state does not match its checksum")
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC-32C of state, the value an envelope's checksum
// must hold.
func Checksum(state []byte) uint32 { return crc32.Checksum(state, castagnoli) }

// New returns an envelope of the current format for a state of kind at
// version, encoded by codec, with its checksum set. It does not copy state.
func New(kind string, version uint32, codec string, state []byte) *Envelope {
	return &Envelope{
		Format:   Format,
		Kind:     kind,
		Version:  version,
		Codec:    codec,
		State:    state,
		Checksum: Checksum(state),
	}
}

// Check reports whether e is a well-formed envelope whose state matches its
// checksum. It returns ErrMalformed, ErrFormat or ErrCorrupt, wrapped with
// the detail.
func (e *Envelope) Check() error {
	if e == nil {
		return fmt.Errorf("%w: nil envelope", ErrMalformed)
	}
	if f := e.GetFormat(); f != Format {
		if f == 0 {
			return fmt.Errorf("%w: format is unset; an envelope must be made by envelope.New or registry.Catalog.Seal", ErrMalformed)
		}
		return fmt.Errorf("%w: format %d (this molt reads format %d); open it with the molt version that wrote it, or upgrade this one", ErrFormat, f, Format)
	}
	if err := bounded("kind", e.GetKind(), MaxKindLength, true); err != nil {
		return err
	}
	if e.GetVersion() == 0 {
		return fmt.Errorf("%w: %s envelope has version 0; versions start at 1", ErrMalformed, e.GetKind())
	}
	if err := bounded("codec", e.GetCodec(), MaxKindLength, true); err != nil {
		return err
	}
	if err := bounded("name", e.GetName(), MaxNameLength, false); err != nil {
		return err
	}
	if n := len(e.GetLabels()); n > MaxLabels {
		return fmt.Errorf("%w: %d labels, over the limit of %d (envelope.MaxLabels)", ErrMalformed, n, MaxLabels)
	}
	for k, v := range e.GetLabels() {
		if err := bounded("label key", k, MaxLabelLength, true); err != nil {
			return err
		}
		if err := bounded("label "+k, v, MaxLabelLength, false); err != nil {
			return err
		}
	}
	if sum := Checksum(e.GetState()); sum != e.GetChecksum() {
		return fmt.Errorf("%w: %s version %d state of %d bytes has CRC-32C %08x, the envelope says %08x", ErrCorrupt, e.GetKind(), e.GetVersion(), len(e.GetState()), sum, e.GetChecksum())
	}
	return nil
}

func bounded(what, s string, limit int, required bool) error {
	switch {
	case required && s == "":
		return fmt.Errorf("%w: the %s is empty", ErrMalformed, what)
	case len(s) > limit:
		return fmt.Errorf("%w: the %s is %d bytes, over the limit of %d", ErrMalformed, what, len(s), limit)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: the %s is not valid UTF-8", ErrMalformed, what)
	}
	return nil
}

// Marshal checks e and returns its wire form.
func Marshal(e *Envelope) ([]byte, error) {
	if err := e.Check(); err != nil {
		return nil, err
	}
	data, err := proto.MarshalOptions{Deterministic: true}.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return data, nil
}

// Unmarshal reads an envelope from data and checks it. It returns
// ErrMalformed, ErrFormat or ErrCorrupt; it never panics on any input. The
// envelope does not share memory with data.
func Unmarshal(data []byte) (*Envelope, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: %d bytes, over the limit of %d (envelope.MaxSize)", ErrMalformed, len(data), MaxSize)
	}
	e := new(Envelope)
	if err := proto.Unmarshal(data, e); err != nil {
		return nil, fmt.Errorf("%w: not an envelope: %v", ErrMalformed, err)
	}
	if err := e.Check(); err != nil {
		return nil, err
	}
	return e, nil
}
