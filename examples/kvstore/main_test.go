package main

import (
	"testing"

	"github.com/molt-go/molt/internal/leaktest"
)

// TestMain fails the package if a test leaves a goroutine behind: a node,
// an HTTP server or a client connection nobody closed, a child process
// nobody waited for.
func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(m)
}
