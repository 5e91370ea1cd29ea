package cluster_test

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	mc "github.com/molt-go/molt/cluster"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestGrainIsAMoltActor: on one member, a grain called by identity is a
// molt actor of the member's node (in its directory, with its kind,
// version and identity); UpdateActor sent to it by identity commits while
// a caller keeps calling it, with its state and no call lost or counted
// twice; SetVersion moves it in place to the kind's new version; a call
// of the old interface reaches the new version through its adapter.
func TestGrainIsAMoltActor(t *testing.T) {
	m := startMember(t, testProvider(test.NewInMemAgent()), mc.Adapt, 1, 2, 3)
	if v, _ := m.Version(kind); v != 3 {
		t.Fatalf("a lone member's default version is %d, want its newest, 3", v)
	}
	if err := m.SetVersion(kind, 1); err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Version(kind); v != 1 {
		t.Fatalf("version after SetVersion(1): %d", v)
	}

	if got := add(t, m, "g1", 5); got != 5 {
		t.Fatalf("first add answered %d", got)
	}
	pid := m.Cluster().Get("g1", kind)
	if pid == nil || pid.Address != m.Address() {
		t.Fatalf("g1's PID %v, want one of %s", pid, m.Address())
	}
	e, ok := m.Node().Directory().Lookup(pid)
	if !ok || e.Kind != kind || e.Version != 1 || e.Labels[mc.LabelIdentity] != "g1" {
		t.Fatalf("g1 in the node's directory: %+v %v", e, ok)
	}

	// A caller adds 1, 300 times, each after the previous answer, while
	// the grain is updated to version 2.
	const calls = 300
	acks := make(chan int64, calls)
	errs := make(chan error, 1)
	go func() {
		defer close(acks)
		for range calls {
			res, err := m.Cluster().Request("g1", kind, wrapperspb.Int64(1), callOpts()...)
			if err != nil {
				errs <- err
				return
			}
			acks <- res.(*wrapperspb.Int64Value).GetValue()
		}
	}()
	for len(acks) < calls/3 { // a third of them before the update
		select {
		case err := <-errs:
			t.Fatal(err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	res, err := m.Update("g1", kind, &update.UpdateActor{ToVersion: 2}, callOpts()...)
	if err != nil || res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED || res.GetFromVersion() != 1 {
		t.Fatalf("update by identity: %v %v", res, err)
	}
	want := int64(5)
	for ack := range acks {
		want++
		if ack != want {
			t.Fatalf("call %d answered total %d: a call lost or counted twice", want-5, ack)
		}
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if got := get(t, m, "g1"); got != "v2:305" {
		t.Fatalf("g1 after the update: %s, want v2:305", got)
	}
	if p := m.Cluster().Get("g1", kind); !p.Equal(pid) {
		t.Fatalf("g1's PID changed across the update: %v, then %v", pid, p)
	}

	// The kind's version: the grain is updated in place, new ones start
	// at it.
	if err := m.SetVersion(kind, 3); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "g1 at version 3", func() bool {
		e, _ := m.Node().Directory().Lookup(pid)
		return e.Version == 3
	})
	if got := get(t, m, "g1"); got != "v3:305" {
		t.Fatalf("g1 after SetVersion(3): %s, want v3:305", got)
	}
	eventually(t, 5*time.Second, "the placement counts the upgrade", func() bool { return m.Stats().Upgraded == 1 })
	if s := m.Stats(); s.Failed != 0 {
		t.Fatalf("stats %+v, want no failed upgrade", s)
	}
	if got := get(t, m, "g2"); got != "v3:0" {
		t.Fatalf("a new grain: %s, want v3:0", got)
	}
	// The old interface's add reaches version 3 through its adapter.
	r, err := m.Cluster().Request("g1", kind, wrapperspb.Int32(10), callOpts()...)
	if err != nil || r.(*wrapperspb.Int64Value).GetValue() != 315 {
		t.Fatalf("old-interface add to version 3: %v %v", r, err)
	}
}
