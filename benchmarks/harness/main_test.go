package harness_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: every fixture
// stops its actors and shuts its actor system down.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
