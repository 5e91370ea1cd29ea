package shapes

import (
	"strings"
	"testing"

	"github.com/molt-go/molt/registry/registrytest"
	"github.com/molt-go/molt/update"
	"pgregory.net/rapid"
)

// TestWalletMigrations: cents → euros → cents gives the cents back, for
// every balance the down migration accepts; the ones it refuses are refused
// by design, not a failure.
func TestWalletMigrations(t *testing.T) {
	registrytest.Check(t, newCatalog(t, RegisterWallet), "wallet",
		registrytest.States(2, rapid.Custom(func(t *rapid.T) *WalletV2 {
			// Mostly near the limit, where rounding would start.
			return &WalletV2{Cents: rapid.OneOf(
				rapid.Int64Range(-MaxExactCents-1000, -MaxExactCents+1000),
				rapid.Int64Range(-1_000_000, 1_000_000),
				rapid.Int64Range(MaxExactCents-1000, MaxExactCents+1000),
				rapid.Int64(),
			).Draw(t, "cents")}
		})),
		registrytest.MayRefuse(2, 1),
		registrytest.Lossless(2, 1),
	)
}

// TestChangeFieldType: a float balance that drifted becomes exact cents;
// the downgrade of a balance float64 cannot hold aborts with the balance
// intact, and one it can hold commits.
func TestChangeFieldType(t *testing.T) {
	node := newNode(t, newCatalog(t, RegisterWallet))
	pid := spawn(t, node, "wallet", 1)
	for range 10 {
		node.Root().Send(pid, &Deposit{Cents: 10}) // 0.1 € ten times is not 1 € in float64
	}
	if got := ask[*Balance](t, node, pid, &GetBalance{}); got.Cents != 100 {
		t.Fatalf("version 1 holds %d cents, want 100", got.Cents)
	}
	updateTo(t, node, pid, &update.UpdateActor{ToVersion: 2}, update.Outcome_OUTCOME_COMMITTED)
	if got := ask[*Balance](t, node, pid, &GetBalance{}); got.Cents != 100 {
		t.Fatalf("version 2 holds %d cents, want 100", got.Cents)
	}

	node.Root().Send(pid, &Deposit{Cents: MaxExactCents})
	// Asked before the update: an update overtakes the messages still queued.
	if got := ask[*Balance](t, node, pid, &GetBalance{}); got.Cents != MaxExactCents+100 {
		t.Fatalf("version 2 holds %d cents, want %d", got.Cents, MaxExactCents+100)
	}
	res := updateTo(t, node, pid, &update.UpdateActor{ToVersion: 1}, update.Outcome_OUTCOME_ABORTED)
	if res.GetPhase() != update.Phase_PHASE_STATE_TRANSFER || !strings.Contains(res.GetReason(), "without rounding") {
		t.Fatalf("the downgrade aborted in %v (%s), want state transfer, refused by the down migration", res.GetPhase(), res.GetReason())
	}
	runs(t, node, pid, 2)
	if got := ask[*Balance](t, node, pid, &GetBalance{}); got.Cents != MaxExactCents+100 {
		t.Fatalf("after the aborted downgrade the wallet holds %d cents, want %d", got.Cents, MaxExactCents+100)
	}

	node.Root().Send(pid, &Deposit{Cents: -MaxExactCents})
	if got := ask[*Balance](t, node, pid, &GetBalance{}); got.Cents != 100 {
		t.Fatalf("version 2 holds %d cents, want 100", got.Cents)
	}
	updateTo(t, node, pid, &update.UpdateActor{ToVersion: 1}, update.Outcome_OUTCOME_COMMITTED)
	if got := ask[*Balance](t, node, pid, &GetBalance{}); got.Cents != 100 {
		t.Fatalf("after the downgrade the wallet holds %d cents, want 100", got.Cents)
	}
}
