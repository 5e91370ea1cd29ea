package shapes

import (
	"testing"

	"github.com/molt-go/molt/registry"
)

// TestNoWarnings: every unexported field of every shape is either carried
// by a Clone or declared Transient, so no state is dropped silently.
func TestNoWarnings(t *testing.T) {
	cat := newCatalog(t, registerAll...)
	for _, w := range cat.Warnings() {
		t.Errorf("%v", w)
	}
}

// registerAll registers every shape's kinds in one catalogue, which also
// shows that their names and message types do not clash.
var registerAll = []func(*registry.Catalog) error{
	RegisterProfile, RegisterWallet, RegisterTallyShard, RegisterTally,
	func(cat *registry.Catalog) error { return RegisterHeartbeat(cat, SchedulerTicker) },
	func(cat *registry.Catalog) error { return RegisterQuoter(cat, nil) },
	func(cat *registry.Catalog) error { return RegisterJournal(cat, "never opened") },
	RegisterSession, RegisterContact, RegisterQuota,
}
