package main

import (
	"testing"

	"github.com/molt-go/molt/registry/registrytest"
	"pgregory.net/rapid"
)

// shardOps is what the generators drive: the accounts a shard version
// stores and its ledger.
type shardOps interface {
	open(name string, cents int64) error
	debit(name string, cents int64) error
	credit(name string, cents int64) error
	ledger() *Ledger
}

func (s *ShardV1) ledger() *Ledger { return &s.Ledger }
func (s *ShardV2) ledger() *Ledger { return &s.Ledger }
func (s *ShardV3) ledger() *Ledger { return &s.Ledger }

// shardStates makes states the way a shard's life does: accounts opened,
// debited and credited, and transfers pending, so that they satisfy the
// invariants. Amounts are whole units when whole is set (version 1 knows
// no cents), else mostly whole units and some cents.
func shardStates[S shardOps](fresh func() S, whole bool) *rapid.Generator[S] {
	return rapid.Custom(func(t *rapid.T) S {
		s := fresh()
		amount := func(label string) int64 {
			c := rapid.Int64Range(1, 1_000_000).Draw(t, label) * 100
			if !whole && rapid.Bool().Draw(t, label+" has cents") {
				c += rapid.Int64Range(1, 99).Draw(t, label+" cents")
			}
			return c
		}
		n := rapid.IntRange(0, 6).Draw(t, "accounts")
		for i := range n {
			_ = s.open(accountName(i), amount("opening balance"))
		}
		for range rapid.IntRange(0, 10).Draw(t, "moves") {
			if n == 0 {
				break
			}
			name := accountName(rapid.IntRange(0, n-1).Draw(t, "account"))
			if rapid.Bool().Draw(t, "credit") {
				_ = s.credit(name, amount("credit"))
			} else {
				_ = s.debit(name, amount("debit")) // refused beyond the balance
			}
		}
		l := s.ledger()
		l.Shard, l.Shards = 0, 4
		l.Acked = rapid.Int64Range(0, 1<<40).Draw(t, "acknowledged")
		l.Sent = l.Acked
		for range rapid.IntRange(0, 3).Draw(t, "pending") {
			l.NextID++
			c := amount("pending transfer")
			l.Pending[l.NextID] = Pending{From: accountName(0), To: accountName(5), Cents: c}
			l.Sent += c
		}
		return s
	})
}

// TestShardMigrations checks every migration, chain and codec of the
// bank's shard with the migration test kit.
func TestShardMigrations(t *testing.T) {
	cat, err := catalog()
	if err != nil {
		t.Fatal(err)
	}
	withPending := func(l *Ledger) { l.Pending = map[uint64]Pending{} }
	registrytest.Check(t, cat, "shard",
		registrytest.States(1, shardStates(func() *ShardV1 {
			s := &ShardV1{Units: map[string]int64{}}
			withPending(&s.Ledger)
			return s
		}, true)),
		registrytest.States(2, shardStates(func() *ShardV2 {
			s := &ShardV2{Accounts: map[string]AccountV2{}}
			withPending(&s.Ledger)
			return s
		}, false)),
		registrytest.States(3, shardStates(func() *ShardV3 {
			s := &ShardV3{Accounts: map[string]AccountV3{}}
			withPending(&s.Ledger)
			return s
		}, false)),
		// Version 1 holds whole units: going down to it refuses cents,
		// and the update aborts, by design.
		registrytest.MayRefuse(2, 1),
		registrytest.Lossless(1, 2),
		registrytest.Lossless(1, 3),
	)
}
