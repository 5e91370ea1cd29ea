package storetest_test

import (
	"testing"

	"github.com/molt-go/molt/persist"
	"github.com/molt-go/molt/persist/storetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRunMemory runs the suite on persist.Memory, the store that keeps
// every rule but durability.
func TestRunMemory(t *testing.T) {
	storetest.Run(t, func(*testing.T) persist.Store { return persist.Memory() })
}
