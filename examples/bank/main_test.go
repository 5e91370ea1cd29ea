package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/molt-go/molt/internal/leaktest"
	"github.com/molt-go/molt/registry"
)

func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(m)
}

// TestRun runs the demo: the total is the same before, during and after the
// committed and the aborted group updates, the aborted one leaves every
// shard's state as it was, and every accepted transfer completes.
func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatalf("the demo failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"GROUP_STAGED", "GROUP_COMMITTED", "GROUP_ABORTED",
		"after: shards on v2 v2 v2 v2, total 1,000,000.00",
		"identical before and after: true",
		"OK: the total stayed 1,000,000.00",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report does not say %q:\n%s", want, out.String())
		}
	}
}

// TestMigrationsKeepEveryCent: a state taken up 1→2→3 and down 3→2→1 has
// the same balances and ledger; down to version 1 fails, rather than
// rounding, once a balance has cents.
func TestMigrationsKeepEveryCent(t *testing.T) {
	cat, err := catalog()
	if err != nil {
		t.Fatal(err)
	}
	v1 := &ShardV1{Units: map[string]int64{"acc-0000": 12, "acc-0004": 0}}
	v1.Shard, v1.Shards = 0, 4
	v1.Pending = map[uint64]Pending{7: {From: "acc-0000", To: "acc-0001", Cents: 300}}
	v1.Sent, v1.Acked = 500, 200

	up, err := cat.Plan("shard", 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	got, err := up.Transfer(v1)
	if err != nil {
		t.Fatalf("1→3: %v", err)
	}
	v3 := got.(*ShardV3)
	if v3.Accounts["acc-0000"].Cents != 1200 || v3.Accounts["acc-0000"].Currency != currency || v3.Pending[7].Cents != 300 || v3.Sent != 500 {
		t.Fatalf("1→3 gave %+v", v3)
	}
	down, err := cat.Plan("shard", 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	back, err := down.Transfer(v3)
	if err != nil {
		t.Fatalf("3→1: %v", err)
	}
	if b := back.(*ShardV1); b.Units["acc-0000"] != 12 || b.Units["acc-0004"] != 0 || b.Pending[7] != v1.Pending[7] || b.Sent != 500 || b.Acked != 200 {
		t.Fatalf("1→3→1 gave %+v, want %+v", b, v1)
	}

	v3.Accounts["acc-0004"] = AccountV3{Cents: 1, Currency: currency}
	if _, err := down.Transfer(v3); !errors.Is(err, registry.ErrMigration) || !strings.Contains(err.Error(), "acc-0004 has 0.01") {
		t.Fatalf("3→1 with a balance of 0.01: err = %v, want a failed migration naming acc-0004", err)
	}
}
