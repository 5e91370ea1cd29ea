package registry

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"
)

// Errors returned by the catalogue. Each is wrapped with the detail of the
// case; test for them with errors.Is.
var (
	// ErrInvalid is returned by Register, Migrate and Adapt when an argument
	// is unusable: an empty kind, version 0, a nil function, a state that is
	// not a pointer, an adapter between interface types, a codec that cannot
	// carry the state.
	ErrInvalid = errors.New("registry: invalid registration")
	// ErrDuplicate is returned when a version, migration or adapter is
	// registered twice.
	ErrDuplicate = errors.New("registry: already registered")
	// ErrUnknownKind is returned when no version of a kind is registered.
	ErrUnknownKind = errors.New("registry: unknown kind")
	// ErrUnknownVersion is returned when a kind has no such version.
	ErrUnknownVersion = errors.New("registry: unknown version")
	// ErrTypeMismatch is returned when a migration or Clone takes or returns
	// a type other than the one registered for its version, and when a state
	// handed to Encode or Transfer is not of its version's type.
	ErrTypeMismatch = errors.New("registry: type mismatch")
	// ErrSameVersion is returned by Plan when from and to are the same
	// version: there is nothing to migrate. (An update to the version an
	// actor already runs is rejected, saying so, before Plan is asked.)
	ErrSameVersion = errors.New("registry: already at that version")
	// ErrNoPath is returned by Plan when no chain of migrations leads from
	// one version to the other.
	ErrNoPath = errors.New("registry: no migration path")
	// ErrIncompatible is returned by Plan when the target version no longer
	// accepts a message type that the current version accepts, and no
	// adapter turns it into one it does accept.
	ErrIncompatible = errors.New("registry: message interface incompatible")
	// ErrMigration is returned by Plan.Transfer when a migration returns an
	// error, panics or returns nil.
	ErrMigration = errors.New("registry: migration failed")
	// ErrCodec is returned when a state cannot be encoded or decoded.
	ErrCodec = errors.New("registry: state codec failed")
	// ErrNotRunnable is returned by Instantiate, Decode and Plan for a
	// version registered with RegisterState: this binary can read that
	// version's state and migrate it to a version it runs, but has no
	// behaviour to run it with.
	ErrNotRunnable = errors.New("registry: version has no behaviour in this binary")
)

// Catalog is the catalogue of versioned kinds: for each kind, its versions
// (factory, state type, codec, message interface, adapters) and the
// migrations between them. The zero value is not usable; call New. A Catalog
// is safe for concurrent use, and versions may be added while actors run.
type Catalog struct {
	mu       sync.RWMutex
	kinds    map[string]*kindEntry
	plans    map[planKey]*Plan // cleared by every registration
	logger   *slog.Logger
	warnings []Warning
	maxState int // bytes Decode accepts
}

type kindEntry struct {
	versions map[uint32]*version
	edges    map[uint32]map[uint32]*migration
}

type version struct {
	kind     string
	number   uint32
	state    reflect.Type
	factory  func() any
	runnable bool // false: registered by RegisterState
	codec    Codec
	clone    func(any) any
	flat     *flatCopy             // nil: the state's copy takes a msgpack round trip
	accepts  map[reflect.Type]bool // nil: the version declared no interface
	adapters map[reflect.Type]adapter
}

type adapter struct {
	out reflect.Type
	fn  func(any) any
}

type migration struct {
	from, to uint32
	fn       func(any) (any, error)
	pure     bool
}

type planKey struct {
	kind     string
	from, to uint32
	// opening: the plan opens a stored state (Open), which no message
	// in flight depends on, so the interfaces are not compared.
	opening bool
}

// Option configures a catalogue.
type Option func(*Catalog)

// WithLogger sets the logger of Register's warnings; the default is
// slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *Catalog) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithMaxStateSize sets the largest state, in bytes, that Decode accepts;
// the default is MaxStateSize. A size of 0 or less keeps the default.
func WithMaxStateSize(n int) Option {
	return func(c *Catalog) {
		if n > 0 {
			c.maxState = n
		}
	}
}

// New returns an empty catalogue.
func New(opts ...Option) *Catalog {
	c := &Catalog{kinds: make(map[string]*kindEntry), plans: make(map[planKey]*Plan), logger: slog.Default(), maxState: MaxStateSize}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Warnings returns what Register found legal but probably wrong, in the
// order it was found (see Register).
func (c *Catalog) Warnings() []Warning {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.warnings)
}

