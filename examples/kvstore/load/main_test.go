package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a run leaves a goroutine behind, such as
// a kept-alive client connection.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
