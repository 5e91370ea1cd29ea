package persist_test

import (
	"testing"

	"github.com/molt-go/molt/persist"
	"github.com/molt-go/molt/persist/storetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMemory(t *testing.T) {
	storetest.Run(t, func(*testing.T) persist.Store { return persist.Memory() })
}
