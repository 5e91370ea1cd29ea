package main_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test or benchmark leaves a goroutine behind: each
// one stops its actors and shuts its actor system down.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
