package shapes

import (
	"slices"
	"testing"

	"github.com/molt-go/molt/registry/registrytest"
	"github.com/molt-go/molt/update"
)

// TestContactMigrations: besides each migration, the kit checks every chain
// an update may take (chain/1-4, chain/2-4) and that the shortcut 1→3
// agrees with 1→2→3 (shortcut/1-3).
func TestContactMigrations(t *testing.T) {
	registrytest.Check(t, newCatalog(t, RegisterContact), "contact")
}

// TestChain: each actor goes to version 4 in one update, along the
// shortest chain from where it is.
func TestChain(t *testing.T) {
	cat := newCatalog(t, RegisterContact)
	for from, path := range map[uint32][]uint32{1: {1, 3, 4}, 2: {2, 3, 4}, 3: {3, 4}} {
		plan, err := cat.Plan("contact", from, 4)
		if err != nil {
			t.Fatalf("no plan from %d to 4: %v", from, err)
		}
		if !slices.Equal(plan.Path(), path) {
			t.Errorf("from %d the update goes through %v, want %v", from, plan.Path(), path)
		}
	}

	node := newNode(t, cat)
	pid := spawn(t, node, "contact", 1)
	res := updateTo(t, node, pid, &update.UpdateActor{ToVersion: 4}, update.Outcome_OUTCOME_COMMITTED)
	if res.GetFromVersion() != 1 || res.GetToVersion() != 4 {
		t.Fatalf("the update went from %d to %d, want 1 to 4", res.GetFromVersion(), res.GetToVersion())
	}
	node.Root().Send(pid, &AddEmail{Address: "ada@example.org"})
	if got := ask[*Contact](t, node, pid, &GetContact{}); len(got.Emails) != 1 {
		t.Fatalf("version 4 holds %v, want the address added", got.Emails)
	}
	// No down migration: a downgrade is refused, not attempted.
	updateTo(t, node, pid, &update.UpdateActor{ToVersion: 3}, update.Outcome_OUTCOME_REJECTED)
}

// TestChainShortcut: the shortcut 1→3 splits the name as 1→2 does.
func TestChainShortcut(t *testing.T) {
	plan, err := newCatalog(t, RegisterContact).Plan("contact", 1, 4)
	if err != nil {
		t.Fatal(err)
	}
	got, err := plan.Transfer(&ContactV1{Name: "Ada King Lovelace"})
	if err != nil {
		t.Fatalf("1→4: %v", err)
	}
	if v4 := got.(*ContactV4); v4.Given != "Ada King" || v4.Family != "Lovelace" {
		t.Fatalf("1→4 made %+v, want Ada King / Lovelace", *v4)
	}
}