// VersionOption configures a version at registration.
type VersionOption func(*versionConfig)

type versionConfig struct {
	codec     Codec
	clone     func(any) any
	cloneType reflect.Type
	accepts   []any
	declared  bool
	transient []string
}

// WithCodec sets the codec of the version's state. The default is Protobuf
// for a state that is a proto.Message and Msgpack otherwise.
func WithCodec(c Codec) VersionOption {
	return func(vc *versionConfig) { vc.codec = c }
}

// Accepts declares the version's message interface: the message types it
// accepts, given as sample values (typically zero values such as
// &Increment{}). Plan refuses an update to a version that no longer accepts a
// type the current version accepts, unless an adapter is registered. A
// version that declares nothing is not checked.
func Accepts(messages ...any) VersionOption {
	return func(vc *versionConfig) {
		vc.accepts = append(vc.accepts, messages...)
		vc.declared = true
	}
}

// Clone gives the deep copy that isolates a migration's input from the live
// state. Without it the copy is a round trip through the version's codec
// (for a msgpack state whose carried fields are all plain values, the same
// copy made by assigning them).
func Clone[S any](fn func(S) S) VersionOption {
	return func(vc *versionConfig) {
		vc.cloneType = reflect.TypeFor[S]()
		if fn != nil {
			vc.clone = func(s any) any { return fn(s.(S)) }
		}
	}
}

// Register adds a version of a kind. The factory returns a fresh behaviour
// value; the value is also the version's state: its exported fields are what
// the codec carries. Versions are numbered from 1.
//
// With the default codec and no Clone, Register looks for unexported
// fields in the state: msgpack does not carry them, so with the default
// isolation they reach a migration as the factory made them. Each one not
// declared Transient is logged (at warning level, with the catalogue's
// logger) and listed by Catalog.Warnings.
//
// Register returns ErrInvalid for an empty kind, version 0, a nil factory
// or a Transient name that is no uncarried field, ErrDuplicate if the
// version exists, and ErrTypeMismatch for a Clone of another type.
func Register[S actor.Actor](c *Catalog, kind string, number uint32, factory func() S, opts ...VersionOption) error {
	if factory == nil {
		return fmt.Errorf("%w: Register(%q, %d) needs a kind name, a version from 1 up and a factory", ErrInvalid, kind, number)
	}
	return c.register(kind, number, reflect.TypeFor[S](), func() any { return factory() }, true, opts)
}

// RegisterState adds a version of a kind that this binary can read but not
// run: its state type, with no behaviour. It is how a binary keeps the
// versions an older binary ran (and wrote snapshots or sent state
// envelopes at) after their code is gone: register each old version's
// state type and the migrations from it, and Open brings such a state up
// to a version the binary runs. S is the old version's state type (a
// pointer to a struct with the exported fields it had, or its proto
// message); it needs no Receive method.
//
// Such a version cannot be spawned, decoded into a live behaviour or
// updated to: Instantiate, Decode and Plan to it return ErrNotRunnable.
// Accepts is refused (ErrInvalid): a version without behaviour receives no
// messages. Otherwise RegisterState returns what Register returns.
func RegisterState[S any](c *Catalog, kind string, number uint32, factory func() S, opts ...VersionOption) error {
	if factory == nil {
		return fmt.Errorf("%w: RegisterState(%q, %d) needs a kind name, a version from 1 up and a factory", ErrInvalid, kind, number)
	}
	return c.register(kind, number, reflect.TypeFor[S](), func() any { return factory() }, false, opts)
}

