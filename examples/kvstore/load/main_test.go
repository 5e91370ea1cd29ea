package main

import (
	"testing"

	"github.com/molt-go/molt/internal/leaktest"
)

// TestMain fails the package if a run leaves a goroutine behind, such as
// a kept-alive client connection.
func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(m)
}
