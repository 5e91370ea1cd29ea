package manifest_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/molt-go/molt/update/manifest"
)

// The dry run of the example package (docs/update-packages.md shows it).
const bankDryRun = `package bank-v2: Account balances in cents; the ledger first.
rollout: rolling, 1 canary, batches of 2 units, at most 16 in flight, pause 100ms, failure budget 1 then rollback
quiescence: 500ms per actor, 1m for the package
probation: 100 messages or 30s after commit, whichever ends first
step 1 of 2: ledger
  batch 1 of 1 (canary): 1 unit
    main-ledger ledger 1→2
step 2 of 2: account
  batch 1 of 3 (canary): 1 unit
    acct-3 account 1→2
  batch 2 of 3: 2 units
    acct-4 account 1→2
    acct-5 account 1→2
  batch 3 of 3: 1 unit
    group pair-a
      acct-1 account 1→2
      acct-2 account 1→2
skipped:
  acct-7 account 2: already at the target version
total: 2 steps, 4 batches, 5 units, 6 actors, 1 skipped
`

func TestFormatBank(t *testing.T) {
	p, err := manifest.LoadFile("testdata/bank.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plan := build(t, p, bankCatalog(t, false), bankDirectory())
	if got := plan.String(); got != bankDryRun {
		t.Errorf("dry run:\n%s\nwant:\n%s", got, bankDryRun)
	}
	var b strings.Builder
	n, err := plan.WriteTo(&b)
	if err != nil || b.String() != bankDryRun || n != int64(len(bankDryRun)) {
		t.Errorf("WriteTo wrote %d bytes, %v:\n%s", n, err, b.String())
	}
	b.Reset()
	if err := plan.Format(&b); err != nil || b.String() != bankDryRun {
		t.Errorf("Format wrote %v:\n%s", err, b.String())
	}
}

// Defaults, no probation, a downgrade, and nothing left to do.
func TestFormatDefaultsAndNothingToDo(t *testing.T) {
	cat := plainCatalog(t, "k")
	dir, w := newDirectory()
	w.Add(pid("k-1"), "k", 2, nil)
	p := &manifest.Package{ID: "down", Updates: []manifest.KindUpdate{{Kind: "k", To: 1, Targets: manifest.Targets{All: true}}},
		Probation: &manifest.Probation{Duration: ms(5000)}}
	want := `package down
rollout: all at once, at most 64 in flight, failure budget 0 then halt
quiescence: 2s per actor, no bound for the package
probation: 5s after commit
step 1 of 1: k
  batch 1 of 1: 1 unit
    k-1 k 2→1
total: 1 step, 1 batch, 1 unit, 1 actor, 0 skipped
`
	if got := build(t, p, cat, dir).String(); got != want {
		t.Errorf("downgrade:\n%s\nwant:\n%s", got, want)
	}

	p.Updates[0].To = 2
	p.Probation = nil
	p.Description = "  two\n lines "
	want = `package down: two lines
rollout: all at once, at most 64 in flight, failure budget 0 then halt
quiescence: 2s per actor, no bound for the package
probation: none
nothing to update
skipped:
  k-1 k 2: already at the target version
total: 0 steps, 0 batches, 0 units, 0 actors, 1 skipped
`
	if got := build(t, p, cat, dir).String(); got != want {
		t.Errorf("nothing to do:\n%s\nwant:\n%s", got, want)
	}
}

// docs/update-packages.md shows the example package and its dry run as
// they are.
func TestDocsShowTheExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/update-packages.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("testdata/bank.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```yaml\n"+string(example)+"```\n") {
		t.Error("docs/update-packages.md does not show testdata/bank.yaml as it is")
	}
	if !strings.Contains(string(doc), "```text\n"+bankDryRun+"```\n") {
		t.Error("docs/update-packages.md does not show the dry run of the example as it is")
	}
	// The JSON shown is the same package.
	_, rest, _ := strings.Cut(string(doc), "```json\n")
	shown, _, _ := strings.Cut(rest, "```")
	p, err := manifest.Load(strings.NewReader(shown), manifest.FormatJSON)
	if err != nil || !reflect.DeepEqual(p, bankPackage()) {
		t.Errorf("the JSON on the page: %+v, %v", p, err)
	}
}
