package admin

import (
	"testing"

	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
)

// TestHistoryForgetsAnEarlierRunOfTheSamePackage: a package id that runs
// again (rollback-x, halted, then rollback-x again) starts a new record;
// before, the second run added to what the first had moved, and a later
// rollback was planned from both.
func TestHistoryForgetsAnEarlierRunOfTheSamePackage(t *testing.T) {
	h := newHistory(8)
	moved := func(id, actor string, from, to uint32) *manager.Event {
		return &manager.Event{Type: manager.EventType_ACTOR_UPDATED, PackageId: id, Actor: actor, Kind: "k",
			FromVersion: from, ToVersion: to, Outcome: update.Outcome_OUTCOME_COMMITTED}
	}
	event := func(id string, typ manager.EventType) *manager.Event {
		return &manager.Event{Type: typ, PackageId: id}
	}
	// The first run moves a0 down, then halts.
	for _, e := range []*manager.Event{
		event("rb", manager.EventType_PACKAGE_STARTED),
		moved("rb", "a0", 2, 1),
		event("rb", manager.EventType_PACKAGE_DONE),
	} {
		h.record(e)
	}
	// The second run of the same id moves a1 only.
	for _, e := range []*manager.Event{
		event("rb", manager.EventType_PACKAGE_STARTED),
		moved("rb", "a1", 2, 1),
		event("rb", manager.EventType_PACKAGE_DONE),
	} {
		h.record(e)
	}
	if h.last == nil || len(h.last.moved) != 1 {
		t.Fatalf("the last package's moves: %+v; want a1 only", h.last)
	}
	if _, ok := h.last.moved["a1"]; !ok {
		t.Errorf("the last package moved %v; want a1", h.last.moved)
	}
	if len(h.order) != 1 {
		t.Errorf("the history lists %v; want the package once", h.order)
	}
}
