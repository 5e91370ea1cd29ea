package main_test

import (
	"testing"

	"github.com/molt-go/molt/internal/leaktest"
)

// TestMain checks that no test or benchmark leaves a goroutine behind: each
// one stops its actors and shuts its actor system down.
func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(m)
}
