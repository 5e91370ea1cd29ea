package cluster

import (
	"fmt"
	"testing"
	"time"

	pc "github.com/asynkron/protoactor-go/cluster"
)

func TestVersionKindNames(t *testing.T) {
	for _, c := range []struct {
		name string
		kind string
		v    uint32
		ok   bool
	}{
		{VersionKind("counter", 3), "counter", 3, true},
		{VersionKind("a.molt-v2.b", 12), "a.molt-v2.b", 12, true},
		{"counter", "", 0, false},
		{"counter.molt-v", "", 0, false},
		{"counter.molt-v0", "", 0, false},
		{"counter.molt-vx", "", 0, false},
		{".molt-v3", "", 0, false},
		{"counter.molt-v99999999999", "", 0, false},
	} {
		kind, v, ok := ParseVersionKind(c.name)
		if kind != c.kind || v != c.v || ok != c.ok {
			t.Errorf("ParseVersionKind(%q) = %q %d %v, want %q %d %v", c.name, kind, v, ok, c.kind, c.v, c.ok)
		}
	}
}

func testMember(id string, kind string, versions ...uint32) *pc.Member {
	kinds := []string{kind}
	for _, v := range versions {
		kinds = append(kinds, VersionKind(kind, v))
	}
	return &pc.Member{Id: id, Host: "127.0.0.1", Port: int32(len(id) * 1000), Kinds: kinds}
}

func addresses(ms []*pc.Member) map[string]bool {
	out := map[string]bool{}
	for _, m := range ms {
		out[m.Address()] = true
	}
	return out
}

// TestPlacementByVersion: a grain whose kind is at version 3 is never
// placed on a member that cannot run 3; before any target is set, a kind
// runs the newest version every member runs.
func TestPlacementByVersion(t *testing.T) {
	a := testMember("a", "counter", 1, 2)
	b := testMember("bb", "counter", 1, 2, 3)
	c := testMember("ccc", "counter", 2, 3)
	tb := newTable(Adapt)
	tb.setMembers([]*pc.Member{a, b, c})

	if v, ok := tb.current("counter"); !ok || v != 2 {
		t.Fatalf("default version %d %v, want 2 (the newest all three run)", v, ok)
	}
	if got := addresses(tb.eligible("counter")); len(got) != 3 {
		t.Fatalf("at version 2 every member is eligible, got %v", got)
	}
	if !tb.learn("counter", Target{Version: 3, Epoch: 10}) {
		t.Fatal("a first target is not learned")
	}
	if v, _ := tb.current("counter"); v != 3 {
		t.Fatalf("version after the target 3: %d", v)
	}
	if got := addresses(tb.eligible("counter")); got[a.Address()] || len(got) != 2 {
		t.Fatalf("at version 3 only b and c are eligible, got %v", got)
	}
	owners := map[string]int{}
	for i := range 1000 {
		owners[tb.owner(pc.NewClusterIdentity(fmt.Sprint("g", i), "counter"))]++
	}
	if owners[a.Address()] != 0 || owners[b.Address()] == 0 || owners[c.Address()] == 0 {
		t.Fatalf("owners of 1000 grains at version 3: %v (a cannot run 3)", owners)
	}

	// The latest setting wins, an older one is ignored.
	if tb.learn("counter", Target{Version: 1, Epoch: 9}) {
		t.Fatal("an older target replaced a newer one")
	}
	tb.learn("counter", Target{Version: 1, Epoch: 11})
	if got := addresses(tb.eligible("counter")); len(got) != 2 || got[c.Address()] {
		t.Fatalf("at version 1 only a and b are eligible, got %v", got)
	}
	// A version nobody runs: no owner, calls wait (and retry) until one
	// joins.
	tb.learn("counter", Target{Version: 4, Epoch: 12})
	if o := tb.owner(pc.NewClusterIdentity("g", "counter")); o != "" {
		t.Fatalf("owner at a version nobody runs: %q", o)
	}

	// A kind that is not molt's (no version kinds) is placed by its name.
	topic := &pc.Member{Id: "t", Host: "127.0.0.1", Port: 9, Kinds: []string{"prototopic"}}
	tb.setMembers([]*pc.Member{a, topic})
	if got := addresses(tb.eligible("prototopic")); len(got) != 1 || !got[topic.Address()] {
		t.Fatalf("a plain kind's eligible members: %v", got)
	}
}

