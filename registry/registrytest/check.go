package registrytest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
	"pgregory.net/rapid"
)

// Option configures Check.
type Option func(*config)

type config struct {
	states   map[uint32]func(*rapid.T) actor.Actor
	types    map[uint32]reflect.Type
	lossless [][2]uint32
	except   map[string]string
	refusals map[[2]uint32]bool
}

// States gives the generator of a version's states, in place of the
// default one made from the factory. S must be the version's state type
// (Check fails otherwise). States that break the version's invariants are
// still discarded, but a good generator makes few of them.
func States[S actor.Actor](version uint32, g *rapid.Generator[S]) Option {
	return func(c *config) {
		c.states[version] = func(t *rapid.T) actor.Actor { return g.Draw(t, "state") }
		c.types[version] = reflect.TypeFor[S]()
	}
}

// Lossless declares that migrating a state of version a to version b and
// back gives the state back, unchanged in every exported field; Check then
// tests it (lossless/a-b). Declare it for the pairs whose down migration
// must undo the up migration exactly.
func Lossless(a, b uint32) Option {
	return func(c *config) { c.lossless = append(c.lossless, [2]uint32{a, b}) }
}

// MayRefuse declares that the migration from→to returns an error, by
// design, for some states that satisfy from's invariants (a down migration
// that would have to round money away, say): such states are then
// discarded by every property whose migrations include from→to, instead of
// failing it. A panic is still a failure.
func MayRefuse(from, to uint32) Option {
	return func(c *config) { c.refusals[[2]uint32{from, to}] = true }
}

// Except skips the named properties (as Check names its subtests:
// "migration/3-4", "codec/v2") and says why in the test log: for a known
// defect that is tracked elsewhere, so that the rest of the kind stays
// tested. Check fails if a name matches no property.
func Except(why string, names ...string) Option {
	return func(c *config) {
		for _, n := range names {
			c.except[n] = why
		}
	}
}

// Check tests a kind's migrations, codecs and message interfaces as
// subtests of t (see the package documentation for each property). rapid's
// flags apply: -rapid.checks=1000 draws more states.
func Check(t *testing.T, cat *registry.Catalog, kind string, opts ...Option) {
	t.Helper()
	k, err := newKit(cat, kind, opts)
	if err != nil {
		t.Fatal(err)
	}
	props := k.properties()
	for name := range k.cfg.except {
		if !slices.ContainsFunc(props, func(p property) bool { return p.name == name }) {
			t.Errorf("registrytest: Except(%q): %s has no such property", name, kind)
		}
	}
	for _, p := range props {
		t.Run(p.name, func(t *testing.T) {
			if why, ok := k.cfg.except[p.name]; ok {
				t.Skipf("skipped by Except: %s", why)
			}
			t.Cleanup(func() { k.adviseGenerators(t) })
			k.check(t, p)
		})
	}
}

// kit holds what Check found out about a kind.
type kit struct {
	cat        *registry.Catalog
	kind       string
	versions   []uint32
	migrations []registry.Migration
	cfg        config
	// discarded counts, by version, the states of the property running
	// now that broke their invariants; drawn counts all.
	discarded, drawn map[uint32]int
}

// property is one subtest: a rapid property, or a plain check.
type property struct {
	name  string
	prop  func(*rapid.T)
	plain func(rapid.TB)
}

