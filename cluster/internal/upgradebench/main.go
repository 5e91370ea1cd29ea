// Command upgradebench is the process of BenchmarkClusterUpgrade: a rolling
// upgrade of a three-member cluster, on loopback in this one process, with
// protoactor's in-memory test provider.
//
//	upgradebench -grains N [-batch B -parallel P]
//
// starts three members of the old binary (versions 1 and 2 of a "cart"
// kind), activates N grains at version 2 and adds to each, then, member by
// member, starts a member of the new binary (versions 2 and 3, with the
// migration), waits until the grains it now owns are handed to it, and
// lets an old member leave (Member.Leave: its grains are handed to their
// new owners). It waits until every grain runs version 3 on its owner,
// checks every grain's state and prints
//
//	report grains N moved M lost L bad B total-ms T pause-p50-ms P pause-p99-ms P pause-max-ms P
//
// total-ms is the whole upgrade, from the first new member's start to the
// last grain at version 3; the pauses are per handover, from the start of
// the grain's hold on the member it left to its release on the one it
// joined. It exits once the report is printed; it prints "error ..." and
// exits with status 1 if something failed.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	pc "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	molt "github.com/molt-go/molt/actor"
	mc "github.com/molt-go/molt/cluster"
	"github.com/molt-go/molt/registry"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const kind = "cart"

// Cart versions: an add is an Int64Value (answered with the new total), a
// get a StringValue (answered "v<version>:<total>:<adds>").
type CartV1 struct{ Total int64 }
type CartV2 struct {
	Total, Adds int64
}
type CartV3 struct {
	Sum, Adds int64
	Last      string
}

func (c *CartV1) Receive(ctx pa.Context) { c.Total, _ = cart(ctx, 1, c.Total, 0) }
func (c *CartV2) Receive(ctx pa.Context) { c.Total, c.Adds = cart(ctx, 2, c.Total, c.Adds) }
func (c *CartV3) Receive(ctx pa.Context) { c.Sum, c.Adds = cart(ctx, 3, c.Sum, c.Adds) }

func cart(ctx pa.Context, version uint32, total, adds int64) (int64, int64) {
	switch m := ctx.Message().(type) {
	case *wrapperspb.Int64Value:
		total += m.GetValue()
		adds++
		ctx.Respond(wrapperspb.Int64(total))
	case *wrapperspb.StringValue:
		ctx.Respond(wrapperspb.String(fmt.Sprintf("v%d:%d:%d", version, total, adds)))
	}
	return total, adds
}

func catalog(versions ...uint32) *registry.Catalog {
	cat := registry.New()
	must := func(err error) {
		if err != nil {
			fail("catalogue: %v", err)
		}
	}
	must(registry.Register(cat, kind, 2, func() *CartV2 { return &CartV2{} }))
	if slices.Contains(versions, 1) {
		must(registry.Register(cat, kind, 1, func() *CartV1 { return &CartV1{} }))
		must(registry.Migrate(cat, kind, 1, 2, func(s *CartV1) (*CartV2, error) { return &CartV2{Total: s.Total}, nil }))
		must(registry.Migrate(cat, kind, 2, 1, func(s *CartV2) (*CartV1, error) { return &CartV1{Total: s.Total}, nil }))
	}
	if slices.Contains(versions, 3) {
		must(registry.Register(cat, kind, 3, func() *CartV3 { return &CartV3{} }))
		must(registry.Migrate(cat, kind, 2, 3, func(s *CartV2) (*CartV3, error) {
			return &CartV3{Sum: s.Total, Adds: s.Adds, Last: "migrated"}, nil
		}))
		must(registry.Migrate(cat, kind, 3, 2, func(s *CartV3) (*CartV2, error) { return &CartV2{Total: s.Sum, Adds: s.Adds}, nil }))
	}
	return cat
}

func fail(format string, args ...any) {
	fmt.Printf("error "+format+"\n", args...)
	fmt.Fprintf(os.Stderr, "error "+format+"\n", args...)
	os.Exit(1)
}

type run struct {
	agent    *test.InMemAgent
	cfg      mc.Config
	mu       sync.Mutex
	pauses   []time.Duration
	upgraded atomic.Int64
}

func (r *run) start(versions ...uint32) *mc.Member {
	node := molt.NewNode(catalog(versions...))
	cfg := r.cfg
	cfg.Provider = test.NewTestProvider(r.agent, test.WithTestProviderRefreshTtl(100*time.Millisecond))
	cfg.Options = []pc.ConfigOption{pc.WithRequestTimeout(10 * time.Second)}
	cfg.ActivationTimeout = 10 * time.Second
	m, err := mc.Start(node, cfg)
	if err != nil {
		fail("start a member: %v", err)
	}
	return m
}

func (r *run) stop(m *mc.Member) {
	m.Shutdown()
	m.Node().Shutdown()
}

