package shapes

import (
	"context"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
)

// patience bounds every wait of these tests: far beyond what a healthy run
// needs, so that a test only fails when something did not happen.
const patience = 10 * time.Second

// newCatalog returns a catalogue with the kinds that register adds, failing
// the test if a registration is refused.
func newCatalog(t *testing.T, register ...func(*registry.Catalog) error) *registry.Catalog {
	t.Helper()
	cat := registry.New()
	for _, r := range register {
		if err := r(cat); err != nil {
			t.Fatalf("registering: %v", err)
		}
	}
	return cat
}

// newNode runs the catalogue's kinds until the test ends.
func newNode(t *testing.T, cat *registry.Catalog) *molt.Node {
	t.Helper()
	node := molt.NewNode(cat)
	t.Cleanup(node.Shutdown)
	return node
}

func spawn(t *testing.T, node *molt.Node, kind string, version uint32) *pa.PID {
	t.Helper()
	pid, err := node.Spawn(kind, version)
	if err != nil {
		t.Fatalf("spawning %s v%d: %v", kind, version, err)
	}
	return pid
}

// ask requests msg from pid and returns the answer.
func ask[R any](t *testing.T, node *molt.Node, pid *pa.PID, msg any) R {
	t.Helper()
	got, err := node.Root().RequestFuture(pid, msg, patience).Result()
	if err != nil {
		t.Fatalf("no answer to %T from %v within %v: %v", msg, pid, patience, err)
	}
	r, ok := got.(R)
	if !ok {
		var want R
		t.Fatalf("%T answered %T %v, want a %T", msg, got, got, want)
	}
	return r
}

// updateTo applies req and checks that it ends as want.
func updateTo(t *testing.T, node *molt.Node, pid *pa.PID, req *update.UpdateActor, want update.Outcome) *update.UpdateResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	res, err := node.Update(ctx, pid, req)
	if err != nil {
		t.Fatalf("update to v%d: %v", req.GetToVersion(), err)
	}
	if res.GetOutcome() != want {
		t.Fatalf("update v%d → v%d: %v in phase %v (%s), want %v",
			res.GetFromVersion(), res.GetToVersion(), res.GetOutcome(), res.GetPhase(), res.GetReason(), want)
	}
	return res
}

// runs checks which version the directory says pid runs.
func runs(t *testing.T, node *molt.Node, pid *pa.PID, want uint32) {
	t.Helper()
	e, ok := node.Directory().Lookup(pid)
	if !ok {
		t.Fatalf("%v is not in the node's directory", pid)
	}
	if e.Version != want {
		t.Fatalf("%v runs %s v%d, want v%d", pid, e.Kind, e.Version, want)
	}
}

// eventually polls cond until it holds, and fails saying what did not
// happen otherwise.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %v", what, patience)
		}
		time.Sleep(time.Millisecond)
	}
}