func newKit(cat *registry.Catalog, kind string, opts []Option) (*kit, error) {
	k := &kit{cat: cat, kind: kind}
	// Versions registered with RegisterState have no behaviour to draw
	// states from; the kit checks the versions the binary runs and the
	// migrations between them.
	infos, _ := cat.Describe(kind)
	stateOnly := map[uint32]bool{}
	for _, vi := range infos {
		if vi.StateOnly {
			stateOnly[vi.Version] = true
		} else {
			k.versions = append(k.versions, vi.Version)
		}
	}
	for _, m := range cat.Migrations(kind) {
		if !stateOnly[m.From] && !stateOnly[m.To] {
			k.migrations = append(k.migrations, m)
		}
	}
	if len(k.versions) == 0 {
		return nil, fmt.Errorf("registrytest: the catalogue has no kind %q that this binary runs; register its versions first", kind)
	}
	k.cfg = config{states: map[uint32]func(*rapid.T) actor.Actor{}, types: map[uint32]reflect.Type{}, except: map[string]string{}, refusals: map[[2]uint32]bool{}}
	for _, o := range opts {
		o(&k.cfg)
	}
	for v, typ := range k.cfg.types {
		s, err := cat.Instantiate(kind, v)
		if err != nil {
			return nil, fmt.Errorf("registrytest: States for %s version %d: %w", kind, v, err)
		}
		if st := reflect.TypeOf(s); st != typ {
			return nil, fmt.Errorf("registrytest: States for %s version %d generates %v; the version's state is %v", kind, v, typ, st)
		}
	}
	for _, p := range k.cfg.lossless {
		if _, err := cat.Plan(kind, p[0], p[1]); err != nil {
			return nil, fmt.Errorf("registrytest: Lossless(%d, %d): %w", p[0], p[1], err)
		}
		if _, err := cat.Plan(kind, p[1], p[0]); err != nil {
			return nil, fmt.Errorf("registrytest: Lossless(%d, %d): %w", p[0], p[1], err)
		}
	}
	return k, nil
}

// properties lists the subtests in a stable order.
func (k *kit) properties() []property {
	var ps []property
	for _, v := range k.versions {
		ps = append(ps, property{name: fmt.Sprintf("codec/v%d", v), prop: k.codecRoundTrip(v)})
	}
	direct := map[[2]uint32]bool{}
	for _, m := range k.migrations {
		direct[[2]uint32{m.From, m.To}] = true
		ps = append(ps, property{name: fmt.Sprintf("migration/%d-%d", m.From, m.To), prop: k.preserves(m.From, m.To)})
	}
	for _, a := range k.versions {
		for _, b := range k.versions {
			if a == b || direct[[2]uint32{a, b}] {
				continue
			}
			if p, err := k.cat.Plan(k.kind, a, b); err == nil && len(p.Path()) > 2 {
				ps = append(ps, property{name: fmt.Sprintf("chain/%d-%d", a, b), prop: k.preserves(a, b)})
			}
		}
	}
	for _, m := range k.migrations {
		if chain := k.chainAvoiding(m.From, m.To); chain != nil {
			ps = append(ps, property{name: fmt.Sprintf("shortcut/%d-%d", m.From, m.To), prop: k.shortcutAgrees(chain)})
		}
	}
	for _, p := range k.cfg.lossless {
		ps = append(ps, property{name: fmt.Sprintf("lossless/%d-%d", p[0], p[1]), prop: k.lossless(p[0], p[1])})
	}
	seen := map[[2]uint32]bool{}
	pairs := make([][2]uint32, 0, len(k.migrations)+len(k.versions))
	for _, m := range k.migrations {
		pairs = append(pairs, [2]uint32{m.From, m.To})
	}
	for i := 1; i < len(k.versions); i++ {
		pairs = append(pairs, [2]uint32{k.versions[i-1], k.versions[i]})
	}
	for _, p := range pairs {
		if _, err := k.cat.Plan(k.kind, p[0], p[1]); errors.Is(err, registry.ErrNoPath) {
			continue // no update can go from one to the other
		}
		if !seen[p] {
			seen[p] = true
			ps = append(ps, property{name: fmt.Sprintf("messages/%d-%d", p[0], p[1]), plain: k.messagesAccepted(p[0], p[1])})
		}
	}
	return ps
}

// check runs one property.
func (k *kit) check(t rapid.TB, p property) {
	if p.plain != nil {
		p.plain(t)
		return
	}
	k.discarded, k.drawn = map[uint32]int{}, map[uint32]int{}
	rapid.Check(t, p.prop)
}

