package registry

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
)

// Plan is a validated way from one version of a kind to another: the chain
// of migrations to run and the target version's message adapters. A Plan is
// immutable and may be used by many updates at once.
type Plan struct {
	kind     string
	from, to uint32
	path     []uint32
	fromV    *version
	steps    []*migration
	sources  []*version // the version each step migrates from
	adapters *Adapters
}

// Kind returns the kind the plan updates.
func (p *Plan) Kind() string { return p.kind }

// From returns the version the plan starts from.
func (p *Plan) From() uint32 { return p.from }

// To returns the version the plan ends at.
func (p *Plan) To() uint32 { return p.to }

// Path returns the versions the state passes through, From first, To last.
func (p *Plan) Path() []uint32 { return append([]uint32(nil), p.path...) }

// Plan validates an update of a kind from one version to another and returns
// the plan to carry it out. It prefers the chain with the fewest migrations.
//
// Plan returns ErrUnknownKind or ErrUnknownVersion for a version not
// registered, ErrSameVersion when from equals to, ErrNoPath when no chain of
// migrations links the versions (a downgrade needs down migrations), and
// ErrIncompatible when the target no longer accepts a message type of the
// current version's interface and no adapter covers it, and ErrNotRunnable
// when the target was registered with RegisterState.
func (c *Catalog) Plan(kind string, from, to uint32) (*Plan, error) {
	return c.cachedPlan(planKey{kind: kind, from: from, to: to})
}

