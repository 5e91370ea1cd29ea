package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
)

// The shard's three versions. Each embeds the Ledger (the transfer
// protocol and the update hooks) and stores its accounts its own way.

// currency is the only currency of the demo's bank; version 1 knows no
// other.
const currency = "EUR"

// ShardV1 stores balances in whole units: version 1 moves whole euros only.
type ShardV1 struct {
	Ledger
	Units map[string]int64
}

// Receive runs the transfer protocol.
func (s *ShardV1) Receive(ctx actor.Context) { s.receive(ctx, s) }

func (s *ShardV1) version() uint32 { return 1 }

func (s *ShardV1) open(name string, cents int64) error {
	if _, ok := s.Units[name]; ok {
		return fmt.Errorf("%s is open already", name)
	}
	if cents < 0 || cents%100 != 0 {
		return fmt.Errorf("version 1 holds whole units; cannot open %s with %s", name, money(cents))
	}
	s.Units[name] = cents / 100
	return nil
}

func (s *ShardV1) debit(name string, cents int64) error {
	units, ok := s.Units[name]
	switch {
	case cents%100 != 0:
		return fmt.Errorf("version 1 moves whole units only, not %s", money(cents))
	case !ok:
		return fmt.Errorf("no account %s here", name)
	case units < cents/100:
		return fmt.Errorf("%s has %s, less than %s", name, money(units*100), money(cents))
	}
	s.Units[name] = units - cents/100
	return nil
}

func (s *ShardV1) credit(name string, cents int64) error {
	units, ok := s.Units[name]
	switch {
	case cents%100 != 0:
		return fmt.Errorf("version 1 holds whole units only, not %s", money(cents))
	case !ok:
		return fmt.Errorf("no account %s here", name)
	}
	s.Units[name] = units + cents/100
	return nil
}

func (s *ShardV1) totals() (int, int64) {
	var sum int64
	for _, u := range s.Units {
		sum += u * 100
	}
	return len(s.Units), sum
}

func (s *ShardV1) snapshot() actor.Actor {
	return &ShardV1{Ledger: s.clone(), Units: maps.Clone(s.Units)}
}

// CheckInvariants implements update.Checker: no negative balance, and the
// ledger adds up.
func (s *ShardV1) CheckInvariants() error {
	for _, name := range slices.Sorted(maps.Keys(s.Units)) {
		if s.Units[name] < 0 {
			return fmt.Errorf("%s has a negative balance", name)
		}
	}
	return s.check()
}

// AccountV2 is an account of version 2: integer cents and a currency.
type AccountV2 struct {
	Cents    int64
	Currency string
}

// ShardV2 stores each account's balance in cents, with its currency.
type ShardV2 struct {
	Ledger
	Accounts map[string]AccountV2
}

// Receive runs the transfer protocol.
func (s *ShardV2) Receive(ctx actor.Context) { s.receive(ctx, s) }

func (s *ShardV2) version() uint32 { return 2 }

func (s *ShardV2) open(name string, cents int64) error {
	if _, ok := s.Accounts[name]; ok {
		return fmt.Errorf("%s is open already", name)
	}
	s.Accounts[name] = AccountV2{Cents: cents, Currency: currency}
	return nil
}

func (s *ShardV2) debit(name string, cents int64) error {
	a, ok := s.Accounts[name]
	switch {
	case !ok:
		return fmt.Errorf("no account %s here", name)
	case a.Cents < cents:
		return fmt.Errorf("%s has %s, less than %s", name, money(a.Cents), money(cents))
	}
	a.Cents -= cents
	s.Accounts[name] = a
	return nil
}

func (s *ShardV2) credit(name string, cents int64) error {
	a, ok := s.Accounts[name]
	if !ok {
		return fmt.Errorf("no account %s here", name)
	}
	a.Cents += cents
	s.Accounts[name] = a
	return nil
}

func (s *ShardV2) totals() (int, int64) {
	var sum int64
	for _, a := range s.Accounts {
		sum += a.Cents
	}
	return len(s.Accounts), sum
}

func (s *ShardV2) snapshot() actor.Actor {
	return &ShardV2{Ledger: s.clone(), Accounts: maps.Clone(s.Accounts)}
}

// CheckInvariants implements update.Checker: no negative balance, every
// account has a currency, and the ledger adds up.
func (s *ShardV2) CheckInvariants() error {
	for _, name := range slices.Sorted(maps.Keys(s.Accounts)) {
		if a := s.Accounts[name]; a.Cents < 0 || a.Currency == "" {
			return fmt.Errorf("%s: balance %s, currency %q", name, money(a.Cents), a.Currency)
		}
	}
	return s.check()
}

// AccountV3 adds history counters to an account: the transfers credited to
// it and debited from it since version 3.
type AccountV3 struct {
	Cents           int64
	Currency        string
	Credits, Debits int64
}

// ShardV3 keeps per-account history counters.
type ShardV3 struct {
	Ledger
	Accounts map[string]AccountV3
}

// Receive runs the transfer protocol.
func (s *ShardV3) Receive(ctx actor.Context) { s.receive(ctx, s) }

func (s *ShardV3) version() uint32 { return 3 }

