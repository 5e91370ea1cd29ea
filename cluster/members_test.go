package cluster_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	mc "github.com/molt-go/molt/cluster"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func skipUnderRace(t *testing.T) {
	t.Helper()
	if remoteRace {
		t.Skip("starts several protoactor remotes in one process, which race with each other under -race (see actor/race_remote_test.go); runs without -race")
	}
}

// versionsOn returns the versions of the grains a member holds, by
// identity.
func versionsOn(m *mc.Member) map[string]uint32 {
	out := map[string]uint32{}
	for _, e := range m.Node().Directory().List(kind) {
		out[e.Labels[mc.LabelIdentity]] = e.Version
	}
	return out
}

func sameVersion(ms []*mc.Member, v uint32) bool {
	for _, m := range ms {
		if got, ok := m.Version(kind); !ok || got != v {
			return false
		}
	}
	return true
}

// TestThreeMembersUpgradeInPlace: three members on loopback (protoactor's
// test provider), 30 grains called by identity from one of them under
// load; SetVersion on another moves every grain, on whichever member it
// is, to version 3 with its state; no call fails, is lost or counted twice.
func TestThreeMembersUpgradeInPlace(t *testing.T) {
	skipUnderRace(t)
	agent := test.NewInMemAgent()
	ms := []*mc.Member{
		startMember(t, testProvider(agent), mc.Adapt, 1, 2, 3),
		startMember(t, testProvider(agent), mc.Adapt, 1, 2, 3),
		startMember(t, testProvider(agent), mc.Adapt, 1, 2, 3),
	}
	if err := ms[0].SetVersion(kind, 2); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "every member sees counter at version 2", func() bool { return sameVersion(ms, 2) })

	const grains = 30
	totals := make([]int64, grains)
	for i := range grains {
		totals[i] = add(t, ms[0], fmt.Sprint("g", i), int64(i+1))
	}
	placed := map[string]bool{}
	for _, m := range ms {
		for id, v := range versionsOn(m) {
			if v != 2 {
				t.Fatalf("%s activated at version %d, want 2", id, v)
			}
			placed[m.Address()] = true
		}
	}
	if len(placed) < 2 {
		t.Fatalf("30 grains all on one member: %v", placed)
	}

	// Load: one caller per grain adds 1 after each answer, checking that
	// each answer is one more than the last.
	var (
		stop   atomic.Bool
		calls  atomic.Int64 // answered calls, all grains together
		wg     sync.WaitGroup
		failed = make(chan error, grains)
	)
	for i := range grains {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint("g", i)
			for !stop.Load() {
				res, err := ms[0].Cluster().Request(id, kind, wrapperspb.Int64(1), callOpts()...)
				if err != nil {
					failed <- fmt.Errorf("%s: %w", id, err)
					return
				}
				got := res.(*wrapperspb.Int64Value).GetValue()
				if got != totals[i]+1 {
					failed <- fmt.Errorf("%s answered %d after %d: a call lost or counted twice", id, got, totals[i])
					return
				}
				totals[i] = got
				calls.Add(1)
			}
		}()
	}
	// Every grain called a few times before the upgrade, and again after.
	callsAtLeast := func(n int64) {
		t.Helper()
		eventually(t, 15*time.Second, fmt.Sprintf("%d calls answered", n), func() bool { return calls.Load() >= n })
	}
	callsAtLeast(3 * grains)
	if err := ms[1].SetVersion(kind, 3); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "every grain at version 3", func() bool {
		n := 0
		for _, m := range ms {
			for _, v := range versionsOn(m) {
				if v != 3 {
					return false
				}
				n++
			}
		}
		return n == grains
	})
	callsAtLeast(calls.Load() + 3*grains)
	stop.Store(true)
	wg.Wait()
	close(failed)
	for err := range failed {
		t.Error(err)
	}
	var upgraded int64
	for _, m := range ms {
		upgraded += m.Stats().Upgraded
	}
	if upgraded != grains {
		t.Errorf("%d grains upgraded in place, want %d", upgraded, grains)
	}
	for i := range grains {
		if got, want := get(t, ms[2], fmt.Sprint("g", i)), fmt.Sprintf("v3:%d", totals[i]); got != want {
			t.Errorf("g%d: %s, want %s", i, got, want)
		}
	}
}

