package harness_test

import (
	"testing"

	"github.com/molt-go/molt/internal/leaktest"
)

// TestMain checks that no test leaves a goroutine behind: every fixture
// stops its actors and shuts its actor system down.
func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(m)
}
