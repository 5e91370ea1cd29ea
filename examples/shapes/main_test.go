package shapes

import (
	"testing"

	"github.com/molt-go/molt/internal/leaktest"
)

// TestMain fails the package if a shape leaves a goroutine behind: a ticker
// nobody stopped, a connection nobody closed, a node nobody shut down
// (protoactor's own, which end by themselves, aside: see leaktest).
func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }
