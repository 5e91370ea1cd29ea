package manifest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/internal/directory"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update/manifest"
)

// Two kinds of a small bank. Version 1 of an account keeps its balance in a
// float, version 2 in cents; version 3 exists but nothing migrates to it.

type LedgerV1 struct{ Entries []string }

func (*LedgerV1) Receive(actor.Context) {}

type LedgerV2 struct {
	Entries []string
	Cents   bool
}

func (*LedgerV2) Receive(actor.Context) {}

type AccountV1 struct{ Balance float64 }

func (*AccountV1) Receive(actor.Context) {}

type AccountV2 struct{ Cents int64 }

func (*AccountV2) Receive(actor.Context) {}

type AccountV3 struct{ Cents int64 }

func (*AccountV3) Receive(actor.Context) {}

// bankCatalog registers ledger 1 and 2 and account 1, 2 and 3, with
// migrations both ways between 1 and 2 (none to or from 3). With oneWay,
// the down migrations are left out.
func bankCatalog(t testing.TB, oneWay bool) *registry.Catalog {
	t.Helper()
	cat := registry.New()
	must(t, registry.Register(cat, "ledger", 1, func() *LedgerV1 { return &LedgerV1{} }))
	must(t, registry.Register(cat, "ledger", 2, func() *LedgerV2 { return &LedgerV2{} }))
	must(t, registry.Register(cat, "account", 1, func() *AccountV1 { return &AccountV1{} }))
	must(t, registry.Register(cat, "account", 2, func() *AccountV2 { return &AccountV2{} }))
	must(t, registry.Register(cat, "account", 3, func() *AccountV3 { return &AccountV3{} }))
	must(t, registry.Migrate(cat, "ledger", 1, 2, func(o *LedgerV1) (*LedgerV2, error) {
		return &LedgerV2{Entries: o.Entries, Cents: true}, nil
	}))
	must(t, registry.Migrate(cat, "account", 1, 2, func(o *AccountV1) (*AccountV2, error) {
		return &AccountV2{Cents: int64(o.Balance * 100)}, nil
	}))
	if !oneWay {
		must(t, registry.Migrate(cat, "ledger", 2, 1, func(o *LedgerV2) (*LedgerV1, error) {
			return &LedgerV1{Entries: o.Entries}, nil
		}))
		must(t, registry.Migrate(cat, "account", 2, 1, func(o *AccountV2) (*AccountV1, error) {
			return &AccountV1{Balance: float64(o.Cents) / 100}, nil
		}))
	}
	return cat
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func pid(name string) *actor.PID { return actor.NewPID("nonhost", name) }

// bankDirectory holds the live actors of the bank: the ledger at version 1,
// accounts 1 to 5 in region eu and 6 in region us at version 1, and account
// 7 in region eu already at version 2.
func bankDirectory() *registry.Directory {
	dir, w := newDirectory()
	w.Add(pid("main-ledger"), "ledger", 1, nil)
	for _, n := range []string{"acct-1", "acct-2", "acct-3", "acct-4", "acct-5"} {
		w.Add(pid(n), "account", 1, map[string]string{"region": "eu"})
	}
	w.Add(pid("acct-6"), "account", 1, map[string]string{"region": "us"})
	w.Add(pid("acct-7"), "account", 2, map[string]string{"region": "eu"})
	return dir
}

// newDirectory returns an empty directory and its write side: these tests
// record live actors by hand, as a node does when they spawn and update.
func newDirectory() (*registry.Directory, directory.Writer) {
	dir := registry.DirectoryOf()
	return dir, directory.WriterOf(dir)
}

func ms(n int) manifest.Duration {
	return manifest.Duration{Duration: time.Duration(n) * time.Millisecond}
}

// bankPackage is testdata/bank.yaml written in Go.
func bankPackage() *manifest.Package {
	return &manifest.Package{
		ID:          "bank-v2",
		Description: "Account balances in cents; the ledger first.",
		Updates: []manifest.KindUpdate{
			{Kind: "ledger", From: []uint32{1}, To: 2, Targets: manifest.Targets{Actors: []string{"main-ledger"}}},
			{Kind: "account", From: []uint32{1}, To: 2, Targets: manifest.Targets{All: true, Labels: map[string]string{"region": "eu"}}},
		},
		Groups:     []manifest.Group{{Name: "pair-a", Members: []string{"acct-1", "acct-2"}}},
		Order:      []manifest.Dependency{{Name: "account", After: []string{"ledger"}}},
		Quiescence: manifest.Quiescence{PerActor: ms(500), Package: ms(60000)},
		Rollout: manifest.Rollout{
			Strategy: "rolling", MaxInFlight: 16, BatchSize: 2, Canaries: 1, Pause: ms(100),
			FailureBudget: 1, OnBudgetExceeded: "rollback",
		},
		Probation: &manifest.Probation{Messages: 100, Duration: ms(30000)},
	}
}

// problemsOf returns the problems of a *ValidationError as "path: message"
// lines, and fails the test if err is not one.
func problemsOf(t *testing.T, err error) []string {
	t.Helper()
	var ve *manifest.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a *manifest.ValidationError, got %T: %v", err, err)
	}
	out := make([]string, len(ve.Problems))
	for i, p := range ve.Problems {
		out[i] = p.String()
	}
	return out
}

// wantProblems checks that got lists exactly the wanted problems, in order:
// each want entry is a path and a part of the message, "path: part".
func wantProblems(t *testing.T, got []string, want ...string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		path, part := cutPath(want[i])
		gp, gm := cutPath(got[i])
		ok = gp == path && strings.Contains(gm, part)
	}
	if !ok {
		t.Errorf("problems:\n\t%s\nwant (path: part of the message):\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// cutPath splits "path: message" or "line N: path: message".
func cutPath(s string) (path, message string) {
	n := 1
	if strings.HasPrefix(s, "line ") {
		n = 2
	}
	parts := strings.SplitN(s, ": ", n+1)
	if len(parts) <= n {
		return s, ""
	}
	return strings.Join(parts[:n], ": "), parts[n]
}
