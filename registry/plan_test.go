package registry_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
)

// trail is the state of every version of the "graph" kind. Each migration
// appends the version it leads to, so that a transferred state shows the
// path the chain took.
type trail struct{ Visited []uint32 }

func (*trail) Receive(actor.Context) {}

type edge struct{ from, to uint32 }

// graph registers versions 1..versions of "graph" and a migration per edge.
func graph(t *testing.T, versions uint32, edges ...edge) *registry.Catalog {
	t.Helper()
	c := registry.New()
	for v := uint32(1); v <= versions; v++ {
		must(t, registry.Register(c, "graph", v, func() *trail { return &trail{} }))
	}
	for _, e := range edges {
		must(t, migrateTrail(c, e))
	}
	return c
}

func migrateTrail(c *registry.Catalog, e edge) error {
	return registry.Migrate(c, "graph", e.from, e.to, func(s *trail) (*trail, error) {
		s.Visited = append(s.Visited, e.to)
		return s, nil
	})
}

func TestPlanPath(t *testing.T) {
	tests := []struct {
		name     string
		versions uint32
		edges    []edge
		from, to uint32
		want     []uint32 // the path, when wantErr is nil
		wantErr  error
	}{
		{"direct", 2, []edge{{1, 2}}, 1, 2, []uint32{1, 2}, nil},
		{"chain through 2 when no direct edge", 3, []edge{{1, 2}, {2, 3}}, 1, 3, []uint32{1, 2, 3}, nil},
		{"prefers the direct edge", 3, []edge{{1, 2}, {2, 3}, {1, 3}}, 1, 3, []uint32{1, 3}, nil},
		{"prefers the shortest chain", 5, []edge{{1, 2}, {2, 3}, {3, 4}, {4, 5}, {1, 3}, {3, 5}}, 1, 5, []uint32{1, 3, 5}, nil},
		{"equal lengths: lower versions first", 4, []edge{{1, 3}, {3, 4}, {1, 2}, {2, 4}}, 1, 4, []uint32{1, 2, 4}, nil},
		{"cycles are harmless", 3, []edge{{1, 2}, {2, 1}, {2, 3}, {3, 2}}, 1, 3, []uint32{1, 2, 3}, nil},
		{"direct downgrade", 2, []edge{{1, 2}, {2, 1}}, 2, 1, []uint32{2, 1}, nil},
		{"downgrade through down migrations", 3, []edge{{1, 2}, {2, 3}, {3, 2}, {2, 1}}, 3, 1, []uint32{3, 2, 1}, nil},
		{"downgrade may go up first", 3, []edge{{2, 3}, {3, 1}}, 2, 1, []uint32{2, 3, 1}, nil},
		{"downgrade without down migrations", 3, []edge{{1, 2}, {2, 3}}, 3, 1, nil, registry.ErrNoPath},
		{"upgrade without a chain", 3, []edge{{1, 2}, {3, 2}}, 1, 3, nil, registry.ErrNoPath},
		{"no migrations at all", 2, nil, 1, 2, nil, registry.ErrNoPath},
		{"same version", 2, []edge{{1, 2}}, 2, 2, nil, registry.ErrSameVersion},
		{"unknown from version", 2, []edge{{1, 2}}, 3, 2, nil, registry.ErrUnknownVersion},
		{"unknown to version", 2, []edge{{1, 2}}, 1, 3, nil, registry.ErrUnknownVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := graph(t, tt.versions, tt.edges...)
			p, err := c.Plan("graph", tt.from, tt.to)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || p != nil {
					t.Fatalf("Plan(graph, %d, %d) = %v, %v; want nil, %v", tt.from, tt.to, p, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Plan(graph, %d, %d): %v", tt.from, tt.to, err)
			}
			if p.Kind() != "graph" || p.From() != tt.from || p.To() != tt.to || !slices.Equal(p.Path(), tt.want) {
				t.Errorf("plan %s %d→%d path %v, want graph %d→%d path %v", p.Kind(), p.From(), p.To(), p.Path(), tt.from, tt.to, tt.want)
			}
			// The migrations that run are those of the path, in order.
			out, err := p.Transfer(&trail{})
			if err != nil {
				t.Fatal(err)
			}
			if got := out.(*trail).Visited; !slices.Equal(got, tt.want[1:]) {
				t.Errorf("Transfer ran the migrations to %v, want %v", got, tt.want[1:])
			}
		})
	}
}

