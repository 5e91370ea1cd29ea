// Package account is the grain kind of the cluster example: a bank
// account that applies each client's deposits exactly once, persists its
// state before it acknowledges, and exists in two versions.
//
// Version 1 keeps the balance in whole units. Version 2, which only the
// next release runs, keeps it as Money (cents and a currency): a new state
// shape, reached from version 1's by a migration (and back, for a
// rollback). Both accept the same messages, Deposit and Audit.
//
// A grain may be active on two members for a moment while its owner
// changes (the old activation still serves what was queued for it while
// the new one loads the snapshot). The store is fenced
// (etcdstore.Fenced): of two activations that loaded the same snapshot,
// only the first to persist wins; the other gets persist.ErrStale,
// answers Refused, and stops, so that the next call activates the grain
// again from the latest snapshot. A grain's state therefore only ever
// holds persisted deposits, besides the one being persisted.
package account

import (
	"fmt"
	"math"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
)

// Kind is the grains' kind.
const Kind = "account"

// AccountV1 is version 1: the balance in whole units, the number of
// deposits applied, and each client's last deposit number applied.
type AccountV1 struct {
	Balance  int64
	Deposits uint64
	Seen     map[string]uint64
	broken   bool // a Persist failed: the state may be stale; answer Refused until stopped
}

// Money is an amount in cents of a currency.
type Money struct {
	Cents    int64
	Currency string
}

// AccountV2 is version 2: the balance as Money.
type AccountV2 struct {
	Balance  Money
	Deposits uint64
	LastSeq  map[string]uint64
	broken   bool
}

// Currency is the currency of version 2's balances; version 1's units
// migrate to it.
const Currency = "EUR"

func (a *AccountV1) Receive(ctx pa.Context) {
	if a.Seen == nil {
		a.Seen = map[string]uint64{}
	}
	serve(ctx, 1, &a.broken, a.Seen, func() int64 { return a.Balance }, func(amount int64) {
		a.Balance += amount
		a.Deposits++
	}, func() uint64 { return a.Deposits })
}

func (a *AccountV2) Receive(ctx pa.Context) {
	if a.LastSeq == nil {
		a.LastSeq = map[string]uint64{}
	}
	if a.Balance.Currency == "" {
		a.Balance.Currency = Currency
	}
	serve(ctx, 2, &a.broken, a.LastSeq, func() int64 { return a.Balance.Cents / 100 }, func(amount int64) {
		a.Balance.Cents += amount * 100
		a.Deposits++
	}, func() uint64 { return a.Deposits })
}

// serve is what both versions do with a message; they differ in how they
// keep the balance (balance, add, deposits).
func serve(ctx pa.Context, version uint32, broken *bool, seen map[string]uint64, balance func() int64, add func(int64), deposits func() uint64) {
	switch m := ctx.Message().(type) {
	case *Deposit:
		if *broken {
			ctx.Respond(&Refused{Reason: "reloading"})
			return
		}
		if m.GetSeq() <= seen[m.GetClient()] {
			// Applied before, and persisted then (a state holds no
			// deposit whose Persist failed): acknowledge again.
			ctx.Respond(&Deposited{Balance: balance(), Version: version, Duplicate: true})
			return
		}
		add(m.GetAmount())
		seen[m.GetClient()] = m.GetSeq()
		if !persisted(ctx, broken) {
			return
		}
		ctx.Respond(&Deposited{Balance: balance(), Version: version})
	case *Audit:
		if *broken {
			ctx.Respond(&Refused{Reason: "reloading"})
			return
		}
		if !persisted(ctx, broken) {
			return
		}
		ctx.Respond(&Statement{Balance: balance(), Deposits: deposits(), Version: version, Member: ctx.Self().GetAddress()})
	}
}

// persisted persists the state. When the store refuses (a newer state
// was written elsewhere: persist.ErrStale) or fails (the write may have
// landed or not), the state can no longer be trusted: the grain answers
// Refused, to this message and to every one queued behind it, and stops
// once they are answered (Poison queues behind them), to be activated
// again from the latest snapshot.
func persisted(ctx pa.Context, broken *bool) bool {
	err := molt.Persist(ctx)
	if err == nil {
		return true
	}
	*broken = true
	ctx.Respond(&Refused{Reason: err.Error()})
	ctx.Poison(ctx.Self())
	return false
}

// Register adds the versions of the account kind a release runs to cat:
// version 1 for the current release; versions 1 and 2, with the
// migrations between them, for the next.
func Register(cat *registry.Catalog, next bool) error {
	accepts := registry.Accepts(&Deposit{}, &Audit{})
	if err := registry.Register(cat, Kind, 1, func() *AccountV1 { return &AccountV1{Seen: map[string]uint64{}} },
		accepts, registry.Transient("broken")); err != nil {
		return err
	}
	if !next {
		return nil
	}
	if err := registry.Register(cat, Kind, 2, func() *AccountV2 {
		return &AccountV2{Balance: Money{Currency: Currency}, LastSeq: map[string]uint64{}}
	}, accepts, registry.Transient("broken")); err != nil {
		return err
	}
	if err := registry.Migrate(cat, Kind, 1, 2, func(a *AccountV1) (*AccountV2, error) {
		if a.Balance > math.MaxInt64/100 || a.Balance < math.MinInt64/100 {
			return nil, fmt.Errorf("a balance of %d units does not fit in cents", a.Balance)
		}
		return &AccountV2{Balance: Money{Cents: a.Balance * 100, Currency: Currency}, Deposits: a.Deposits, LastSeq: a.Seen}, nil
	}); err != nil {
		return err
	}
	return registry.Migrate(cat, Kind, 2, 1, func(a *AccountV2) (*AccountV1, error) {
		if a.Balance.Currency != Currency || a.Balance.Cents%100 != 0 {
			return nil, fmt.Errorf("a balance of %d cents of %s has no version 1 (whole %s)", a.Balance.Cents, a.Balance.Currency, Currency)
		}
		return &AccountV1{Balance: a.Balance.Cents / 100, Deposits: a.Deposits, Seen: a.LastSeq}, nil
	})
}
