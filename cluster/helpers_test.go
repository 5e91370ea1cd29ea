package cluster_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	pc "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	molt "github.com/molt-go/molt/actor"
	mc "github.com/molt-go/molt/cluster"
	"github.com/molt-go/molt/registry"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The grains of these tests are counters. Their messages are protobuf, so
// that they cross members:
//   - *wrapperspb.Int64Value adds, answered with the new total;
//   - *wrapperspb.Int32Value adds too: it is the old interface's add, which
//     versions 1 and 2 take and version 3 takes through an adapter;
//   - *wrapperspb.StringValue asks, answered "v<version>:<total>".
const kind = "counter"

type CounterV1 struct{ N int64 }

func (c *CounterV1) Receive(ctx pa.Context) { c.N = count(ctx, 1, c.N, true) }

type CounterV2 struct{ Total int64 }

func (c *CounterV2) Receive(ctx pa.Context) { c.Total = count(ctx, 2, c.Total, true) }

type CounterV3 struct{ Sum int64 }

func (c *CounterV3) Receive(ctx pa.Context) { c.Sum = count(ctx, 3, c.Sum, false) }

func count(ctx pa.Context, version uint32, n int64, old bool) int64 {
	switch m := ctx.Message().(type) {
	case *wrapperspb.Int64Value:
		n += m.GetValue()
		ctx.Respond(wrapperspb.Int64(n))
	case *wrapperspb.Int32Value:
		if old {
			n += int64(m.GetValue())
			ctx.Respond(wrapperspb.Int64(n))
		}
	case *wrapperspb.StringValue:
		ctx.Respond(wrapperspb.String(fmt.Sprintf("v%d:%d", version, n)))
	}
	return n
}

// catalog is a binary's catalogue: the versions given, with the migrations
// between consecutive ones.
func catalog(t testing.TB, versions ...uint32) *registry.Catalog {
	t.Helper()
	cat := registry.New()
	has := func(v uint32) bool { return slices.Contains(versions, v) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	if has(1) {
		must(registry.Register(cat, kind, 1, func() *CounterV1 { return &CounterV1{} }))
	}
	if has(2) {
		must(registry.Register(cat, kind, 2, func() *CounterV2 { return &CounterV2{} }))
	}
	if has(3) {
		must(registry.Register(cat, kind, 3, func() *CounterV3 { return &CounterV3{} }))
		must(registry.Adapt(cat, kind, 3, func(m *wrapperspb.Int32Value) *wrapperspb.Int64Value {
			return wrapperspb.Int64(int64(m.GetValue()))
		}))
	}
	if has(1) && has(2) {
		must(registry.Migrate(cat, kind, 1, 2, func(s *CounterV1) (*CounterV2, error) { return &CounterV2{Total: s.N}, nil }))
		must(registry.Migrate(cat, kind, 2, 1, func(s *CounterV2) (*CounterV1, error) { return &CounterV1{N: s.Total}, nil }))
	}
	if has(2) && has(3) {
		must(registry.Migrate(cat, kind, 2, 3, func(s *CounterV2) (*CounterV3, error) { return &CounterV3{Sum: s.Total}, nil }))
		must(registry.Migrate(cat, kind, 3, 2, func(s *CounterV3) (*CounterV2, error) { return &CounterV2{Total: s.Sum}, nil }))
	}
	return cat
}

// startMember starts a node running versions and makes it a member; both
// stop when the test ends.
func startMember(t testing.TB, provider pc.ClusterProvider, policy mc.Policy, versions ...uint32) *mc.Member {
	t.Helper()
	m, _ := startStoppable(t, provider, policy, versions...)
	return m
}

// startStoppable is startMember, with a function that stops the member
// and its node before the test ends.
func startStoppable(t testing.TB, provider pc.ClusterProvider, policy mc.Policy, versions ...uint32) (*mc.Member, func()) {
	t.Helper()
	node := molt.NewNode(catalog(t, versions...))
	m, err := mc.Start(node, mc.Config{
		Provider: provider,
		Policy:   policy,
		Options:  []pc.ConfigOption{pc.WithRequestTimeout(5 * time.Second)},
	})
	if err != nil {
		node.Shutdown()
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			m.Shutdown()
			node.Shutdown()
		})
	}
	t.Cleanup(stop)
	return m, stop
}

func testProvider(agent *test.InMemAgent) pc.ClusterProvider {
	return test.NewTestProvider(agent, test.WithTestProviderRefreshTtl(100*time.Millisecond))
}

// callOpts retry a call whose grain has no owner yet (members still
// learning the topology or a target) for up to the call's timeout.
func callOpts() []pc.GrainCallOption {
	return []pc.GrainCallOption{
		pc.WithTimeout(5 * time.Second),
		pc.WithRetryCount(100),
		pc.WithRetryAction(func(i int) int { time.Sleep(20 * time.Millisecond); return i + 1 }),
	}
}

func add(t testing.TB, m *mc.Member, id string, n int64) int64 {
	t.Helper()
	res, err := m.Cluster().Request(id, kind, wrapperspb.Int64(n), callOpts()...)
	if err != nil {
		t.Fatalf("add to %s: %v", id, err)
	}
	v, ok := res.(*wrapperspb.Int64Value)
	if !ok {
		t.Fatalf("add to %s answered %T %v", id, res, res)
	}
	return v.GetValue()
}

func get(t testing.TB, m *mc.Member, id string) string {
	t.Helper()
	res, err := m.Cluster().Request(id, kind, wrapperspb.String("get"), callOpts()...)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	s, ok := res.(*wrapperspb.StringValue)
	if !ok {
		t.Fatalf("get %s answered %T %v", id, res, res)
	}
	return s.GetValue()
}

// eventually waits, at most within, for cond to hold.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
