package manager_test

import (
	"strings"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/update/manager"
	"google.golang.org/protobuf/proto"
)

// TestRequestsFromAnotherProcessAreAuthorized: a request whose header
// carries an origin (what the node's remote writes on every message from
// another process) goes through the node's access control, which here,
// with no remote configured, refuses it: the package does not run, and
// the refusal is the answer.
func TestRequestsFromAnotherProcessAreAuthorized(t *testing.T) {
	node, m := setup(t)
	pids := spawn(t, node, "acct", "a", "b")
	remote := map[string]string{"molt-origin-address": "192.0.2.1:4000", "molt-origin-credential": "token"}
	for _, req := range []proto.Message{
		&manager.RunPackage{Format: "yaml", Document: []byte(yamlPackage)},
		&manager.CancelPackage{PackageId: "by-message"},
		&manager.Subscribe{},
	} {
		f := pa.NewFuture(node.System(), 10*time.Second)
		node.Root().Send(m.PID(), &pa.MessageEnvelope{Header: remote, Message: req, Sender: f.PID()})
		v, err := f.Result()
		if err != nil {
			t.Fatalf("no answer to %T from another process within 10s: %v", req, err)
		}
		if ref, ok := v.(*manager.PackageRefused); !ok || !strings.Contains(ref.GetReason(), "refused") {
			t.Errorf("%T from another process: %v; want PackageRefused saying it was refused", req, v)
		}
	}
	for _, pid := range pids {
		if v := versionOf(t, node, pid); v != 1 {
			t.Errorf("%s runs version %d after a refused package, want 1", pid.Id, v)
		}
	}
	// The same package sent in process is accepted.
	if v := ask(t, node, m.PID(), &manager.RunPackage{Format: "yaml", Document: []byte(yamlPackage), DryRun: true}); !isAccepted(v) {
		t.Errorf("a dry run sent in process: %v; want it accepted", v)
	}
}

func isAccepted(v any) bool { _, ok := v.(*manager.PackageAccepted); return ok }