func (c *Catalog) register(kind string, number uint32, state reflect.Type, factory func() any, runnable bool, opts []VersionOption) error {
	if kind == "" || number == 0 {
		return fmt.Errorf("%w: Register(%q, %d) needs a kind name, a version from 1 up and a factory", ErrInvalid, kind, number)
	}
	var vc versionConfig
	for _, o := range opts {
		o(&vc)
	}
	if !runnable && vc.declared {
		return fmt.Errorf("%w: RegisterState(%q, %d) with Accepts: a version registered without behaviour receives no messages; declare its interface only where it is registered with Register", ErrInvalid, kind, number)
	}
	if state.Kind() != reflect.Pointer {
		return fmt.Errorf("%w: the state of %s version %d is %v; make it a pointer (func() *%v) so that migrations and codecs can fill it", ErrInvalid, kind, number, state, state)
	}
	if vc.cloneType != nil && vc.cloneType != state {
		return fmt.Errorf("%w: Clone for %s version %d must be a func(%v) %v, got one for %v", ErrTypeMismatch, kind, number, state, state, vc.cloneType)
	}
	if vc.cloneType != nil && vc.clone == nil {
		return fmt.Errorf("%w: Clone for %s version %d is nil", ErrInvalid, kind, number)
	}
	v := &version{
		kind:     kind,
		number:   number,
		state:    state,
		factory:  factory,
		runnable: runnable,
		codec:    vc.codec,
		clone:    vc.clone,
	}
	isProto := state.Implements(reflect.TypeFor[proto.Message]())
	if v.codec == nil {
		v.codec = Msgpack
		if isProto {
			v.codec = Protobuf
		}
	}
	var warnings []Warning
	if v.codec == Msgpack && v.clone == nil {
		var err error
		if warnings, err = checkCarried(kind, number, state, vc.transient); err != nil {
			return err
		}
		v.flat = flatCopyOf(state)
	}
	if v.codec == Protobuf && !isProto {
		return fmt.Errorf("%w: %s version %d uses the protobuf codec but its state %v is not a proto.Message", ErrInvalid, kind, number, state)
	}
	if vc.declared {
		v.accepts = make(map[reflect.Type]bool, len(vc.accepts))
		for _, m := range vc.accepts {
			if m == nil {
				return fmt.Errorf("%w: Accepts for %s version %d has a nil message; pass a typed value such as &MyMessage{}", ErrInvalid, kind, number)
			}
			v.accepts[reflect.TypeOf(m)] = true
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.kinds[kind]
	if k == nil {
		k = &kindEntry{versions: make(map[uint32]*version), edges: make(map[uint32]map[uint32]*migration)}
		c.kinds[kind] = k
	}
	if _, ok := k.versions[number]; ok {
		return fmt.Errorf("%w: %s version %d", ErrDuplicate, kind, number)
	}
	k.versions[number] = v
	clear(c.plans)
	c.warnings = append(c.warnings, warnings...)
	for _, w := range warnings {
		c.logger.Warn(w.Message, "kind", kind, "version", number, "field", w.Field)
	}
	return nil
}

// MigrationOption configures a migration at registration.
type MigrationOption func(*migration)

// Pure declares that the migration never modifies its input. The runtime then
// hands it the live state instead of an isolating copy, which saves a copy of
// the whole state on every update through it. The new state may share memory
// with the old one (a slice handed over as it is): then an update that
// aborts in replacement, after the new version changed that memory in its
// VersionChanged handler, cannot give the old version its state exactly as
// it was. Use Pure for migrations whose new version does not change shared
// memory before it is committed, or hand over copies.
func Pure() MigrationOption {
	return func(m *migration) { m.pure = true }
}

// Migrate registers the migration of a kind's state from one version to
// another: up (from < to) or down (from > to). Both versions must be
// registered first, with the state types From and To.
//
// Migrate returns ErrInvalid for from == to or a nil function,
// ErrUnknownKind or ErrUnknownVersion for a version not registered,
// ErrTypeMismatch when From or To is not that version's state type, and
// ErrDuplicate if the migration exists.
func Migrate[From, To any](c *Catalog, kind string, from, to uint32, fn func(From) (To, error), opts ...MigrationOption) error {
	if from == to || fn == nil {
		return fmt.Errorf("%w: Migrate(%q, %d, %d) needs two different versions and a function", ErrInvalid, kind, from, to)
	}
	m := &migration{
		from: from,
		to:   to,
		fn: func(s any) (any, error) {
			out, err := fn(s.(From))
			if err != nil {
				return nil, err
			}
			if isNil(out) {
				return nil, errors.New("the migration returned a nil state")
			}
			return out, nil
		},
	}
	for _, o := range opts {
		o(m)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	fromV, err := c.lookup(kind, from)
	if err != nil {
		return err
	}
	toV, err := c.lookup(kind, to)
	if err != nil {
		return err
	}
	if ft, tt := reflect.TypeFor[From](), reflect.TypeFor[To](); ft != fromV.state || tt != toV.state {
		return fmt.Errorf("%w: migration %s %d→%d is func(%v) (%v, error); the versions' states are %v and %v", ErrTypeMismatch, kind, from, to, ft, tt, fromV.state, toV.state)
	}
	k := c.kinds[kind]
	if k.edges[from] == nil {
		k.edges[from] = make(map[uint32]*migration)
	}
	if _, ok := k.edges[from][to]; ok {
		return fmt.Errorf("%w: migration %s %d→%d", ErrDuplicate, kind, from, to)
	}
	k.edges[from][to] = m
	clear(c.plans)
	return nil
}

// Adapt registers, on a version, the adapter that turns a message of an older
// version's interface into one this version accepts. An actor that switches
// to this version after the registration (by an update, or a restart)
// receives a message of type Old as fn(message); actors already running the
// version keep the adapters they started with.
//
// Adapt returns ErrInvalid for a nil function or an interface type (a
// message has one concrete type, which the adapter is looked up by),
// ErrUnknownKind or
// ErrUnknownVersion for a version not registered, and ErrDuplicate if the
// version already adapts Old.
func Adapt[Old, New any](c *Catalog, kind string, number uint32, fn func(Old) New) error {
	if fn == nil {
		return fmt.Errorf("%w: Adapt(%q, %d) needs a function", ErrInvalid, kind, number)
	}
	in, out := reflect.TypeFor[Old](), reflect.TypeFor[New]()
	if in.Kind() == reflect.Interface || out.Kind() == reflect.Interface {
		return fmt.Errorf("%w: Adapt(%q, %d) from %v to %v: both must be concrete message types, not interfaces", ErrInvalid, kind, number, in, out)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	v, err := c.lookup(kind, number)
	if err != nil {
		return err
	}
	if _, ok := v.adapters[in]; ok {
		return fmt.Errorf("%w: %s version %d already adapts %v", ErrDuplicate, kind, number, in)
	}
	if v.adapters == nil {
		v.adapters = make(map[reflect.Type]adapter)
	}
	v.adapters[in] = adapter{out: out, fn: func(m any) any { return fn(m.(Old)) }}
	clear(c.plans)
	return nil
}

// lookup finds a version; c.mu must be held.
func (c *Catalog) lookup(kind string, number uint32) (*version, error) {
	k := c.kinds[kind]
	if k == nil {
		return nil, fmt.Errorf("%w %q: register it with registry.Register first", ErrUnknownKind, kind)
	}
	v := k.versions[number]
	if v == nil {
		return nil, fmt.Errorf("%w: %s has no version %d (registered: %s)", ErrUnknownVersion, kind, number, versionList(k))
	}
	return v, nil
}

func versionList(k *kindEntry) string {
	ns := make([]int, 0, len(k.versions))
	for n := range k.versions {
		ns = append(ns, int(n))
	}
	sort.Ints(ns)
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = fmt.Sprint(n)
	}
	return strings.Join(parts, ", ")
}

// Instantiate returns a fresh behaviour of a kind at a version, made by its
// factory. It returns ErrUnknownKind or ErrUnknownVersion, and
// ErrNotRunnable for a version registered with RegisterState.
func (c *Catalog) Instantiate(kind string, number uint32) (actor.Actor, error) {
	c.mu.RLock()
	v, err := c.lookup(kind, number)
	c.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	if err := v.mustRun(); err != nil {
		return nil, err
	}
	return v.factory().(actor.Actor), nil
}

// mustRun refuses a version that has no behaviour in this binary.
func (v *version) mustRun() error {
	if v.runnable {
		return nil
	}
	return fmt.Errorf("%w: %s version %d was registered with RegisterState (its state only); register its behaviour with Register to run it, or Open its state at a version this binary runs", ErrNotRunnable, v.kind, v.number)
}

// Kinds returns the registered kinds, sorted.
func (c *Catalog) Kinds() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, 0, len(c.kinds))
	for k := range c.kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Versions returns the registered versions of a kind, ascending.
func (c *Catalog) Versions(kind string) []uint32 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	k := c.kinds[kind]
	if k == nil {
		return nil
	}
	out := make([]uint32, 0, len(k.versions))
	for n := range k.versions {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Copy returns a deep copy of a state of a kind's version, made as the
// isolating copy of a migration is: with the version's Clone, or a round
// trip through its codec. It returns ErrUnknownKind, ErrUnknownVersion,
// ErrTypeMismatch or ErrCodec.
func (c *Catalog) Copy(kind string, number uint32, state actor.Actor) (actor.Actor, error) {
	v, err := c.versionOf(kind, number, state)
	if err != nil {
		return nil, err
	}
	cp, err := v.isolate(state)
	if err != nil {
		return nil, err
	}
	return cp.(actor.Actor), nil
}

// versionOf looks a version up and checks that state, not nil, is of its
// state type.
func (c *Catalog) versionOf(kind string, number uint32, state any) (*version, error) {
	c.mu.RLock()
	v, err := c.lookup(kind, number)
	c.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	if reflect.TypeOf(state) != v.state || isNil(state) {
		return nil, fmt.Errorf("%w: %s version %d has state %v, not %T", ErrTypeMismatch, kind, number, v.state, state)
	}
	return v, nil
}

// Encode encodes a state of a kind's version with the version's codec. It
// returns ErrUnknownKind, ErrUnknownVersion, ErrTypeMismatch when state is
// not the version's state type, or ErrCodec.
func (c *Catalog) Encode(kind string, number uint32, state actor.Actor) ([]byte, error) {
	c.mu.RLock()
	v, err := c.lookup(kind, number)
	c.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	if reflect.TypeOf(state) != v.state {
		return nil, fmt.Errorf("%w: %s version %d has state %v, not %T", ErrTypeMismatch, kind, number, v.state, state)
	}
	return v.encode(state)
}

// Decode decodes a state of a kind's version into a value made by the
// version's factory. It returns ErrUnknownKind, ErrUnknownVersion,
// ErrNotRunnable (a version registered with RegisterState: Open it at a
// version the binary runs) or ErrCodec; it never panics on malformed input. A state over the
// catalogue's size limit (MaxStateSize unless WithMaxStateSize says
// otherwise) is refused with ErrCodec before the codec sees it.
func (c *Catalog) Decode(kind string, number uint32, data []byte) (actor.Actor, error) {
	c.mu.RLock()
	v, err := c.lookup(kind, number)
	c.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	if err := v.mustRun(); err != nil {
		return nil, err
	}
	if err := c.checkSize(v, len(data)); err != nil {
		return nil, err
	}
	state, err := v.decode(data)
	if err != nil {
		return nil, err
	}
	return state.(actor.Actor), nil
}

func (c *Catalog) checkSize(v *version, n int) error {
	if n > c.maxState {
		return fmt.Errorf("%w: a state of %s version %d is %d bytes, over the limit of %d (registry.MaxStateSize, or the catalogue's WithMaxStateSize); raise it with registry.WithMaxStateSize if such states are expected", ErrCodec, v.kind, v.number, n, c.maxState)
	}
	return nil
}

func (v *version) encode(state any) (data []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, fmt.Errorf("%w: encoding %s version %d with %s panicked: %v", ErrCodec, v.kind, v.number, v.codec.Name(), r)
		}
	}()
	data, err = v.codec.Encode(state)
	if err != nil {
		return nil, fmt.Errorf("%w: encoding %s version %d with %s: %w", ErrCodec, v.kind, v.number, v.codec.Name(), err)
	}
	return data, nil
}

func (v *version) decode(data []byte) (state any, err error) {
	defer func() {
		if r := recover(); r != nil {
			state, err = nil, fmt.Errorf("%w: decoding %s version %d with %s panicked: %v", ErrCodec, v.kind, v.number, v.codec.Name(), r)
		}
	}()
	state = v.factory()
	if err := v.codec.Decode(data, state); err != nil {
		return nil, fmt.Errorf("%w: decoding %s version %d with %s: %w", ErrCodec, v.kind, v.number, v.codec.Name(), err)
	}
	return state, nil
}

// isolate returns a deep copy of the live state for a migration to work on.
func (v *version) isolate(state any) (any, error) {
	if v.clone != nil {
		c := v.clone(state)
		if isNil(c) {
			return nil, fmt.Errorf("%w: the Clone of %s version %d returned nil", ErrCodec, v.kind, v.number)
		}
		return c, nil
	}
	if v.codec == Msgpack {
		if v.flat != nil {
			if c, ok := v.flat.copy(state, v.state, v.factory); ok {
				return c, nil
			}
		}
		c := v.factory()
		if err := msgpackCopy(state, c); err != nil {
			return nil, fmt.Errorf("%w: copying %s version %d with msgpack: %w", ErrCodec, v.kind, v.number, err)
		}
		return c, nil
	}
	data, err := v.encode(state)
	if err != nil {
		return nil, err
	}
	return v.decode(data)
}

// isNil reports whether a state is nil, including a typed nil pointer.
func isNil(state any) bool {
	if state == nil {
		return true
	}
	switch v := reflect.ValueOf(state); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Interface, reflect.Chan:
		return v.IsNil()
	}
	return false
}