// draw draws a state of a version, discarding those that break its
// invariants.
func (k *kit) draw(t *rapid.T, v uint32) actor.Actor {
	s := k.drawAny(t, v)
	k.drawn[v]++
	if err := invariants(s); err != nil {
		k.discarded[v]++
		t.Skipf("the state breaks the invariants of version %d: %v", v, err)
	}
	return s
}

// drawAny draws a state of a version, valid or not.
func (k *kit) drawAny(t *rapid.T, v uint32) actor.Actor {
	var s actor.Actor
	if g := k.cfg.states[v]; g != nil {
		s = g(t)
	} else {
		s = defaultStates(func() actor.Actor {
			s, err := k.cat.Instantiate(k.kind, v)
			if err != nil {
				t.Fatalf("registrytest: %v", err)
			}
			return s
		}).Draw(t, "state")
	}
	return s
}

// adviseGenerators says, after a property failed, which versions' states
// were mostly discarded: rapid then fails for want of valid states, and
// the cure is a generator.
func (k *kit) adviseGenerators(t *testing.T) {
	if !t.Failed() {
		return
	}
	for v, n := range k.discarded {
		if n*2 > k.drawn[v] {
			how := "the default generator"
			if k.cfg.states[v] != nil {
				how = "its generator"
			}
			t.Logf("registrytest: %d of %d states that %s made for %s version %d broke its invariants; give it a generator of valid states with registrytest.States(%d, ...)",
				n, k.drawn[v], how, k.kind, v, v)
		}
	}
}

// copyOf returns an independent copy of a state, so that a property can
// run two migrations on the same input.
func (k *kit) copyOf(t *rapid.T, v uint32, s actor.Actor) actor.Actor {
	c, err := k.cat.Copy(k.kind, v, s)
	if err != nil {
		t.Fatalf("copying a state of %s version %d: %v", k.kind, v, err)
	}
	return c
}

func (k *kit) codecRoundTrip(v uint32) func(*rapid.T) {
	return func(t *rapid.T) {
		s := k.drawAny(t, v) // a codec carries any state, valid or not
		data, err := k.cat.Encode(k.kind, v, s)
		if err != nil {
			t.Fatalf("version %d's codec cannot encode the state: %v", v, err)
		}
		back, err := k.cat.Decode(k.kind, v, data)
		if err != nil {
			t.Fatalf("version %d's codec cannot decode what it encoded: %v", v, err)
		}
		if d := diff(s, back); d != "" {
			t.Fatalf("version %d's codec does not carry the state through a round trip: %s", v, d)
		}
	}
}

// preserves checks that the plan from a to b succeeds on states that
// satisfy a's invariants and returns states that satisfy b's.
func (k *kit) preserves(a, b uint32) func(*rapid.T) {
	return func(t *rapid.T) {
		p, err := k.cat.PlanThrough(k.kind, a, b)
		if errors.Is(err, registry.ErrNoPath) {
			p, err = k.cat.Plan(k.kind, a, b)
		}
		if err != nil {
			t.Fatalf("no plan from version %d to %d: %v", a, b, err)
		}
		s := k.draw(t, a)
		out, err := p.Transfer(s)
		k.skipRefusal(t, p.Path(), err)
		if err != nil {
			t.Fatalf("migrating %d→%d (through %v) a state that satisfies version %d's invariants: %v", a, b, p.Path(), a, err)
		}
		if err := invariants(out); err != nil {
			t.Fatalf("migrating %d→%d (through %v) breaks version %d's invariants: %v", a, b, p.Path(), b, err)
		}
	}
}

