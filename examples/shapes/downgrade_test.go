package shapes

import (
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry/registrytest"
	"github.com/molt-go/molt/update"
	"pgregory.net/rapid"
)

func TestQuotaMigrations(t *testing.T) {
	registrytest.Check(t, newCatalog(t, RegisterQuota), "quota",
		registrytest.States(1, rapid.Custom(func(t *rapid.T) *QuotaV1 {
			limit := rapid.Int64Range(0, 1000).Draw(t, "limit")
			return &QuotaV1{Limit: limit, Used: rapid.Int64Range(0, limit).Draw(t, "used")}
		})),
		registrytest.States(2, rapid.Custom(func(t *rapid.T) *QuotaV2 {
			limit := rapid.Int64Range(0, 1000).Draw(t, "limit")
			burst := rapid.Int64Range(0, limit).Draw(t, "burst")
			return &QuotaV2{Limit: limit, Burst: burst, Used: rapid.Int64Range(0, limit+burst).Draw(t, "used")}
		})),
		registrytest.MayRefuse(2, 1), // a client inside its burst
		registrytest.Lossless(1, 2),
	)
}

// TestDowngrade: a manual rollback from version 2 aborts while a client is
// inside its burst, with the state intact, and commits once it is not.
func TestDowngrade(t *testing.T) {
	node := newNode(t, newCatalog(t, RegisterQuota))
	pid := spawn(t, node, "quota", 1)
	updateTo(t, node, pid, &update.UpdateActor{ToVersion: 2}, update.Outcome_OUTCOME_COMMITTED)
	if !ask[*Granted](t, node, pid, &Take{N: 12}).OK {
		t.Fatal("version 2 refused a take within its burst")
	}
	res := updateTo(t, node, pid, &update.UpdateActor{ToVersion: 1}, update.Outcome_OUTCOME_ABORTED)
	if res.GetPhase() != update.Phase_PHASE_STATE_TRANSFER {
		t.Fatalf("aborted in %v (%s), want state transfer", res.GetPhase(), res.GetReason())
	}
	if u := ask[*Usage](t, node, pid, &GetUsage{}); u.Used != 12 {
		t.Fatalf("after the aborted downgrade %d are used, want 12", u.Used)
	}
	node.Root().Send(pid, &Give{N: 5})
	// The default order would let the update overtake the Give still
	// queued, and abort again: this one waits its turn.
	updateTo(t, node, pid, &update.UpdateActor{ToVersion: 1, Order: update.Order_ORDER_IN_ORDER}, update.Outcome_OUTCOME_COMMITTED)
	runs(t, node, pid, 1)
	if u := ask[*Usage](t, node, pid, &GetUsage{}); u.Used != 7 {
		t.Fatalf("after the downgrade %d are used, want 7", u.Used)
	}
}

// TestProbation: version 2 panics on a Take of 0 during its probation; the
// actor is rolled back to version 1 by the down migration, from the state
// before that message, which version 1 then handles.
func TestProbation(t *testing.T) {
	node := newNode(t, newCatalog(t, RegisterQuota))
	reports := make(chan *update.ProbationResult, 1)
	watcher := node.Root().Spawn(pa.PropsFromFunc(func(ctx pa.Context) {
		if p, ok := ctx.Message().(*update.ProbationResult); ok {
			reports <- p
		}
	}))
	pid := spawn(t, node, "quota", 1)
	ask[*Granted](t, node, pid, &Take{N: 4})

	updateTo(t, node, pid, &update.UpdateActor{
		ToVersion: 2,
		Probation: &update.Probation{Messages: 10, ReportTo: update.RefOf(watcher)},
	}, update.Outcome_OUTCOME_COMMITTED)
	if !ask[*Granted](t, node, pid, &Take{N: 0}).OK {
		t.Fatal("version 1 refused a take of 0 after the rollback")
	}
	select {
	case p := <-reports:
		if p.GetOutcome() != update.ProbationOutcome_PROBATION_OUTCOME_ROLLED_BACK || p.GetVersion() != 1 {
			t.Fatalf("the probation ended %v at version %d (%s), want rolled back to 1", p.GetOutcome(), p.GetVersion(), p.GetReason())
		}
	case <-time.After(patience):
		t.Fatalf("no probation result within %v", patience)
	}
	runs(t, node, pid, 1)
	if u := ask[*Usage](t, node, pid, &GetUsage{}); u.Used != 4 {
		t.Fatalf("after the rollback %d are used, want 4", u.Used)
	}
}
