package manifest_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/molt-go/molt/update/manifest"
)

// The summary of the example package: the same settings as the dry run,
// then per step its batches, units and actors, the counts per kind and
// version, the groups and the actors in the order they are updated.
const bankSummary = `package bank-v2: Account balances in cents; the ledger first.
rollout: rolling, 1 canary, batches of 2 units, at most 16 in flight, pause 100ms, failure budget 1 then rollback
quiescence: 500ms per actor, 1m for the package
probation: 100 messages or 30s after commit, whichever ends first
step 1 of 2: ledger: 1 batch (1 canary), 1 unit, 1 actor
  ledger 1→2: 1 actor
  actors: main-ledger
step 2 of 2: account: 3 batches (1 canary), 4 units, 5 actors
  account 1→2: 5 actors
  groups: 1 (pair-a: 2 members)
  actors: acct-3, acct-4, acct-5, acct-1, acct-2
skipped: 1
  already at the target version: 1 (acct-7)
total: 2 steps, 4 batches, 5 units, 6 actors, 1 skipped
`

func TestSummaryBank(t *testing.T) {
	p, err := manifest.LoadFile("testdata/bank.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plan := build(t, p, bankCatalog(t, false), bankDirectory())
	var b strings.Builder
	if err := plan.Summary(&b); err != nil {
		t.Fatal(err)
	}
	if b.String() != bankSummary {
		t.Errorf("summary:\n%s\nwant:\n%s", b.String(), bankSummary)
	}
	doc, err := os.ReadFile("../../docs/update-packages.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```text\n"+bankSummary+"```\n") {
		t.Error("docs/update-packages.md does not show the summary of the example as it is")
	}
}

// A fleet of 1,000 actors, 12 of them in 6 groups, and 40 skipped,
// summarises in a few lines, whatever its size: the first few actors,
// groups and skipped of each kind, and how many more.
func TestSummaryOfAFleet(t *testing.T) {
	cat := plainCatalog(t, "k", "j")
	dir, w := newDirectory()
	for i := range 1000 {
		w.Add(pid(fmt.Sprintf("k%04d", i)), "k", 1, nil)
	}
	for i := range 40 {
		w.Add(pid(fmt.Sprintf("done%02d", i)), "k", 2, nil)
	}
	w.Add(pid("j-down"), "j", 2, nil)
	var groups []manifest.Group
	for g := range 6 {
		groups = append(groups, manifest.Group{Name: fmt.Sprintf("g%d", g), Members: []string{fmt.Sprintf("k%04d", 2*g), fmt.Sprintf("k%04d", 2*g+1)}})
	}
	p := &manifest.Package{
		ID: "fleet",
		Updates: []manifest.KindUpdate{
			{Kind: "k", To: 2, Targets: manifest.Targets{All: true}},
			{Kind: "j", To: 1, Targets: manifest.Targets{All: true}},
		},
		Groups:  groups,
		Rollout: manifest.Rollout{Strategy: manifest.StrategyRolling, BatchSize: 100, Canaries: 2},
	}
	plan := build(t, p, cat, dir)
	var b strings.Builder
	if err := plan.Summary(&b); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	want := `package fleet
rollout: rolling, 2 canaries, batches of 100 units, at most 64 in flight, no pause, failure budget 0 then halt
quiescence: 2s per actor, no bound for the package
probation: none
step 1 of 1: j, k: 12 batches (2 canaries), 995 units, 1001 actors
  j 2→1: 1 actor
  k 1→2: 1000 actors
  groups: 6 (g0: 2 members, g1: 2 members, g2: 2 members, g3: 2 members, g4: 2 members ... and 1 more)
  actors: k0000, k0001, k0002, k0003, k0004 ... and 996 more
skipped: 40
  already at the target version: 40 (done00, done01, done02, done03, done04 ... and 35 more)
total: 1 step, 12 batches, 995 units, 1001 actors, 40 skipped
`
	if got != want {
		t.Errorf("summary of a fleet:\n%s\nwant:\n%s", got, want)
	}
	if full := plan.String(); strings.Count(full, "\n") < 1000 {
		t.Fatalf("the full dry run has %d lines; the test needs it to list every actor", strings.Count(full, "\n"))
	}
}