// cachedPlan returns the cached plan of key, making it if need be. Errors
// are not cached.
func (c *Catalog) cachedPlan(key planKey) (*Plan, error) {
	c.mu.RLock()
	p := c.plans[key]
	c.mu.RUnlock()
	if p != nil {
		return p, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.plan(key)
	if err != nil {
		return nil, err
	}
	c.plans[key] = p
	return p, nil
}

func (c *Catalog) plan(key planKey) (*Plan, error) {
	fromV, err := c.lookup(key.kind, key.from)
	if err != nil {
		return nil, err
	}
	toV, err := c.lookup(key.kind, key.to)
	if err != nil {
		return nil, err
	}
	if err := toV.mustRun(); err != nil {
		return nil, err
	}
	if key.from == key.to {
		return nil, fmt.Errorf("%w: %s from version %d to %d: nothing to migrate", ErrSameVersion, key.kind, key.from, key.to)
	}
	steps := shortestChain(c.kinds[key.kind], key.from, key.to)
	if steps == nil {
		dir := "an up"
		if key.to < key.from {
			dir = "a down"
		}
		return nil, fmt.Errorf("%w: %s from version %d to %d; register %s migration with registry.Migrate(cat, %q, %d, %d, fn) or through versions in between",
			ErrNoPath, key.kind, key.from, key.to, dir, key.kind, key.from, key.to)
	}
	if !key.opening {
		if err := checkInterface(fromV, toV); err != nil {
			return nil, err
		}
	}
	k := c.kinds[key.kind]
	path := []uint32{key.from}
	sources := make([]*version, len(steps))
	for i, s := range steps {
		path = append(path, s.to)
		sources[i] = k.versions[s.from]
	}
	return &Plan{
		kind: key.kind, from: key.from, to: key.to, path: path,
		fromV: fromV, steps: steps, sources: sources,
		adapters: newAdapters(toV),
	}, nil
}

// shortestChain finds the chain of migrations with the fewest steps,
// breadth first, trying lower version numbers first so that the choice is
// deterministic. It returns nil when there is none.
func shortestChain(k *kindEntry, from, to uint32) []*migration {
	prev := map[uint32]*migration{}
	queue := []uint32{from}
	seen := map[uint32]bool{from: true}
	for len(queue) > 0 {
		at := queue[0]
		queue = queue[1:]
		if at == to {
			var chain []*migration
			for v := to; v != from; v = prev[v].from {
				chain = append(chain, prev[v])
			}
			slices.Reverse(chain)
			return chain
		}
		next := make([]uint32, 0, len(k.edges[at]))
		for n := range k.edges[at] {
			next = append(next, n)
		}
		slices.Sort(next)
		for _, n := range next {
			if !seen[n] {
				seen[n] = true
				prev[n] = k.edges[at][n]
				queue = append(queue, n)
			}
		}
	}
	return nil
}

// checkInterface refuses a target that drops a message type of the current
// version's interface without an adapter to one it accepts.
func checkInterface(from, to *version) error {
	if from.accepts == nil || to.accepts == nil {
		return nil
	}
	var missing []string
	for t := range from.accepts {
		if to.accepts[t] {
			continue
		}
		if a, ok := to.adapters[t]; ok && to.accepts[a.out] {
			continue
		}
		missing = append(missing, t.String())
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return fmt.Errorf("%w: %s version %d does not accept %s, which version %d accepts; declare it in registry.Accepts for version %d or register an adapter with registry.Adapt(cat, %q, %d, fn) that turns it into a message version %d accepts",
		ErrIncompatible, to.kind, to.number, strings.Join(missing, ", "), from.number, to.number, to.kind, to.number, to.number)
}

// Transfer builds the target version's state from the live state of the
// source version. The live state is never modified: the chain runs on an
// isolated copy, made just before the first migration that is not Pure
// (Pure ones may share memory with their input, so the copy comes after
// them, from the state they returned). A migration that returns an error,
// panics or returns nil makes Transfer return ErrMigration, wrapping the
// migration's error; a copy that cannot be made returns ErrCodec; a live
// state of the wrong type or nil returns ErrTypeMismatch.
func (p *Plan) Transfer(live actor.Actor) (actor.Actor, error) {
	state, err := p.transfer(live, true)
	if err != nil {
		return nil, err
	}
	return state.(actor.Actor), nil
}

// transfer runs the chain on live; shared says live belongs to someone else
// and must be copied before a migration that is not Pure touches it.
func (p *Plan) transfer(live any, shared bool) (state any, err error) {
	step, copying := 0, false
	defer func() {
		if r := recover(); r != nil {
			state = nil
			s := p.steps[step]
			if copying {
				err = fmt.Errorf("%w: copying the state of %s version %d panicked: %v", ErrCodec, p.kind, s.from, r)
			} else {
				err = fmt.Errorf("%w: %s %d→%d panicked: %v", ErrMigration, p.kind, s.from, s.to, r)
			}
		}
	}()
	if reflect.TypeOf(live) != p.fromV.state || isNil(live) {
		return nil, fmt.Errorf("%w: %s version %d has state %v, not %T (%v)", ErrTypeMismatch, p.kind, p.from, p.fromV.state, live, live)
	}
	state = live
	for step = range p.steps {
		s := p.steps[step]
		if shared && !s.pure {
			copying = true
			if state, err = p.sources[step].isolate(state); err != nil {
				return nil, err
			}
			copying, shared = false, false
		}
		if state, err = s.fn(state); err != nil {
			return nil, fmt.Errorf("%w: %s %d→%d: %w", ErrMigration, p.kind, s.from, s.to, err)
		}
	}
	return state, nil
}

// Adapters returns the target version's message adapters, or nil when it has
// none.
func (p *Plan) Adapters() *Adapters { return p.adapters }

// Adapters turns messages of older interfaces into the ones a version
// accepts. A nil *Adapters adapts nothing.
type Adapters struct {
	byType map[reflect.Type]adapter
}

func newAdapters(v *version) *Adapters {
	if len(v.adapters) == 0 {
		return nil
	}
	return &Adapters{byType: maps(v.adapters)}
}

func maps(m map[reflect.Type]adapter) map[reflect.Type]adapter {
	out := make(map[reflect.Type]adapter, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Adapt returns the message to deliver in place of message, and whether it
// differs from message.
func (a *Adapters) Adapt(message any) (any, bool) {
	if a == nil {
		return message, false
	}
	ad, ok := a.byType[reflect.TypeOf(message)]
	if !ok {
		return message, false
	}
	return ad.fn(message), true
}

// Adapters returns the message adapters of a kind's version, or nil when it
// has none or is not registered.
func (c *Catalog) Adapters(kind string, number uint32) *Adapters {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, err := c.lookup(kind, number)
	if err != nil {
		return nil
	}
	return newAdapters(v)
}
