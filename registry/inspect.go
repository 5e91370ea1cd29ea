package registry

import (
	"cmp"
	"fmt"
	"slices"
)

// Migration describes a registered migration of a kind's state.
type Migration struct {
	From, To uint32
	// Pure says the migration was registered with Pure: it receives the
	// live state rather than an isolating copy.
	Pure bool
}

// Migrations returns the migrations registered for a kind, ordered by From
// and then To. It returns nil for a kind that is not registered.
func (c *Catalog) Migrations(kind string) []Migration {
	c.mu.RLock()
	defer c.mu.RUnlock()
	k := c.kinds[kind]
	if k == nil {
		return nil
	}
	var out []Migration
	for from, tos := range k.edges {
		for to, m := range tos {
			out = append(out, Migration{From: from, To: to, Pure: m.pure})
		}
	}
	slices.SortFunc(out, func(a, b Migration) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})
	return out
}

// PlanThrough returns the plan that migrates a kind's state along path,
// version by version, through the migrations registered between each
// version and the next: PlanThrough(kind, 1, 2, 3) goes through 2 even when
// a direct 1→3 exists, which is how a shortcut is compared with the chain it
// shortcuts. The message interface is checked between the first and the
// last version, as Plan does. The plan is not cached.
//
// PlanThrough returns ErrInvalid for a path of fewer than two versions or
// with a version repeated next to itself, ErrUnknownKind or
// ErrUnknownVersion, ErrNoPath when a step has no migration registered, and
// ErrIncompatible as Plan does.
func (c *Catalog) PlanThrough(kind string, path ...uint32) (*Plan, error) {
	if len(path) < 2 {
		return nil, fmt.Errorf("%w: PlanThrough(%q, %v) needs at least two versions", ErrInvalid, kind, path)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	sources := make([]*version, 0, len(path)-1)
	steps := make([]*migration, 0, len(path)-1)
	for i, n := range path {
		v, err := c.lookup(kind, n)
		if err != nil {
			return nil, err
		}
		if i == len(path)-1 {
			break
		}
		next := path[i+1]
		if next == n {
			return nil, fmt.Errorf("%w: PlanThrough(%q, %v) repeats version %d", ErrInvalid, kind, path, n)
		}
		m := c.kinds[kind].edges[n][next]
		if m == nil {
			return nil, fmt.Errorf("%w: %s has no migration registered from version %d to %d", ErrNoPath, kind, n, next)
		}
		sources = append(sources, v)
		steps = append(steps, m)
	}
	fromV := sources[0]
	toV, _ := c.lookup(kind, path[len(path)-1])
	if err := checkInterface(fromV, toV); err != nil {
		return nil, err
	}
	return &Plan{
		kind: kind, from: path[0], to: path[len(path)-1], path: slices.Clone(path),
		fromV: fromV, steps: steps, sources: sources,
		adapters: newAdapters(toV),
	}, nil
}
