package main

import (
	"strings"
	"testing"

	"github.com/molt-go/molt/internal/leaktest"
)

func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(m)
}

// TestRun runs the demo: every update ends as planned, the aborted one leaves
// the counter's state exactly as it was, and the final count equals the
// number of increments the clients sent.
func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run(&out); err != nil {
		t.Fatalf("the demo failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"COMMITTED", "ABORTED in phase state transfer: still runs v3", "REJECTED in phase initialization",
		"state identical: true", "OK: every increment counted exactly once",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report does not say %q:\n%s", want, out.String())
		}
	}
}
