package shapes

import (
	"slices"
	"testing"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry/registrytest"
	"github.com/molt-go/molt/update"
	"pgregory.net/rapid"
)

func TestTallyMigrations(t *testing.T) {
	cat := newCatalog(t, RegisterTallyShard, RegisterTally)
	registrytest.Check(t, cat, "tally",
		// A running version 2 has its shards and no seed left; the
		// migration from version 1 makes the other kind of state, which
		// only VersionChanged turns into this one.
		registrytest.States(2, rapid.Custom(func(t *rapid.T) *TallyV2 {
			v := &TallyV2{}
			for i := range NumShards {
				v.Shards = append(v.Shards, pa.NewPID("nonhost", rapid.StringMatching(`[a-z]{1,8}`).Draw(t, "id")+string(rune('0'+i))))
			}
			return v
		})),
		// 1→3 runs 1→2 then 2→3 without version 2 ever running, so no
		// VersionChanged spawns the shards: version 3's invariant refuses
		// the result, and TestSplitIntoChildrenSkipped shows the update
		// abort.
		registrytest.Except("the chain skips version 2's VersionChanged, which spawns the shards",
			"chain/1-3"),
	)
	registrytest.Check(t, cat, "tally-shard")
}

func countOf(t *testing.T, node *molt.Node, pid *pa.PID, key string) int64 {
	t.Helper()
	return ask[*Counted](t, node, pid, &GetCount{Key: key}).N
}

// TestSplitIntoChildren: the counts of version 1 move into the children
// version 2 spawns; a later update of the parent, up then down, keeps the
// same children and their counts.
func TestSplitIntoChildren(t *testing.T) {
	node := newNode(t, newCatalog(t, RegisterTallyShard, RegisterTally))
	pid := spawn(t, node, "tally", 1)
	for _, k := range []string{"a", "a", "b", "a", "c"} {
		node.Root().Send(pid, &Count{Key: k})
	}
	if n := countOf(t, node, pid, "a"); n != 3 {
		t.Fatalf("version 1 counted a %d times, want 3", n)
	}

	updateTo(t, node, pid, &update.UpdateActor{ToVersion: 2}, update.Outcome_OUTCOME_COMMITTED)
	node.Root().Send(pid, &Count{Key: "b"})
	for key, want := range map[string]int64{"a": 3, "b": 2, "c": 1, "d": 0} {
		if n := countOf(t, node, pid, key); n != want {
			t.Fatalf("after the split, %s counts %d, want %d", key, n, want)
		}
	}
	shards := ask[*Shards](t, node, pid, &GetShards{}).PIDs
	if len(shards) != NumShards || len(node.Directory().List("tally-shard")) != NumShards {
		t.Fatalf("version 2 has %d shards and the node %d, want %d", len(shards), len(node.Directory().List("tally-shard")), NumShards)
	}

	for _, to := range []uint32{3, 2} {
		updateTo(t, node, pid, &update.UpdateActor{ToVersion: to}, update.Outcome_OUTCOME_COMMITTED)
		if got := ask[*Shards](t, node, pid, &GetShards{}).PIDs; !slices.EqualFunc(got, shards, (*pa.PID).Equal) {
			t.Fatalf("after the update to v%d the shards are %v, want the same %v", to, got, shards)
		}
		if n := countOf(t, node, pid, "a"); n != 3 {
			t.Fatalf("after the update to v%d, a counts %d, want 3", to, n)
		}
	}
	if n := len(node.Directory().List("tally-shard")); n != NumShards {
		t.Fatalf("the node runs %d shards, want %d: the parent's updates spawned or lost some", n, NumShards)
	}
}

// TestSplitIntoChildrenAborts: a node whose catalogue lacks the shards'
// kind cannot spawn them; version 2 panics on VersionChanged, and version 1
// is put back with its counts.
func TestSplitIntoChildrenAborts(t *testing.T) {
	node := newNode(t, newCatalog(t, RegisterTally))
	pid := spawn(t, node, "tally", 1)
	node.Root().Send(pid, &Count{Key: "a"})
	if n := countOf(t, node, pid, "a"); n != 1 {
		t.Fatalf("version 1 counted a %d times, want 1", n)
	}
	res := updateTo(t, node, pid, &update.UpdateActor{ToVersion: 2}, update.Outcome_OUTCOME_ABORTED)
	if res.GetPhase() != update.Phase_PHASE_REPLACEMENT {
		t.Fatalf("aborted in %v (%s), want replacement", res.GetPhase(), res.GetReason())
	}
	runs(t, node, pid, 1)
	if n := countOf(t, node, pid, "a"); n != 1 {
		t.Fatalf("after the abort, a counts %d, want 1", n)
	}
}

// TestSplitIntoChildrenSkipped: an update from version 1 straight to 3
// would skip the VersionChanged of version 2 that spawns the shards;
// version 3's invariant catches it before the switch.
func TestSplitIntoChildrenSkipped(t *testing.T) {
	node := newNode(t, newCatalog(t, RegisterTallyShard, RegisterTally))
	pid := spawn(t, node, "tally", 1)
	res := updateTo(t, node, pid, &update.UpdateActor{ToVersion: 3}, update.Outcome_OUTCOME_ABORTED)
	if res.GetPhase() != update.Phase_PHASE_STATE_TRANSFER {
		t.Fatalf("aborted in %v (%s), want state transfer", res.GetPhase(), res.GetReason())
	}
	updateTo(t, node, pid, &update.UpdateActor{ToVersion: 2}, update.Outcome_OUTCOME_COMMITTED)
	updateTo(t, node, pid, &update.UpdateActor{ToVersion: 3}, update.Outcome_OUTCOME_COMMITTED)
}