func callOpts() []pc.GrainCallOption {
	return []pc.GrainCallOption{
		pc.WithTimeout(20 * time.Second),
		pc.WithRetryCount(1000),
		pc.WithRetryAction(func(i int) int { time.Sleep(20 * time.Millisecond); return i + 1 }),
	}
}

// each runs f for every grain, from 64 goroutines.
func each(n int, f func(i int) error) error {
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// placed reports whether each grain runs on exactly one member, its owner
// as by sees it, at a version want accepts.
func placed(ms []*mc.Member, by *mc.Member, n int, want func(uint32) bool) bool {
	count := 0
	for _, m := range ms {
		count += m.Node().Directory().Len()
	}
	if count != n { // cheap first: a grain on its way is in no directory
		return false
	}
	where := make(map[string]string, n)
	for _, m := range ms {
		for _, e := range m.Node().Directory().List(kind) {
			id := e.Labels[mc.LabelIdentity]
			if _, dup := where[id]; dup || !want(e.Version) {
				return false
			}
			where[id] = m.Address()
		}
	}
	if len(where) != n {
		return false
	}
	for id, addr := range where {
		if by.Owner(id, kind) != addr {
			return false
		}
	}
	return true
}

func waitFor(within time.Duration, what string, cond func() bool) {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			fail("not within %v: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func main() {
	grains := flag.Int("grains", 30000, "grains in the cluster")
	batch := flag.Int("batch", 0, "grains per handover batch (0: the default)")
	parallel := flag.Int("parallel", 0, "handover batches in flight per member (0: the default)")
	flag.Parse()

	r := &run{agent: test.NewInMemAgent()}
	r.cfg = mc.Config{
		HandoverBatch: *batch, HandoverParallel: *parallel,
		OnArrival: func(a mc.Arrival) {
			r.mu.Lock()
			r.pauses = append(r.pauses, a.Pause)
			r.mu.Unlock()
		},
	}
	olds := []*mc.Member{r.start(1, 2), r.start(1, 2), r.start(1, 2)}
	members := slices.Clone(olds)
	waitFor(30*time.Second, "the three old members see each other", func() bool {
		for _, m := range olds {
			if len(m.Cluster().MemberList.Members().Members()) != 3 {
				return false
			}
		}
		return true
	})
	ids := make([]string, *grains)
	for i := range ids {
		ids[i] = fmt.Sprintf("cart-%d", i)
	}
	if err := each(len(ids), func(i int) error {
		_, err := olds[i%3].Cluster().Request(ids[i], kind, wrapperspb.Int64(int64(i)), callOpts()...)
		return err
	}); err != nil {
		fail("activate the grains: %v", err)
	}
	waitFor(60*time.Second, "every grain on its owner at version 2", func() bool {
		return placed(members, olds[0], len(ids), func(v uint32) bool { return v == 2 })
	})

	start := time.Now()
	var lost int64
	for i, old := range olds {
		next := r.start(2, 3)
		members = append(members, next)
		waitFor(2*time.Minute, fmt.Sprintf("the grains new member %d owns handed to it", i+1), func() bool {
			return len(next.Cluster().MemberList.Members().Members()) == 4 && placed(members, next, len(ids), func(uint32) bool { return true })
		})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if err := old.Leave(ctx); err != nil {
			fail("old member %d leaves: %v", i+1, err)
		}
		cancel()
		lost += old.Stats().Lost
		members = slices.DeleteFunc(members, func(m *mc.Member) bool { return m == old })
		r.stop(old)
	}
	waitFor(2*time.Minute, "every grain at version 3 on its owner", func() bool {
		return placed(members, members[0], len(ids), func(v uint32) bool { return v == 3 })
	})
	total := time.Since(start)

	var bad atomic.Int64
	if err := each(len(ids), func(i int) error {
		res, err := members[i%3].Cluster().Request(ids[i], kind, wrapperspb.String("get"), callOpts()...)
		if err != nil {
			return err
		}
		if got, want := res.(*wrapperspb.StringValue).GetValue(), fmt.Sprintf("v3:%d:1", i); got != want {
			bad.Add(1)
		}
		return nil
	}); err != nil {
		fail("check the grains: %v", err)
	}
	var moved int64
	for _, m := range append(olds, members...) {
		moved += m.Stats().MovedIn
	}
	r.mu.Lock()
	pauses := slices.Clone(r.pauses)
	r.mu.Unlock()
	slices.Sort(pauses)
	q := func(f float64) float64 {
		if len(pauses) == 0 {
			return 0
		}
		return float64(pauses[int(f*float64(len(pauses)-1))].Microseconds()) / 1000
	}
	fmt.Printf("report grains %d moved %d lost %d bad %d total-ms %.1f pause-p50-ms %.2f pause-p99-ms %.2f pause-max-ms %.2f\n",
		len(ids), moved, lost, bad.Load(), float64(total.Microseconds())/1000, q(0.5), q(0.99), q(1))
	for _, m := range members {
		r.stop(m)
	}
}
