package actor_test

import (
	"testing"

	"github.com/molt-go/molt/internal/leaktest"
)

func TestMain(m *testing.M) {
	leaktest.VerifyTestMain(m)
}
