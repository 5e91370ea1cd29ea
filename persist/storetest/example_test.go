package storetest_test

import (
	"fmt"
	"testing"

	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/persist"
	"github.com/molt-go/molt/persist/storetest"
)

// A store's tests run the suite against fresh, empty stores. (Run needs
// the *testing.T of a test, so this example is compiled, not run.)
func ExampleRun() {
	var t *testing.T // the test's
	storetest.Run(t, func(t *testing.T) persist.Store {
		return persist.Memory()
	})
}

// Snapshot makes envelopes whose every part depends on the name and the
// sequence, so that CheckSnapshot tells a whole one from a torn one.
func ExampleCheckSnapshot() {
	snap := storetest.Snapshot("actor-1", 3, 64)
	fmt.Println(storetest.CheckSnapshot(snap, "actor-1"))
	snap.State[40] ^= 1
	snap.Checksum = envelope.Checksum(snap.State) // a whole envelope, of a mixed state
	fmt.Println(storetest.CheckSnapshot(snap, "actor-1"))
	// Output:
	// <nil>
	// snapshot of "actor-1" at sequence 3: the state is not the one of that sequence
}
