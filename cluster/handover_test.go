package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pc "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	molt "github.com/molt-go/molt/actor"
	mc "github.com/molt-go/molt/cluster"
	"github.com/molt-go/molt/registry"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// readsOnly is a new binary's catalogue that runs version 3 only and reads
// version 2's state (registered as a state, with its migration to 3): a
// grain handed over to it is migrated on the way.
func readsOnly(t testing.TB) *registry.Catalog {
	t.Helper()
	cat := registry.New()
	for _, err := range []error{
		registry.Register(cat, kind, 3, func() *CounterV3 { return &CounterV3{} }),
		registry.Adapt(cat, kind, 3, func(m *wrapperspb.Int32Value) *wrapperspb.Int64Value { return wrapperspb.Int64(int64(m.GetValue())) }),
		registry.RegisterState(cat, kind, 2, func() *CounterV2 { return &CounterV2{} }),
		registry.Migrate(cat, kind, 2, 3, func(s *CounterV2) (*CounterV3, error) { return &CounterV3{Sum: s.Total}, nil }),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return cat
}

// arrivals collects the handovers every member of a test reports, with
// when each grain was released.
type arrivals struct {
	mu  sync.Mutex
	all []arrival
}

type arrival struct {
	mc.Arrival
	released time.Time
}

func (a *arrivals) add(x mc.Arrival) {
	a.mu.Lock()
	a.all = append(a.all, arrival{x, time.Now()})
	a.mu.Unlock()
}

func (a *arrivals) list() []arrival {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.all)
}

// startWith starts a member on a node of cat, configured by cfg, and a
// function that stops both (run at the end of the test too).
func startWith(t testing.TB, provider pc.ClusterProvider, cat *registry.Catalog, cfg mc.Config) (*mc.Member, func()) {
	t.Helper()
	node := molt.NewNode(cat)
	cfg.Provider = provider
	cfg.Options = append(cfg.Options, pc.WithRequestTimeout(5*time.Second))
	m, err := mc.Start(node, cfg)
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

// placedOnOwners reports whether each grain is in the directory of
// exactly one member, the one owner says owns it, and runs there at a
// version want accepts.
func placedOnOwners(ms []*mc.Member, ids []string, owner func(id string) string, want func(uint32) bool) bool {
	where := map[string][]string{}
	for _, m := range ms {
		for id, v := range versionsOn(m) {
			if !want(v) {
				return false
			}
			where[id] = append(where[id], m.Address())
		}
	}
	for _, id := range ids {
		if at := where[id]; len(at) != 1 || at[0] != owner(id) {
			return false
		}
	}
	return true
}

// load calls every grain from one goroutine per grain: add 1, check that
// the answer is one more than the previous, and record how long each call
// took.
type load struct {
	stop    atomic.Bool
	wg      sync.WaitGroup
	errs    chan error
	totals  []int64
	calls   []atomic.Int64
	slowest []atomic.Int64 // nanoseconds, per grain
	slow    [][]call       // per grain, the calls over slowCall; read once the load ended
}

// call is one call's time.
type call struct{ start, end time.Time }

// slowCall is the latency over which the load keeps a call's times.
const slowCall = 2 * time.Millisecond

func startLoad(c *mc.Member, ids []string, totals []int64) *load {
	l := &load{errs: make(chan error, len(ids)), totals: totals, calls: make([]atomic.Int64, len(ids)), slowest: make([]atomic.Int64, len(ids)), slow: make([][]call, len(ids))}
	for i, id := range ids {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for !l.stop.Load() {
				start := time.Now()
				res, err := c.Cluster().Request(id, kind, wrapperspb.Int64(1), callOpts()...)
				took := time.Since(start)
				if err != nil {
					l.errs <- fmt.Errorf("%s: call %d at %s failed after %v: %w", id, l.calls[i].Load()+1, start.Format("15:04:05.000"), took, err)
					return
				}
				got := res.(*wrapperspb.Int64Value).GetValue()
				if got != l.totals[i]+1 {
					l.errs <- fmt.Errorf("%s answered %d after %d: a call lost or counted twice", id, got, l.totals[i])
					return
				}
				l.totals[i] = got
				l.calls[i].Add(1)
				if took > slowCall {
					l.slow[i] = append(l.slow[i], call{start, start.Add(took)})
				}
				if ns := took.Nanoseconds(); ns > l.slowest[i].Load() {
					l.slowest[i].Store(ns)
				}
			}
		}()
	}
	return l
}