// TestPolicies: under Adapt the kind goes to its target at once (older
// callers reach it through adapters); under Wait it stays at the newest
// version every hosting member speaks until the last older member leaves.
func TestPolicies(t *testing.T) {
	old := testMember("old", "counter", 1, 2)
	next := testMember("next", "counter", 1, 2, 3)
	for _, c := range []struct {
		policy      Policy
		with, after uint32
	}{
		{Adapt, 3, 3},
		{Wait, 2, 3},
	} {
		tb := newTable(c.policy)
		tb.setMembers([]*pc.Member{old, next})
		tb.learn("counter", Target{Version: 3, Epoch: 1})
		if v, _ := tb.current("counter"); v != c.with {
			t.Errorf("%v with a member that speaks 2: version %d, want %d", c.policy, v, c.with)
		}
		tb.setMembers([]*pc.Member{next})
		if v, _ := tb.current("counter"); v != c.after {
			t.Errorf("%v once it left: version %d, want %d", c.policy, v, c.after)
		}
	}
	if Adapt.String() != "adapt" || Wait.String() != "wait" {
		t.Error("policy names")
	}
}

// TestLeavingMember: a member that leaves owns no grain (its grains go to
// the owners the others would have without it, and the grains of the
// others stay where they are: rendezvous hashing), the kind's version is
// computed without it (the last member on an older binary leaving lets
// the kind move on), and the owners follow each change, cached or not.
func TestLeavingMember(t *testing.T) {
	old := testMember("old", "counter", 1, 2)
	a := testMember("aa", "counter", 2, 3)
	b := testMember("bbb", "counter", 2, 3)
	tb := newTable(Adapt)
	tb.setMembers([]*pc.Member{old, a, b})
	if v, _ := tb.current("counter"); v != 2 {
		t.Fatalf("default version with the old member: %d, want 2", v)
	}
	before := map[string]string{}
	for i := range 1000 {
		id := fmt.Sprint("g", i)
		before[id] = tb.owner(pc.NewClusterIdentity(id, "counter"))
	}
	if tb.settled(time.Hour) {
		t.Fatal("a table whose topology just changed says owners have not changed for an hour")
	}
	if !tb.leave(old.Address()) || tb.leave(old.Address()) {
		t.Fatal("leave reports a first leave, and only the first")
	}
	if !tb.isLeaving(old.Address()) {
		t.Fatal("the member is not leaving")
	}
	if v, _ := tb.current("counter"); v != 3 {
		t.Fatalf("version once the old member leaves: %d, want 3 (the newest the others share)", v)
	}
	for id, was := range before {
		now := tb.owner(pc.NewClusterIdentity(id, "counter"))
		if now == old.Address() {
			t.Fatalf("%s is owned by the leaving member", id)
		}
		if was != old.Address() && now != was {
			t.Fatalf("%s moved from %s to %s though its owner stays", id, was, now)
		}
	}
	if hosts := tb.hosts("counter", a.Address()); len(hosts) != 2 {
		t.Fatalf("members that may hold a grain, seen from aa: %v; the leaving one is among them", hosts)
	}
	// Gone from the topology: forgotten as leaving; owners follow.
	tb.setMembers([]*pc.Member{a})
	if tb.isLeaving(old.Address()) || tb.present(old.Address()) {
		t.Fatal("a member gone from the topology is still known")
	}
	if o := tb.owner(pc.NewClusterIdentity("g1", "counter")); o != a.Address() {
		t.Fatalf("owner with one member left: %s", o)
	}
}