// TestNeverPlacedOnAMemberWithoutTheVersion: with the kind at version 3, no
// grain is activated on the member that runs only 1 and 2, even when that
// member is the caller; its old-interface calls reach version 3 through
// the adapter (policy Adapt).
func TestNeverPlacedOnAMemberWithoutTheVersion(t *testing.T) {
	skipUnderRace(t)
	agent := test.NewInMemAgent()
	old := startMember(t, testProvider(agent), mc.Adapt, 1, 2)
	ms := []*mc.Member{old,
		startMember(t, testProvider(agent), mc.Adapt, 1, 2, 3),
		startMember(t, testProvider(agent), mc.Adapt, 2, 3),
	}
	eventually(t, 10*time.Second, "every member sees counter at version 2 by default", func() bool { return sameVersion(ms, 2) })
	if err := old.SetVersion(kind, 3); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "every member sees counter at version 3", func() bool { return sameVersion(ms, 3) })
	for i := range 40 {
		id := fmt.Sprint("p", i)
		if got := get(t, old, id); got != "v3:0" {
			t.Fatalf("%s: %s, want v3:0", id, got)
		}
		if pid := old.Cluster().Get(id, kind); pid == nil || pid.Address == old.Address() {
			t.Fatalf("%s at %v: on the member without version 3", id, pid)
		}
		res, err := old.Cluster().Request(id, kind, wrapperspb.Int32(7), callOpts()...)
		if err != nil || res.(*wrapperspb.Int64Value).GetValue() != 7 {
			t.Fatalf("old-interface add to %s: %v %v", id, res, err)
		}
	}
	if n := len(versionsOn(old)); n != 0 {
		t.Fatalf("%d grains on the member without version 3", n)
	}
}

// TestWaitPolicyHoldsTheVersion: under Wait, a target of 3 does not move
// grains while a member that speaks only version 2 is in the cluster;
// once it leaves (handing its grains over at 3, the version computed
// without it), every grain runs 3 with its state.
func TestWaitPolicyHoldsTheVersion(t *testing.T) {
	skipUnderRace(t)
	agent := test.NewInMemAgent()
	old, leave := startStoppable(t, testProvider(agent), mc.Wait, 1, 2)
	next := []*mc.Member{
		startMember(t, testProvider(agent), mc.Wait, 1, 2, 3),
		startMember(t, testProvider(agent), mc.Wait, 1, 2, 3),
	}
	ms := append([]*mc.Member{old}, next...)
	eventually(t, 10*time.Second, "every member sees all three", func() bool {
		return len(old.Cluster().MemberList.Members().Members()) == 3 && sameVersion(ms, 2)
	})
	if err := next[0].SetVersion(kind, 3); err != nil {
		t.Fatal(err)
	}
	totals := map[string]int64{}
	for i := range 20 {
		id := fmt.Sprint("w", i)
		totals[id] = add(t, next[1], id, int64(i+1))
	}
	for _, m := range ms {
		if v, _ := m.Version(kind); v != 2 {
			t.Fatalf("under Wait, with a member on version 2, %s has counter at %d", m.Address(), v)
		}
		for id, v := range versionsOn(m) {
			if v != 2 {
				t.Fatalf("%s at version %d while the old member is in", id, v)
			}
		}
	}
	leave()
	eventually(t, 10*time.Second, "the remaining members move counter to 3", func() bool { return sameVersion(next, 3) })
	eventually(t, 10*time.Second, "the grains of the remaining members at version 3", func() bool {
		for _, m := range next {
			for _, v := range versionsOn(m) {
				if v != 3 {
					return false
				}
			}
		}
		return true
	})
	for id, total := range totals {
		if got, want := get(t, next[0], id), fmt.Sprintf("v3:%d", total); got != want {
			t.Errorf("%s: %s, want %s", id, got, want)
		}
	}
}