// slowest returns the longest call so far and resets the record.
func (l *load) slowestCall() time.Duration {
	var most int64
	for i := range l.slowest {
		most = max(most, l.slowest[i].Swap(0))
	}
	return time.Duration(most)
}

func (l *load) minCalls() int64 {
	least := int64(-1)
	for i := range l.calls {
		if n := l.calls[i].Load(); least < 0 || n < least {
			least = n
		}
	}
	return least
}

// progress waits, at most within, until every grain has answered another
// call, and fails naming those that did not, and the errors seen.
func (l *load) progress(t *testing.T, within time.Duration, describe func(i int) string) {
	t.Helper()
	before := make([]int64, len(l.calls))
	for i := range l.calls {
		before[i] = l.calls[i].Load()
	}
	deadline := time.Now().Add(within)
	for {
		var stuck []int
		for i := range l.calls {
			if l.calls[i].Load() == before[i] {
				stuck = append(stuck, i)
			}
		}
		if len(stuck) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, i := range stuck {
				t.Log(describe(i))
			}
			l.stop.Store(true)
			select {
			case err := <-l.errs:
				t.Fatalf("grains %v answered no call within %v; a caller failed: %v", stuck, within, err)
			default:
				t.Fatalf("grains %v answered no call within %v, and no caller failed", stuck, within)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *load) end(t *testing.T) {
	t.Helper()
	l.stop.Store(true)
	l.wg.Wait()
	close(l.errs)
	for err := range l.errs {
		t.Error(err)
	}
}

// TestRollingUpgradeHandsGrainsOver: three members on loopback run the old
// binary (versions 1 and 2); a client that hosts no grain calls 60 grains
// by identity without pause. Member by member, a member running the new
// binary joins (the grains it now owns are handed to it) and an old member
// leaves gracefully (Leave: every grain it holds is handed to its new
// owner). Every grain ends at version 3 with its state; no call fails, is
// lost or counted twice (each answer is the previous one plus one); no
// grain is lost; and a call that a handover holds waits, from the start of
// the hold, no longer than the handover time of its phase (first hold to
// last release of that join's or leave's handovers, measured) plus three
// times the slowest call seen when no handover runs (measured before and
// after the upgrade), or 50 ms if that is less.
func TestRollingUpgradeHandsGrainsOver(t *testing.T) {
	skipUnderRace(t)
	for _, c := range []struct {
		name string
		// next is the new binary's catalogue.
		next func(testing.TB) *registry.Catalog
		// migrated: grains are migrated to 3 by a handover, not in place.
		migrated bool
	}{
		{
			// The new binary runs 2 and 3: grains move at 2 while old
			// members remain, and the last old member's grains are
			// migrated to 3 on their way out (it computes the version
			// without itself); the others are updated in place.
			name: "new binary runs 2 and 3",
			next: func(t testing.TB) *registry.Catalog { return catalog(t, 2, 3) },
		},
		{
			// The new binary runs 3 only: the kind's version is 3 as
			// soon as the first new member joins, so every grain is
			// handed to it and migrated on the way.
			name:     "new binary runs 3 only",
			next:     readsOnly,
			migrated: true,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			agent := test.NewInMemAgent()
			var got arrivals
			cfg := mc.Config{OnArrival: got.add}
			var olds []*mc.Member
			var stops []func()
			for range 3 {
				m, stop := startWith(t, testProvider(agent), catalog(t, 1, 2), cfg)
				olds, stops = append(olds, m), append(stops, stop)
			}
			client, _ := startWith(t, testProvider(agent), catalog(t, 1, 2), mc.Config{Kinds: []string{}})
			eventually(t, 10*time.Second, "every member sees the three hosts at version 2", func() bool {
				return sameVersion(append(olds, client), 2) && len(client.Cluster().MemberList.Members().Members()) == 4
			})

			const grains = 60
			ids := make([]string, grains)
			totals := make([]int64, grains)
			for i := range grains {
				ids[i] = fmt.Sprint("r", i)
				totals[i] = add(t, client, ids[i], int64(i+1))
			}
			members := slices.Clone(olds)
			owner := func(id string) string { return client.Owner(id, kind) }
			eventually(t, 10*time.Second, "each grain on its owner", func() bool {
				return placedOnOwners(members, ids, owner, func(v uint32) bool { return v == 2 })
			})

			l := startLoad(client, ids, totals)
			// The slowest of some 2,000 calls: what a call takes on this
			// machine now, scheduling hiccups included.
			eventually(t, 20*time.Second, "every grain called 30 times before the upgrade", func() bool { return l.minCalls() >= 30 })
			before := l.slowestCall()

			var leaves []time.Duration
			var phases []time.Time // when each join and each leave began
			for i, old := range olds {
				phases = append(phases, time.Now())
				next, _ := startWith(t, testProvider(agent), c.next(t), cfg)
				members = append(members, next)
				eventually(t, 15*time.Second, fmt.Sprintf("the grains the new member %d owns handed to it", i+1), func() bool {
					return len(client.Cluster().MemberList.Members().Members()) == 5 &&
						placedOnOwners(members, ids, owner, func(uint32) bool { return true })
				})
				start := time.Now()
				phases = append(phases, start)
				if err := old.Leave(context.Background()); err != nil {
					t.Fatalf("old member %d leaves: %v", i+1, err)
				}
				leaves = append(leaves, time.Since(start))
				stops[i]()
				members = slices.DeleteFunc(members, func(m *mc.Member) bool { return m == old })
				eventually(t, 15*time.Second, fmt.Sprintf("the client sees old member %d gone", i+1), func() bool {
					return len(client.Cluster().MemberList.Members().Members()) == 4
				})
			}
			eventually(t, 15*time.Second, "every grain at version 3 on its owner", func() bool {
				return placedOnOwners(members, ids, owner, func(v uint32) bool { return v == 3 })
			})
			l.progress(t, 10*time.Second, func(i int) string {
				pid, _ := client.Cluster().PidCache.Get(ids[i], kind)
				out := fmt.Sprintf("%s: cached %v, owner %s;", ids[i], pid, owner(ids[i]))
				for _, m := range members {
					if v, ok := versionsOn(m)[ids[i]]; ok {
						out += fmt.Sprintf(" on %s at %d", m.Address(), v)
					}
				}
				return out
			})
			during := l.slowestCall()
			// And the slowest of some 2,000 calls after it: with the one
			// before, what a call takes on this machine, loaded as it is,
			// when no handover runs.
			n := l.minCalls()
			eventually(t, 20*time.Second, "every grain called 30 more times after the upgrade", func() bool { return l.minCalls() >= n+30 })
			after := l.slowestCall()
			l.end(t)
			usual := max(before, after)
			// Three legs of a call (below), and never less than 50 ms: on
			// a quiet machine the legs are a few milliseconds, and a GC
			// cycle or a member starting stalls every goroutine for tens.
			slack := max(3*usual, 50*time.Millisecond)

			for i, id := range ids {
				if got, want := get(t, client, id), fmt.Sprintf("v3:%d", l.totals[i]); got != want {
					t.Errorf("%s: %s, want %s", id, got, want)
				}
			}
			var s mc.Stats
			for _, m := range append(olds, members...) {
				st := m.Stats()
				s.MovedIn += st.MovedIn
				s.MovedOut += st.MovedOut
				s.Lost += st.Lost
				s.MoveFailed += st.MoveFailed
			}
			if s.Lost != 0 || s.MovedIn != s.MovedOut || s.MovedIn < grains {
				t.Errorf("stats %+v: want no grain lost, as many in as out, and at least %d moves", s, grains)
			}
			// The handover time of each phase (a new member joins, an old
			// one leaves): from the first grain's hold to the last grain's
			// release among the handovers of that phase. A call that a
			// handover holds waits at most that, plus three legs of a
			// call's usual time (at most the slowest call seen before and
			// after the upgrade): its own, the hop from the old PID to the
			// new one, and the lookup a caller makes once the old PID is
			// dropped from its cache.
			arr := got.list()
			phaseOf := func(at time.Time) int {
				i, _ := slices.BinarySearchFunc(phases, at, func(p, at time.Time) int { return p.Compare(at) })
				return max(i-1, 0)
			}
			type window struct{ first, last time.Time }
			spans := make([]window, len(phases))
			byGrain := map[string][]arrival{}
			var pause time.Duration
			migrated := 0
			for _, a := range arr {
				byGrain[a.Identity] = append(byGrain[a.Identity], a)
				pause = max(pause, a.Pause)
				if a.FromVersion == 2 && a.Version == 3 {
					migrated++
				}
				w := &spans[phaseOf(a.released)]
				if held := a.released.Add(-a.Pause); w.first.IsZero() || held.Before(w.first) {
					w.first = held
				}
				if a.released.After(w.last) {
					w.last = a.released
				}
			}
			handovers := make([]time.Duration, len(spans))
			for i, w := range spans {
				handovers[i] = w.last.Sub(w.first)
			}
			if c.migrated && migrated < grains {
				t.Errorf("%d grains migrated from 2 to 3 by a handover, want all %d", migrated, grains)
			}
			held, other := 0, time.Duration(0)
			for i, id := range ids {
				for _, cl := range l.slow[i] {
					took := cl.end.Sub(cl.start)
					var overlap *arrival
					for _, a := range byGrain[id] {
						if cl.start.Before(a.released) && cl.end.After(a.released.Add(-a.Pause)) {
							overlap = &a
							break
						}
					}
					if overlap == nil {
						if took > usual {
							other = max(other, took) // slow for another reason: a join, a lookup
						}
						continue
					}
					held++
					// The wait from the start of the hold, or from the
					// call's start if it came during the hold.
					from := overlap.released.Add(-overlap.Pause)
					if cl.start.After(from) {
						from = cl.start
					}
					limit := handovers[phaseOf(overlap.released)]
					if wait := cl.end.Sub(from); wait > limit+slack {
						t.Errorf("a call to %s during its handover (pause %v) waited %v from the start of the hold: more than the handover time of its phase (%v) and %v (three times the slowest call before or after the upgrade, %v, at least 50 ms)", id, overlap.Pause, wait, limit, slack, usual)
					}
				}
			}
			if held == 0 {
				t.Error("no call was held by a handover: the test did not check what it is for")
			}
			t.Logf("%d handovers (%d migrated), longest pause %v; handover time per phase (join, leave, ...) %v; leaves took %v; slowest call before the upgrade %v, during it %v, after it %v; %d calls over %v held by a handover; slowest call not held by one %v",
				len(arr), migrated, pause, handovers, leaves, before, during, after, held, slowCall, other)
		})
	}
}

// refusing is a new binary's catalogue that runs version 3 only, reads
// version 2's state, and whose migration from 2 to 3 fails: a grain handed
// to it cannot be opened.
func refusing(t testing.TB) *registry.Catalog {
	t.Helper()
	cat := registry.New()
	for _, err := range []error{
		registry.RegisterState(cat, kind, 2, func() *CounterV2 { return &CounterV2{} }),
		registry.Register(cat, kind, 3, func() *CounterV3 { return &CounterV3{} }),
		registry.Adapt(cat, kind, 3, func(m *wrapperspb.Int32Value) *wrapperspb.Int64Value { return wrapperspb.Int64(int64(m.GetValue())) }),
		registry.Migrate(cat, kind, 2, 3, func(*CounterV2) (*CounterV3, error) { return nil, errors.New("this build cannot read version 2") }),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return cat
}

// TestFailedHandoverKeepsTheGrain: grains whose handover fails (their new
// owner cannot migrate their state) run on where they were, with their
// state, and calls by identity still reach them there, from a member that
// sees the new owner as theirs; a Leave that cannot hand them over stops
// them once its context ends, says how many (ErrGrainsLost) and returns
// within its context and a margin. A member with no other member to go to
// loses its grains at once.
func TestFailedHandoverKeepsTheGrain(t *testing.T) {
	skipUnderRace(t)
	const grains = 20
	ids := make([]string, grains)
	for i := range ids {
		ids[i] = fmt.Sprint("f", i)
	}
	for _, c := range []struct {
		name string
		// other is the catalogue of the member the grains should move to;
		// nil for none.
		other func(testing.TB) *registry.Catalog
	}{
		{name: "the new owner cannot migrate them", other: refusing},
		{name: "no other member"},
	} {
		t.Run(c.name, func(t *testing.T) {
			agent := test.NewInMemAgent()
			cfg := mc.Config{HandoverDeadline: time.Second}
			old, _ := startWith(t, testProvider(agent), catalog(t, 2), cfg)
			client, _ := startWith(t, testProvider(agent), catalog(t, 2), mc.Config{Kinds: []string{}})
			eventually(t, 10*time.Second, "the client sees the member at version 2", func() bool { return sameVersion([]*mc.Member{client}, 2) })
			totals := map[string]int64{}
			for i, id := range ids {
				totals[id] = add(t, client, id, int64(i+1))
			}
			if c.other != nil {
				next, _ := startWith(t, testProvider(agent), c.other(t), cfg)
				ms := []*mc.Member{old, next, client}
				eventually(t, 10*time.Second, "every member sees the new one", func() bool {
					for _, m := range ms {
						if len(m.Cluster().MemberList.Members().Members()) != 3 {
							return false
						}
					}
					return true
				})
				// The new member runs version 3 only, the old one 2 only:
				// the kind's version is 3 (the newest any runs), every
				// grain is the new member's, and every handover to it
				// fails.
				eventually(t, 10*time.Second, "every grain's handover failed once", func() bool { return old.Stats().MoveFailed >= grains })
				for _, id := range ids {
					if o := client.Owner(id, kind); o != next.Address() {
						t.Fatalf("%s is owned by %s, want the new member %s", id, o, next.Address())
					}
					if got, want := get(t, client, id), fmt.Sprintf("v2:%d", totals[id]); got != want {
						t.Errorf("%s after its failed handover: %s, want %s (on the old member, with its state)", id, got, want)
					}
					if got := add(t, client, id, 1); got != totals[id]+1 {
						t.Errorf("%s: an add after the failed handover answered %d, want %d", id, got, totals[id]+1)
					}
				}
				if n := len(versionsOn(next)); n != 0 {
					t.Errorf("%d grains run on the member that cannot migrate them", n)
				}
			}
			const within = 2 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), within)
			defer cancel()
			start := time.Now()
			err := old.Leave(ctx)
			took := time.Since(start)
			if !errors.Is(err, mc.ErrGrainsLost) {
				t.Fatalf("Leave: %v, want ErrGrainsLost", err)
			}
			if s := old.Stats(); s.Lost != grains {
				t.Errorf("stats %+v: want %d grains lost", s, grains)
			}
			if c.other == nil && took > within/2 {
				t.Errorf("Leave with no other member took %v: it should not wait", took)
			}
			if limit := within + 2*time.Second; took > limit {
				t.Errorf("Leave took %v: more than its context (%v) and a margin", took, within)
			}
		})
	}
}
