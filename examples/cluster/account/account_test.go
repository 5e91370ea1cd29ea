package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/examples/cluster/account"
	"github.com/molt-go/molt/internal/leaktest"
	"github.com/molt-go/molt/persist"
	"github.com/molt-go/molt/persist/etcdstore"
	"github.com/molt-go/molt/persist/etcdstore/etcdtest"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/registry/registrytest"
	clientv3 "go.etcd.io/etcd/client/v3"
	"pgregory.net/rapid"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func catalog(t *testing.T, next bool) *registry.Catalog {
	t.Helper()
	cat := registry.New()
	if err := account.Register(cat, next); err != nil {
		t.Fatal(err)
	}
	return cat
}

// TestCatalog checks the kind's codecs and migrations with generated
// states: version 1's balance converts to cents and back without loss
// unless it does not fit (refused), and a balance with cents, or of
// another currency, has no version 1 (refused).
func TestCatalog(t *testing.T) {
	// Version 2 states a version 1 wrote, and later deposits: whole
	// euros, now and then with cents.
	v2 := rapid.Custom(func(t *rapid.T) *account.AccountV2 {
		cents := rapid.Int64Range(-1e12, 1e12).Draw(t, "units") * 100
		if rapid.IntRange(0, 9).Draw(t, "with cents") == 0 {
			cents += rapid.Int64Range(1, 99).Draw(t, "cents")
		}
		return &account.AccountV2{
			Balance:  account.Money{Cents: cents, Currency: account.Currency},
			Deposits: rapid.Uint64().Draw(t, "deposits"),
			LastSeq:  rapid.MapOf(rapid.String(), rapid.Uint64()).Draw(t, "last"),
		}
	})
	registrytest.Check(t, catalog(t, true), account.Kind, registrytest.States(2, v2),
		registrytest.MayRefuse(1, 2), registrytest.MayRefuse(2, 1), registrytest.Lossless(1, 2))
}

func TestMigration(t *testing.T) {
	cat := catalog(t, true)
	v1 := &account.AccountV1{Balance: 42, Deposits: 3, Seen: map[string]uint64{"w0": 7}}
	e, err := cat.Seal(account.Kind, 1, v1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cat.Open(e, 2)
	if err != nil {
		t.Fatal(err)
	}
	v2 := s.(*account.AccountV2)
	if v2.Balance != (account.Money{Cents: 4200, Currency: account.Currency}) || v2.Deposits != 3 || v2.LastSeq["w0"] != 7 {
		t.Errorf("version 1 %+v migrated to %+v", v1, v2)
	}
	// The current release cannot read what the next one wrote.
	e2, err := cat.Seal(account.Kind, 2, v2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := catalog(t, false).Open(e2, 1); !errors.Is(err, registry.ErrUnknownVersion) {
		t.Errorf("the current release opened a version 2 snapshot: %v, want ErrUnknownVersion", err)
	}
}

func ask(t *testing.T, node *molt.Node, pid *pa.PID, msg any) any {
	t.Helper()
	res, err := node.Root().RequestFuture(pid, msg, 10*time.Second).Result()
	if err != nil {
		t.Fatalf("%T to %v: %v", msg, pid, err)
	}
	return res
}

// TestExactlyOnce: a deposit sent again (a client's retry) is
// acknowledged as a duplicate and not applied again, also after the
// account was stopped and loaded from its snapshot.
func TestExactlyOnce(t *testing.T) {
	store := persist.Memory()
	node := molt.NewNode(catalog(t, false), molt.WithStore(store))
	defer node.Shutdown()
	spawn := func() *pa.PID {
		pid, err := node.Spawn(account.Kind, 1, molt.WithName("acct"), molt.Persistent())
		if err != nil {
			t.Fatal(err)
		}
		return pid
	}
	pid := spawn()
	d := ask(t, node, pid, &account.Deposit{Client: "c", Seq: 1, Amount: 10}).(*account.Deposited)
	if d.GetBalance() != 10 || d.GetDuplicate() {
		t.Fatalf("first deposit: %v", d)
	}
	d = ask(t, node, pid, &account.Deposit{Client: "c", Seq: 1, Amount: 10}).(*account.Deposited)
	if d.GetBalance() != 10 || !d.GetDuplicate() {
		t.Fatalf("the same deposit again: %v, want a duplicate, balance 10", d)
	}
	if err := node.Root().StopFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	pid = spawn()
	d = ask(t, node, pid, &account.Deposit{Client: "c", Seq: 1, Amount: 10}).(*account.Deposited)
	if d.GetBalance() != 10 || !d.GetDuplicate() {
		t.Fatalf("the same deposit after a reload: %v, want a duplicate, balance 10", d)
	}
	d = ask(t, node, pid, &account.Deposit{Client: "c", Seq: 2, Amount: 5}).(*account.Deposited)
	if d.GetBalance() != 15 || d.GetDuplicate() {
		t.Fatalf("the next deposit: %v, want balance 15", d)
	}
	st := ask(t, node, pid, &account.Audit{}).(*account.Statement)
	if st.GetBalance() != 15 || st.GetDeposits() != 2 || st.GetVersion() != 1 {
		t.Errorf("statement %v, want 15 in 2 deposits at version 1", st)
	}
}

// TestTwoActivations: one account active on two nodes at once (as while
// a grain's owner changes), both loaded from the same snapshot, on a
// fenced etcd store. The first to persist wins; the other answers
// Refused, applies nothing and stops, and the account activated again
// there holds every acknowledged deposit.
func TestTwoActivations(t *testing.T) {
	e := etcdtest.Start(t)
	open := func() *molt.Node {
		s, err := etcdstore.Open(clientv3.Config{Endpoints: []string{e.Endpoint}, DialTimeout: 5 * time.Second}, etcdstore.Fenced())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		node := molt.NewNode(catalog(t, true), molt.WithStore(s))
		t.Cleanup(node.Shutdown)
		return node
	}
	a, b := open(), open()
	spawn := func(node *molt.Node, version uint32) *pa.PID {
		pid, err := node.Spawn(account.Kind, version, molt.WithName("acct"), molt.Persistent())
		if err != nil {
			t.Fatal(err)
		}
		return pid
	}
	onA := spawn(a, 1)
	ask(t, a, onA, &account.Deposit{Client: "x", Seq: 1, Amount: 100})
	onB := spawn(b, 2) // loads sequence 1, migrated to version 2
	if d := ask(t, a, onA, &account.Deposit{Client: "x", Seq: 2, Amount: 20}).(*account.Deposited); d.GetBalance() != 120 {
		t.Fatalf("second deposit on the first activation: %v", d)
	}
	// The second activation's state misses that deposit: its write of
	// the same next sequence is refused.
	r, refused := ask(t, b, onB, &account.Deposit{Client: "y", Seq: 1, Amount: 3}).(*account.Refused)
	if !refused || !strings.Contains(r.GetReason(), "older than the stored one") {
		t.Fatalf("deposit on the stale activation answered %v, want Refused as stale", r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for len(b.Directory().List(account.Kind)) > 0 { // it stops by itself
		if ctx.Err() != nil {
			t.Fatal("the refused activation did not stop within 10s")
		}
		time.Sleep(10 * time.Millisecond) // polling the directory
	}
	onB = spawn(b, 2)
	d := ask(t, b, onB, &account.Deposit{Client: "y", Seq: 1, Amount: 3}).(*account.Deposited)
	if d.GetBalance() != 123 || d.GetVersion() != 2 || d.GetDuplicate() {
		t.Errorf("the deposit sent again to the account activated again: %v, want balance 123 at version 2", d)
	}
}
