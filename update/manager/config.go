package manager

import (
	"errors"
	"fmt"
	"strings"
)

// Defaults of Config's limits. The manager's protobuf messages can come
// from other processes, so everything it keeps or echoes from them is
// bounded; the defaults are far beyond what an honest caller sends.
const (
	// DefaultMaxDocumentBytes bounds a RunPackage's document: the
	// manifest's own default (manifest.Limits.MaxBytes), which a package
	// naming ten thousand actors one by one stays well within.
	DefaultMaxDocumentBytes = 1 << 20
	// DefaultMaxIDBytes bounds a package id (in a RunPackage's document
	// and in CancelPackage).
	DefaultMaxIDBytes = 256
	// DefaultMaxReasonBytes bounds a reason the manager copies into its
	// events from an actor's UpdateResult or ProbationResult; a longer one
	// is cut, and says so.
	DefaultMaxReasonBytes = 4096
	// DefaultMaxSubscribers bounds the subscribers the manager sends its
	// events to.
	DefaultMaxSubscribers = 1024
)

// maxIDCeiling is the longest package id a Config may allow: the id, with
// the run's "#sequence", is the update_id of every UpdateActor the manager
// sends, and actors refuse update ids longer than 1024 bytes.
const maxIDCeiling = 1000

// Config sets the manager's limits on what it takes from outside. A zero
// field takes its default (the Default* constants); Spawn uses the zero
// Config.
type Config struct {
	// MaxDocumentBytes bounds the size of a RunPackage's document; the
	// document is read with manifest.LoadLimited under this MaxBytes and
	// the manifest's default limits otherwise.
	MaxDocumentBytes int
	// MaxIDBytes bounds the length of a package id; at most 1000.
	MaxIDBytes int
	// MaxReasonBytes bounds a reason copied from an actor's result into an
	// event.
	MaxReasonBytes int
	// MaxSubscribers bounds the number of subscribers.
	MaxSubscribers int
	// Name, if set, is the name the manager actor is spawned under: its
	// PID's id, so that another process reaches it at
	// actor.NewPID(nodeAddress, Name) without being told its PID. Empty
	// spawns it unnamed (protoactor's "$n" id), as Spawn does, and lets a
	// node run several managers. DefaultName is the conventional choice
	// for a node's one manager. A name is at most MaxNameBytes, with no
	// '/' (protoactor's separator of child names) and no '$' (its
	// generated ids, which a name must not collide with).
	Name string
}

// MaxNameBytes bounds Config.Name; a PID's id travels in every message to
// the manager from another process.
const MaxNameBytes = 256

// Validate reports every field out of range, each by name.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{
		{"MaxDocumentBytes", c.MaxDocumentBytes},
		{"MaxIDBytes", c.MaxIDBytes},
		{"MaxReasonBytes", c.MaxReasonBytes},
		{"MaxSubscribers", c.MaxSubscribers},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("manager: Config.%s is %d: give a positive limit, or 0 for the default", f.name, f.v))
		}
	}
	switch {
	case len(c.Name) > MaxNameBytes:
		errs = append(errs, fmt.Errorf("manager: Config.Name is %d bytes, over %d", len(c.Name), MaxNameBytes))
	case strings.ContainsAny(c.Name, "/$"):
		errs = append(errs, fmt.Errorf("manager: Config.Name %q has a '/' or a '$': protoactor reserves them for child paths and generated ids", c.Name))
	}
	if c.MaxIDBytes > maxIDCeiling {
		errs = append(errs, fmt.Errorf("manager: Config.MaxIDBytes is %d, over %d: the id becomes the update_id of every update, which actors bound to 1024 bytes", c.MaxIDBytes, maxIDCeiling))
	}
	return errors.Join(errs...)
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxDocumentBytes, DefaultMaxDocumentBytes)
	def(&c.MaxIDBytes, DefaultMaxIDBytes)
	def(&c.MaxReasonBytes, DefaultMaxReasonBytes)
	def(&c.MaxSubscribers, DefaultMaxSubscribers)
	return c
}

// clip cuts s to max bytes, on a rune boundary, saying it was cut.
func clip(s string, max int, limit string) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (cut: %d bytes, over the manager's %s of %d)", len(s), limit, max)
}
