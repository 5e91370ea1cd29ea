package shapes

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a shape leaves a goroutine behind: a ticker
// nobody stopped, a connection nobody closed, a node nobody shut down.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
