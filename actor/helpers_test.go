package actor_test

import (
	"errors"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
)

// flush is what a draining behaviour sends itself; it is admitted while
// held.
type flush struct{}

// ping asks a behaviour for an answer, to pace senders by it.
type ping struct{}

var errArmed = errors.New("armed to fail")

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func request(t testing.TB, node *molt.Node, pid *pa.PID, msg any) any {
	t.Helper()
	v, err := node.Root().RequestFuture(pid, msg, 10*time.Second).Result()
	if err != nil {
		t.Fatalf("no answer from %v to %T within 10s: %v", pid, msg, err)
	}
	return v
}