func (k *kit) shortcutAgrees(chain []uint32) func(*rapid.T) {
	a, b := chain[0], chain[len(chain)-1]
	return func(t *rapid.T) {
		direct, err := k.cat.PlanThrough(k.kind, a, b)
		if err != nil {
			t.Fatal(err)
		}
		long, err := k.cat.PlanThrough(k.kind, chain...)
		if err != nil {
			t.Fatal(err)
		}
		s := k.draw(t, a)
		x, errX := direct.Transfer(k.copyOf(t, a, s))
		y, errY := long.Transfer(k.copyOf(t, a, s))
		k.skipRefusal(t, direct.Path(), errX)
		k.skipRefusal(t, long.Path(), errY)
		if (errX == nil) != (errY == nil) {
			t.Fatalf("the direct migration %d→%d and the chain %v disagree: %v against %v", a, b, chain, errX, errY)
		}
		if errX != nil {
			return
		}
		if d := diff(x, y); d != "" {
			t.Fatalf("the direct migration %d→%d and the chain %v give different states (direct, then chain): %s", a, b, chain, d)
		}
	}
}

func (k *kit) lossless(a, b uint32) func(*rapid.T) {
	return func(t *rapid.T) {
		up, err := k.cat.Plan(k.kind, a, b)
		if err != nil {
			t.Fatal(err)
		}
		down, err := k.cat.Plan(k.kind, b, a)
		if err != nil {
			t.Fatal(err)
		}
		s := k.draw(t, a)
		mid, err := up.Transfer(k.copyOf(t, a, s))
		k.skipRefusal(t, up.Path(), err)
		if err != nil {
			t.Fatalf("migrating %d→%d: %v", a, b, err)
		}
		back, err := down.Transfer(mid)
		k.skipRefusal(t, down.Path(), err)
		if err != nil {
			t.Fatalf("migrating %d→%d→%d, the way back: %v", a, b, a, err)
		}
		if d := diff(s, back); d != "" {
			t.Fatalf("declared lossless, %d→%d→%d changes the state (before, then after): %s", a, b, a, d)
		}
	}
}

func (k *kit) messagesAccepted(a, b uint32) func(rapid.TB) {
	return func(t rapid.TB) {
		if _, err := k.cat.Plan(k.kind, a, b); errors.Is(err, registry.ErrIncompatible) {
			t.Fatalf("version %d does not accept every message version %d accepts: %v", b, a, err)
		}
	}
}

// chainAvoiding returns the shortest chain of migrations from a to b that
// does not take the direct migration a→b, trying lower versions first, or
// nil when there is none.
func (k *kit) chainAvoiding(a, b uint32) []uint32 {
	next := map[uint32][]uint32{}
	for _, m := range k.migrations {
		if m.From == a && m.To == b {
			continue
		}
		next[m.From] = append(next[m.From], m.To)
	}
	for _, tos := range next {
		slices.Sort(tos)
	}
	prev := map[uint32]uint32{a: a}
	queue := []uint32{a}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range next[v] {
			if _, ok := prev[w]; ok {
				continue
			}
			prev[w] = v
			if w == b {
				chain := []uint32{b}
				for x := b; x != a; x = prev[x] {
					chain = append(chain, prev[x])
				}
				slices.Reverse(chain)
				return chain
			}
			queue = append(queue, w)
		}
	}
	return nil
}

// skipRefusal discards the state when err comes from a migration of path
// declared with MayRefuse, and is not a panic.
func (k *kit) skipRefusal(t *rapid.T, path []uint32, err error) {
	if err == nil || strings.Contains(err.Error(), "panicked") {
		return
	}
	for i := 1; i < len(path); i++ {
		step := [2]uint32{path[i-1], path[i]}
		if k.cfg.refusals[step] && strings.Contains(err.Error(), fmt.Sprintf(" %d→%d: ", step[0], step[1])) {
			t.Skipf("the migration %d→%d refuses the state, as declared: %v", step[0], step[1], err)
		}
	}
}

// invariants runs a state's CheckInvariants, if it has one; a panic counts
// as a broken invariant, as it does in an update.
func invariants(s actor.Actor) (err error) {
	c, ok := s.(interface{ CheckInvariants() error })
	if !ok {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("CheckInvariants panicked: %v", r)
		}
	}()
	return c.CheckInvariants()
}
