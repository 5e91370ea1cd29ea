package manager_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks for leaked goroutines, except protoactor's dead-letter
// throttle: a dead letter near the end of a test (a reply to a requester
// that is gone) starts a goroutine that waits out the throttle interval,
// a second, and then ends by itself.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"))
}