func TestPlanUnknownKind(t *testing.T) {
	c := graph(t, 2, edge{1, 2})
	if _, err := c.Plan("nope", 1, 2); !errors.Is(err, registry.ErrUnknownKind) {
		t.Errorf("error = %v, want ErrUnknownKind", err)
	}
}

func TestPlanNoPathNamesTheMigrationToAdd(t *testing.T) {
	tests := []struct {
		from, to uint32
		want     []string
	}{
		{3, 1, []string{"down migration", `registry.Migrate(cat, "graph", 3, 1, fn)`}},
		{1, 3, []string{"up migration", `registry.Migrate(cat, "graph", 1, 3, fn)`}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d→%d", tt.from, tt.to), func(t *testing.T) {
			c := graph(t, 3, edge{2, 3}, edge{2, 1})
			_, err := c.Plan("graph", tt.from, tt.to)
			if !errors.Is(err, registry.ErrNoPath) {
				t.Fatalf("error = %v, want ErrNoPath", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestPlanInterfaceCheck builds versions 1, 2 and 3 of "graph" with the
// interfaces and adapters of each case, and the migrations 1→2→3.
func TestPlanInterfaceCheck(t *testing.T) {
	inc, rst, ad, snap := &increment{}, &reset{}, &add{}, &snapshot{}
	resetToAdd := func(c *registry.Catalog, v uint32) error {
		return registry.Adapt(c, "graph", v, func(*reset) *add { return &add{} })
	}
	tests := []struct {
		name     string
		accepts  [3][]any // nil: declares no interface
		declared [3]bool  // declared with Accepts, even when empty
		adapt    func(c *registry.Catalog) error
		from, to uint32
		wantErr  error
		mention  []string // what the error must name
	}{
		{name: "target accepts more",
			accepts: [3][]any{{inc}, {inc, rst}}, declared: [3]bool{true, true},
			from: 1, to: 2},
		{name: "target drops a type",
			accepts: [3][]any{{inc, rst}, {inc}}, declared: [3]bool{true, true},
			from: 1, to: 2, wantErr: registry.ErrIncompatible,
			mention: []string{"*registry_test.reset", `registry.Adapt(cat, "graph", 2, fn)`}},
		{name: "an adapter covers the dropped type",
			accepts: [3][]any{{inc, rst}, {inc, ad}}, declared: [3]bool{true, true},
			adapt: func(c *registry.Catalog) error { return resetToAdd(c, 2) },
			from:  1, to: 2},
		{name: "the adapter's result is not accepted either",
			accepts: [3][]any{{inc, rst}, {inc, snap}}, declared: [3]bool{true, true},
			adapt: func(c *registry.Catalog) error { return resetToAdd(c, 2) },
			from:  1, to: 2, wantErr: registry.ErrIncompatible},
		{name: "an adapter on the current version does not count",
			accepts: [3][]any{{inc, rst, ad}, {inc, ad}}, declared: [3]bool{true, true},
			adapt: func(c *registry.Catalog) error { return resetToAdd(c, 1) },
			from:  1, to: 2, wantErr: registry.ErrIncompatible},
		{name: "pointer and value types differ",
			accepts: [3][]any{{inc}, {increment{}}}, declared: [3]bool{true, true},
			from: 1, to: 2, wantErr: registry.ErrIncompatible},
		{name: "current version declares no interface",
			accepts: [3][]any{nil, {inc}}, declared: [3]bool{false, true},
			from: 1, to: 2},
		{name: "target declares no interface",
			accepts: [3][]any{{inc, rst}, nil}, declared: [3]bool{true, false},
			from: 1, to: 2},
		{name: "target declares an empty interface",
			accepts: [3][]any{{inc}, {}}, declared: [3]bool{true, true},
			from: 1, to: 2, wantErr: registry.ErrIncompatible},
		{name: "only the ends of a chain are compared",
			accepts: [3][]any{{inc}, {snap}, {inc}}, declared: [3]bool{true, true, true},
			from: 1, to: 3},
		{name: "every dropped type is named",
			accepts: [3][]any{{inc, rst, snap}, {ad}}, declared: [3]bool{true, true},
			from: 1, to: 2, wantErr: registry.ErrIncompatible,
			mention: []string{"*registry_test.increment", "*registry_test.reset", "*registry_test.snapshot"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := registry.New()
			for i := range 3 {
				var opts []registry.VersionOption
				if tt.declared[i] {
					opts = append(opts, registry.Accepts(tt.accepts[i]...))
				}
				must(t, registry.Register(c, "graph", uint32(i+1), func() *trail { return &trail{} }, opts...))
			}
			must(t, migrateTrail(c, edge{1, 2}))
			must(t, migrateTrail(c, edge{2, 3}))
			if tt.adapt != nil {
				must(t, tt.adapt(c))
			}
			p, err := c.Plan("graph", tt.from, tt.to)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Plan: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || p != nil {
				t.Fatalf("Plan = %v, %v; want nil, %v", p, err, tt.wantErr)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not name %s", err, m)
				}
			}
		})
	}
}

func TestPlanAdaptersAdaptMessages(t *testing.T) {
	c := registry.New()
	must(t, registry.Register(c, "graph", 1, func() *trail { return &trail{} }, registry.Accepts(&increment{}, &reset{})))
	must(t, registry.Register(c, "graph", 2, func() *trail { return &trail{} }, registry.Accepts(&add{})))
	must(t, migrateTrail(c, edge{1, 2}))
	must(t, registry.Adapt(c, "graph", 2, func(m *increment) *add { return &add{N: int64(m.By)} }))
	must(t, registry.Adapt(c, "graph", 2, func(*reset) *add { return &add{N: -1} }))
	p, err := c.Plan("graph", 1, 2)
	must(t, err)

	unchanged := &add{N: 5}
	tests := []struct {
		name    string
		in      any
		want    any
		adapted bool
	}{
		{"adapted type", &increment{By: 3}, &add{N: 3}, true},
		{"another adapted type", &reset{}, &add{N: -1}, true},
		{"accepted type", unchanged, unchanged, false},
		{"value of an adapted pointer type", increment{By: 3}, increment{By: 3}, false},
		{"unknown type", "hello", "hello", false},
		{"nil", nil, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, adapted := p.Adapters().Adapt(tt.in)
			if adapted != tt.adapted || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Adapt(%#v) = %#v, %v; want %#v, %v", tt.in, got, adapted, tt.want, tt.adapted)
			}
		})
	}
	if got, _ := p.Adapters().Adapt(unchanged); got != any(unchanged) {
		t.Error("Adapt of a message with no adapter returned a different value")
	}
	// The catalogue hands out the same adapters for the version.
	got, ok := c.Adapters("graph", 2).Adapt(&increment{By: 4})
	if want := (&add{N: 4}); !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("Catalog.Adapters(graph, 2).Adapt = %#v, %v; want %#v, true", got, ok, want)
	}
}

func TestNilAdaptersAdaptNothing(t *testing.T) {
	c := graph(t, 2, edge{1, 2})
	p, err := c.Plan("graph", 1, 2)
	must(t, err)
	if p.Adapters() != nil {
		t.Errorf("Plan to a version without adapters has Adapters() = %v, want nil", p.Adapters())
	}
	if a := c.Adapters("graph", 2); a != nil {
		t.Errorf("Catalog.Adapters of a version without adapters = %v, want nil", a)
	}
	var none *registry.Adapters
	msg := &increment{By: 1}
	if got, adapted := none.Adapt(msg); got != any(msg) || adapted {
		t.Errorf("nil *Adapters: Adapt = %v, %v; want the message unchanged, false", got, adapted)
	}
}

func TestPlanIsCached(t *testing.T) {
	c := graph(t, 3, edge{1, 2}, edge{2, 3})
	p1, err := c.Plan("graph", 1, 3)
	must(t, err)
	p2, err := c.Plan("graph", 1, 3)
	must(t, err)
	if p1 != p2 {
		t.Error("a second Plan for the same update built a new plan; want the cached one")
	}
	p3, err := c.Plan("graph", 1, 2)
	must(t, err)
	if p3 == p1 || !slices.Equal(p3.Path(), []uint32{1, 2}) {
		t.Errorf("Plan(1, 2) returned %v (path %v), want its own plan with path [1 2]", p3, p3.Path())
	}
}

func TestPlanCacheInvalidatedByRegistration(t *testing.T) {
	t.Run("a direct migration shortens the path", func(t *testing.T) {
		c := graph(t, 3, edge{1, 2}, edge{2, 3})
		before, err := c.Plan("graph", 1, 3)
		must(t, err)
		must(t, migrateTrail(c, edge{1, 3}))
		after, err := c.Plan("graph", 1, 3)
		must(t, err)
		if !slices.Equal(before.Path(), []uint32{1, 2, 3}) || !slices.Equal(after.Path(), []uint32{1, 3}) {
			t.Errorf("paths before and after registering 1→3: %v, %v; want [1 2 3], [1 3]", before.Path(), after.Path())
		}
	})
	t.Run("a down migration makes a downgrade possible", func(t *testing.T) {
		c := graph(t, 2, edge{1, 2})
		if _, err := c.Plan("graph", 2, 1); !errors.Is(err, registry.ErrNoPath) {
			t.Fatalf("error = %v, want ErrNoPath", err)
		}
		must(t, migrateTrail(c, edge{2, 1}))
		if _, err := c.Plan("graph", 2, 1); err != nil {
			t.Errorf("Plan(2, 1) after registering 2→1: %v", err)
		}
	})
	t.Run("an adapter on the target", func(t *testing.T) {
		c := graph(t, 2, edge{1, 2})
		before, err := c.Plan("graph", 1, 2)
		must(t, err)
		must(t, registry.Adapt(c, "graph", 2, func(*reset) *add { return &add{N: 1} }))
		after, err := c.Plan("graph", 1, 2)
		must(t, err)
		if _, ok := before.Adapters().Adapt(&reset{}); ok {
			t.Error("a plan made before Adapt adapts; plans are immutable")
		}
		if _, ok := after.Adapters().Adapt(&reset{}); !ok {
			t.Error("a plan made after Adapt does not adapt")
		}
	})
	t.Run("a new version", func(t *testing.T) {
		c := graph(t, 3, edge{1, 2}, edge{2, 3})
		before, err := c.Plan("graph", 1, 3)
		must(t, err)
		must(t, registry.Register(c, "graph", 4, func() *trail { return &trail{} }))
		after, err := c.Plan("graph", 1, 3)
		must(t, err)
		if before == after {
			t.Error("Plan after Register returned the cached plan")
		}
	})
}

// TestCatalogConcurrentUse plans and transfers while other goroutines
// register versions, migrations and adapters (run with -race).
func TestCatalogConcurrentUse(t *testing.T) {
	const writers, readers, rounds = 4, 4, 50
	c := graph(t, 2, edge{1, 2})
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds+readers*rounds)
	for w := range writers {
		wg.Go(func() {
			for r := range rounds {
				kind := fmt.Sprintf("k%d", w)
				v := uint32(r + 1)
				if err := registry.Register(c, kind, v, func() *trail { return &trail{} }); err != nil {
					errs <- err
					continue
				}
				if v > 1 {
					if err := registry.Migrate(c, kind, v-1, v, func(s *trail) (*trail, error) { return s, nil }); err != nil {
						errs <- err
					}
					if err := registry.Adapt(c, kind, v, func(*reset) *add { return &add{} }); err != nil {
						errs <- err
					}
				}
			}
		})
	}
	for range readers {
		wg.Go(func() {
			for range rounds {
				p, err := c.Plan("graph", 1, 2)
				if err != nil {
					errs <- err
					continue
				}
				if _, err := p.Transfer(&trail{Visited: []uint32{1}}); err != nil {
					errs <- err
				}
				_ = c.Kinds()
				for _, k := range c.Kinds() {
					_ = c.Versions(k)
					_ = c.Adapters(k, 2)
				}
			}
		})
	}
	waitGroup(t, &wg, 10*time.Second, "concurrent catalogue users did not finish")
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for w := range writers {
		kind := fmt.Sprintf("k%d", w)
		p, err := c.Plan(kind, 1, rounds)
		if err != nil {
			t.Fatalf("Plan(%s, 1, %d) after the writers: %v", kind, rounds, err)
		}
		if len(p.Path()) != rounds {
			t.Errorf("Plan(%s, 1, %d) has path %v, want every version", kind, rounds, p.Path())
		}
	}
}

// waitGroup waits for wg, failing the test with what if it takes longer
// than limit.
func waitGroup(t *testing.T, wg *sync.WaitGroup, limit time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("%s within %v", what, limit)
	}
}
