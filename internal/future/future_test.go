package future_test

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/internal/future"
)

// TestIs: a RequestFuture's future is one, an actor is not, whatever its
// name looks like short of protoactor's prefix.
func TestIs(t *testing.T) {
	system := actor.NewActorSystem()
	f := actor.NewFuture(system, time.Second) // only its PID matters: it times out unread
	if !future.Is(f.PID()) {
		t.Errorf("future.Is(%v) = false for a future", f.PID())
	}
	for _, id := range []string{"future", "futures$1", "my-future$1", "$1", ""} {
		if future.Is(actor.NewPID("nonhost", id)) {
			t.Errorf("future.Is(%q) = true, want false", id)
		}
	}
}
