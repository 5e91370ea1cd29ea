package manager_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/update/manager"
	"github.com/molt-go/molt/update/manifest"
)

func spawnFleet(t testing.TB, node *molt.Node, n int) []*pa.PID {
	t.Helper()
	pids := make([]*pa.PID, n)
	for i := range pids {
		pid, err := node.Spawn("acct", 1, molt.WithName(fmt.Sprintf("f%06d", i)), molt.WithLabels(map[string]string{"fleet": "yes"}))
		must(t, err)
		pids[i] = pid
	}
	return pids
}

// TestFleetUpdatedUnderTraffic: every account of a large fleet is updated
// by a rolling package while deposits keep arriving; afterwards every actor
// runs version 2 and every deposit is in its balance.
func TestFleetUpdatedUnderTraffic(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 5_000
	}
	node, m := setup(t)
	pids := spawnFleet(t, node, n)

	sent := make([]atomic.Int64, n)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for s := 0; s < 2; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(s), 7))
			for !stop.Load() {
				for k := 0; k < 256; k++ {
					i := rng.IntN(n)
					sent[i].Add(1)
					node.Root().Send(pids[i], &deposit{N: 1})
				}
				// Pace the senders by the fleet, so that queues stay short.
				ask(t, node, pids[rng.IntN(n)], &balance{})
			}
		}()
	}

	pkg := &manifest.Package{
		ID:      "fleet",
		Updates: []manifest.KindUpdate{{Kind: "acct", To: 2, Targets: manifest.Targets{All: true, Labels: map[string]string{"fleet": "yes"}}}},
		Rollout: manifest.Rollout{Strategy: manifest.StrategyRolling, BatchSize: n / 10, Canaries: 1, MaxInFlight: 1024},
	}
	start := time.Now()
	done, rec := run(t, m, pkg)
	took := time.Since(start)
	stop.Store(true)
	wg.Wait()

	if done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED || int(done.GetUpdated()) != n {
		t.Fatalf("package: %v", done)
	}
	if b := len(rec.of(manager.EventType_BATCH_STARTED)); b != 11 {
		t.Errorf("%d batches, want 11 (a canary, then ten)", b)
	}
	var want int64
	for i, pid := range pids {
		if v := versionOf(t, node, pid); v != 2 {
			t.Fatalf("%s runs version %d, want 2", pid.Id, v)
		}
		b := ask(t, node, pid, &balance{}).(int64)
		if s := sent[i].Load(); b != s {
			t.Fatalf("%s: balance %d, but %d deposits were sent to it", pid.Id, b, s)
		}
		want += sent[i].Load()
	}
	t.Logf("%d actors updated in %v (%.0f updates/s) under %d deposits", n, took, float64(n)/took.Seconds(), want)
}

// TestFleetWithFailuresHaltsAndRollsBack: a fleet in which some actors fail
// their update halts once the failure budget is exceeded, and rolls back
// the actors it had updated.
func TestFleetWithFailuresHaltsAndRollsBack(t *testing.T) {
	const n = 2_000
	node, m := setup(t)
	pids := spawnFleet(t, node, n)
	for i, pid := range pids {
		node.Root().Send(pid, &deposit{N: int64(i)})
	}
	// Every actor from the middle on fails: the first half commits, then
	// the budget of 5 is exceeded.
	for _, pid := range pids[n/2:] {
		node.Root().Send(pid, &arm{Fail: "migrate"})
	}
	pkg := &manifest.Package{
		ID:      "fleet-fails",
		Updates: []manifest.KindUpdate{{Kind: "acct", To: 2, Targets: manifest.Targets{All: true}}},
		Rollout: manifest.Rollout{
			Strategy: manifest.StrategyRolling, BatchSize: 100, MaxInFlight: 50,
			FailureBudget: 5, OnBudgetExceeded: manifest.OnBudgetRollback,
		},
	}
	done, rec := run(t, m, pkg)
	if done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_ROLLED_BACK {
		t.Fatalf("package: %v", done)
	}
	if f := done.GetFailed(); f <= 5 || f > 5+50 {
		t.Errorf("%d units failed; the rollout should halt just past its budget of 5 (at most 50 in flight)", f)
	}
	if len(rec.of(manager.EventType_HALTED)) != 1 || done.GetRolledBack() == 0 || done.GetUpdated() != 0 {
		t.Errorf("halted %d times, rolled back %d, left updated %d", len(rec.of(manager.EventType_HALTED)), done.GetRolledBack(), done.GetUpdated())
	}
	for i, pid := range pids {
		if v := versionOf(t, node, pid); v != 1 {
			t.Fatalf("%s runs version %d after the rollback, want 1", pid.Id, v)
		}
		if b := ask(t, node, pid, &balance{}).(int64); b != int64(i) {
			t.Fatalf("%s: balance %d, want %d", pid.Id, b, i)
		}
	}
}
