package manager_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/molt-go/molt/update/manager"
	"github.com/molt-go/molt/update/manifest"
)

const yamlPackage = `
id: by-message
updates:
  - kind: acct
    to: 2
    targets:
      actors: [a, b]
`

// TestRunPackageMessage drives the manager with its protobuf messages, as
// another process would: a dry run answers with the plan and touches
// nothing; a real run is accepted and reported to subscribers.
func TestRunPackageMessage(t *testing.T) {
	node, m := setup(t)
	pids := spawn(t, node, "acct", "a", "b")
	sub := newSubscriber(t, node, m)

	v := ask(t, node, m.PID(), &manager.RunPackage{Format: "yaml", Document: []byte(yamlPackage), DryRun: true})
	acc, ok := v.(*manager.PackageAccepted)
	if !ok || !acc.GetDryRun() || acc.GetActors() != 2 || !strings.Contains(acc.GetPlan(), "by-message") {
		t.Fatalf("dry run: %v", v)
	}
	for _, pid := range pids {
		if versionOf(t, node, pid) != 1 {
			t.Fatal("a dry run changed an actor")
		}
	}

	v = ask(t, node, m.PID(), &manager.RunPackage{Format: "yaml", Document: []byte(yamlPackage)})
	if acc, ok := v.(*manager.PackageAccepted); !ok || acc.GetDryRun() {
		t.Fatalf("run: %v", v)
	}
	done := sub.next(t, manager.EventType_PACKAGE_DONE)
	if done.GetPackageId() != "by-message" || done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED || done.GetUpdated() != 2 {
		t.Fatalf("PACKAGE_DONE: %v", done)
	}
}

// TestRunPackageMessageReportsEveryProblem: a package with several errors
// is refused with all of them, each with its field path.
func TestRunPackageMessageReportsEveryProblem(t *testing.T) {
	node, m := setup(t)
	bad := `{"id": "", "updates": [{"kind": "acct", "to": 0, "targets": {}}], "rollout": {"strategy": "fast"}}`
	v := ask(t, node, m.PID(), &manager.RunPackage{Format: "json", Document: []byte(bad)})
	ref, ok := v.(*manager.PackageRefused)
	if !ok {
		t.Fatalf("got %v, want PackageRefused", v)
	}
	all := strings.Join(ref.GetProblems(), "\n")
	for _, path := range []string{"id:", "updates[0].to:", "updates[0].targets:", "rollout.strategy:"} {
		if !strings.Contains(all, path) {
			t.Errorf("the problems do not name %s:\n%s", path, all)
		}
	}
}

// TestBusyKindAndCancel: a second package for a kind being updated is
// refused; Cancel stops the first, whose end says so.
func TestBusyKindAndCancel(t *testing.T) {
	node, m := setup(t)
	spawn(t, node, "acct", "slow", "x1", "x2", "x3")
	ask(t, node, node.Directory().List("acct")[0].PID, &arm{Fail: "never-stable"})
	first := &manifest.Package{
		ID:         "first",
		Updates:    []manifest.KindUpdate{{Kind: "acct", To: 2, Targets: manifest.Targets{All: true}}},
		Quiescence: manifest.Quiescence{PerActor: manifest.Duration{Duration: 2 * time.Second}},
		Rollout:    manifest.Rollout{Strategy: manifest.StrategyRolling, BatchSize: 1, FailureBudget: 10},
	}
	sub := newSubscriber(t, node, m)
	finished := make(chan *manager.Event, 1)
	go func() {
		ev, err := m.Run(context.Background(), first, nil)
		if err != nil {
			t.Errorf("run first: %v", err)
		}
		finished <- ev
	}()
	sub.next(t, manager.EventType_PACKAGE_STARTED)

	second := &manifest.Package{ID: "second", Updates: []manifest.KindUpdate{{Kind: "acct", To: 2, Targets: manifest.Targets{All: true}}}}
	if _, err := m.Run(context.Background(), second, nil); !errors.Is(err, manager.ErrBusy) || !strings.Contains(err.Error(), `package "first"`) {
		t.Fatalf("second package: %v, want ErrBusy naming the first", err)
	}
	must(t, m.Cancel(context.Background(), "first"))
	select {
	case ev := <-finished:
		if ev.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_CANCELLED {
			t.Fatalf("first: %v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled package did not end within 10s")
	}
	if err := m.Cancel(context.Background(), "first"); err == nil {
		t.Error("cancelling a package that is over succeeded")
	}
}

// TestSubscribeRefusesAFuture: a Subscribe whose subscriber would be a
// future (sent with RequestFuture naming no subscriber) is refused, saying
// to name an actor: a future takes one answer, and the events sent to it
// afterwards would overwrite that answer while its owner reads it.
func TestSubscribeRefusesAFuture(t *testing.T) {
	node, m := setup(t)
	v, err := node.Root().RequestFuture(m.PID(), &manager.Subscribe{}, 10*time.Second).Result()
	if err != nil {
		t.Fatalf("no answer to a Subscribe within 10s: %v", err)
	}
	r, ok := v.(*manager.PackageRefused)
	if !ok || !strings.Contains(r.GetReason(), "future") || !strings.Contains(r.GetReason(), "name the actor") {
		t.Fatalf("a Subscribe from a future: %T %v; want PackageRefused saying it is a future and to name an actor", v, v)
	}
}