func (s *ShardV3) open(name string, cents int64) error {
	if _, ok := s.Accounts[name]; ok {
		return fmt.Errorf("%s is open already", name)
	}
	s.Accounts[name] = AccountV3{Cents: cents, Currency: currency}
	return nil
}

func (s *ShardV3) debit(name string, cents int64) error {
	a, ok := s.Accounts[name]
	switch {
	case !ok:
		return fmt.Errorf("no account %s here", name)
	case a.Cents < cents:
		return fmt.Errorf("%s has %s, less than %s", name, money(a.Cents), money(cents))
	}
	a.Cents -= cents
	a.Debits++
	s.Accounts[name] = a
	return nil
}

func (s *ShardV3) credit(name string, cents int64) error {
	a, ok := s.Accounts[name]
	if !ok {
		return fmt.Errorf("no account %s here", name)
	}
	a.Cents += cents
	a.Credits++
	s.Accounts[name] = a
	return nil
}

func (s *ShardV3) totals() (int, int64) {
	var sum int64
	for _, a := range s.Accounts {
		sum += a.Cents
	}
	return len(s.Accounts), sum
}

func (s *ShardV3) snapshot() actor.Actor {
	return &ShardV3{Ledger: s.clone(), Accounts: maps.Clone(s.Accounts)}
}

// CheckInvariants implements update.Checker: version 2's invariants, and
// counters that are not negative.
func (s *ShardV3) CheckInvariants() error {
	for _, name := range slices.Sorted(maps.Keys(s.Accounts)) {
		if a := s.Accounts[name]; a.Cents < 0 || a.Currency == "" || a.Credits < 0 || a.Debits < 0 {
			return fmt.Errorf("%s: balance %s, currency %q, %d credits, %d debits", name, money(a.Cents), a.Currency, a.Credits, a.Debits)
		}
	}
	return s.check()
}

// Migrations. Every one only reads its input (registry.Pure), builds new
// maps and copies the ledger, pending transfers included.

func up12(old *ShardV1) (*ShardV2, error) {
	next := &ShardV2{Ledger: old.clone(), Accounts: make(map[string]AccountV2, len(old.Units))}
	for name, units := range old.Units {
		next.Accounts[name] = AccountV2{Cents: units * 100, Currency: currency}
	}
	return next, nil
}

// down21 fails unless every amount is whole units of the one currency
// version 1 knows: it would have to round money away.
func down21(old *ShardV2) (*ShardV1, error) {
	next := &ShardV1{Ledger: old.clone(), Units: make(map[string]int64, len(old.Accounts))}
	for _, name := range slices.Sorted(maps.Keys(old.Accounts)) {
		a := old.Accounts[name]
		if a.Cents%100 != 0 || a.Currency != currency {
			return nil, fmt.Errorf("version 1 holds whole %s only, and %s has %s %s", currency, name, money(a.Cents), a.Currency)
		}
		next.Units[name] = a.Cents / 100
	}
	for _, id := range slices.Sorted(maps.Keys(old.Pending)) {
		if p := old.Pending[id]; p.Cents%100 != 0 {
			return nil, fmt.Errorf("version 1 moves whole units only, and pending transfer %d is %s", id, money(p.Cents))
		}
	}
	return next, nil
}

func up23(old *ShardV2) (*ShardV3, error) {
	if old.Armed != "" {
		return nil, errors.New(old.Armed)
	}
	next := &ShardV3{Ledger: old.clone(), Accounts: make(map[string]AccountV3, len(old.Accounts))}
	for name, a := range old.Accounts {
		next.Accounts[name] = AccountV3{Cents: a.Cents, Currency: a.Currency}
	}
	return next, nil
}

// down32 drops the history counters.
func down32(old *ShardV3) (*ShardV2, error) {
	next := &ShardV2{Ledger: old.clone(), Accounts: make(map[string]AccountV2, len(old.Accounts))}
	for name, a := range old.Accounts {
		next.Accounts[name] = AccountV2{Cents: a.Cents, Currency: a.Currency}
	}
	return next, nil
}

// catalog registers the shard's three versions, each accepting every
// message of the bank, and the migrations up 1→2→3 and down 3→2→1.
func catalog() (*registry.Catalog, error) {
	cat := registry.New()
	api := registry.Accepts(messages...)
	// The ledger's drain is the update in progress, empty in a stable
	// state: not state.
	drain := registry.Transient("Ledger.drain")
	return cat, errors.Join(
		registry.Register(cat, "shard", 1, func() *ShardV1 { return &ShardV1{Units: map[string]int64{}} }, api, drain),
		registry.Register(cat, "shard", 2, func() *ShardV2 { return &ShardV2{Accounts: map[string]AccountV2{}} }, api, drain),
		registry.Register(cat, "shard", 3, func() *ShardV3 { return &ShardV3{Accounts: map[string]AccountV3{}} }, api, drain),
		registry.Migrate(cat, "shard", 1, 2, up12, registry.Pure()),
		registry.Migrate(cat, "shard", 2, 1, down21, registry.Pure()),
		registry.Migrate(cat, "shard", 2, 3, up23, registry.Pure()),
		registry.Migrate(cat, "shard", 3, 2, down32, registry.Pure()),
	)
}
