package actor_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/internal/proctest"
	"github.com/molt-go/molt/internal/remotetest"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// remoteWait bounds every wait on another node: far above a loopback round
// trip, short enough for a failing test to say what did not happen.
const remoteWait = 10 * time.Second

// skipRemoteUnderRace skips, under the race detector, a test that starts
// remote in this process: the races it would report are protoactor's
// (see remoteRace). It runs without -race; under -race, the two-process
// test alone starts remote here.
func skipRemoteUnderRace(t *testing.T) {
	t.Helper()
	if remoteRace {
		t.Skip("a second protoactor remote in one process races inside protoactor (grpclog.SetLoggerV2 in remote.Start); run without -race")
	}
}

// startTallyNode starts a node with remote, on the tally catalogue.
func startTallyNode(t *testing.T, c molt.RemoteConfig, options ...molt.Option) *molt.Node {
	t.Helper()
	cat, err := remotetest.Catalog()
	if err != nil {
		t.Fatal(err)
	}
	node, err := molt.StartNode(cat, append(options, molt.WithRemote(c))...)
	if err != nil {
		t.Fatalf("StartNode: %v", err)
	}
	t.Cleanup(node.Shutdown)
	return node
}

// ask asks pid from root, within remoteWait.
func ask(t *testing.T, root *pa.RootContext, pid *pa.PID, msg any) any {
	t.Helper()
	res, err := root.RequestFuture(pid, msg, remoteWait).Result()
	if err != nil {
		t.Fatalf("no answer from %v to %T within %v: %v", pid, msg, remoteWait, err)
	}
	return res
}

func updateResult(t *testing.T, reply any) *update.UpdateResult {
	t.Helper()
	res, ok := reply.(*update.UpdateResult)
	if !ok {
		t.Fatalf("the answer is a %T, not an *update.UpdateResult: %v", reply, reply)
	}
	return res
}

// tallyOf asks a tally for its count.
func tallyOf(t *testing.T, root *pa.RootContext, pid *pa.PID) int64 {
	t.Helper()
	v, ok := ask(t, root, pid, wrapperspb.String("get")).(*wrapperspb.Int64Value)
	if !ok {
		t.Fatalf("%v did not answer its tally with an Int64Value", pid)
	}
	return v.GetValue()
}

// untimed is a result without what differs between two runs of the same
// update: the timings and the actor's name.
func untimed(r *update.UpdateResult) *update.UpdateResult {
	c := proto.CloneOf(r)
	c.Actor = ""
	c.InitializationNs, c.NotificationNs, c.PreparationNs = 0, 0, 0
	c.StateCheckingNs, c.StateTransferNs, c.ReplacementNs = 0, 0, 0
	c.TotalNs, c.DecisionNs = 0, 0
	return c
}

// Every molt message may cross processes: protoactor remote serializes
// only registered protobuf messages, by their full name.
func TestRemoteSerializesEveryMoltMessage(t *testing.T) {
	files := []protoreflect.FileDescriptor{update.File_update_update_proto, manager.File_update_manager_manager_proto}
	n := 0
	for _, f := range files {
		for i := range f.Messages().Len() {
			name := f.Messages().Get(i).FullName()
			mt, err := protoregistry.GlobalTypes.FindMessageByName(name)
			if err != nil {
				t.Errorf("%s is not registered, so remote cannot decode it: %v", name, err)
				continue
			}
			msg := mt.New().Interface()
			data, typeName, err := remote.Serialize(msg, 0)
			if err != nil {
				t.Errorf("remote cannot serialize %s: %v", name, err)
				continue
			}
			back, err := remote.Deserialize(data, typeName, 0)
			if err != nil {
				t.Errorf("remote cannot deserialize %s: %v", name, err)
				continue
			}
			if !proto.Equal(back.(proto.Message), msg) {
				t.Errorf("%s changed crossing: %v", name, back)
			}
			n++
		}
	}
	if n < 15 {
		t.Fatalf("only %d messages checked: the descriptors list fewer than expected", n)
	}
}

// An update sent from another node to a remote PID gives the result the
// same update gives in process: committed, aborted and rejected.
func TestRemoteUpdateAsInProcess(t *testing.T) {
	skipRemoteUnderRace(t)
	a := startTallyNode(t, molt.RemoteConfig{})
	b := startTallyNode(t, molt.RemoteConfig{})
	if a.Address() == b.Address() || !strings.HasPrefix(b.Address(), "127.0.0.1:") {
		t.Fatalf("addresses %q and %q: want two loopback addresses", a.Address(), b.Address())
	}
	cases := []struct {
		name    string
		to      uint32
		outcome update.Outcome
		phase   update.Phase
		version uint32 // after
	}{
		{"commit", 2, update.Outcome_OUTCOME_COMMITTED, update.Phase_PHASE_REPLACEMENT, 2},
		{"abort", 3, update.Outcome_OUTCOME_ABORTED, update.Phase_PHASE_STATE_TRANSFER, 1},
		{"reject", 9, update.Outcome_OUTCOME_REJECTED, update.Phase_PHASE_INITIALIZATION, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			local, err := b.Spawn(remotetest.Kind, 1, molt.WithName("local-"+c.name))
			if err != nil {
				t.Fatal(err)
			}
			spawned, err := b.Spawn(remotetest.Kind, 1, molt.WithName("remote-"+c.name))
			if err != nil {
				t.Fatal(err)
			}
			if spawned.GetAddress() != b.Address() {
				t.Fatalf("the PID carries address %q, not the node's %q", spawned.GetAddress(), b.Address())
			}
			// What another process has: an address and a name.
			far := pa.NewPID(b.Address(), "remote-"+c.name)
			a.Root().Send(far, wrapperspb.Int64(5))
			b.Root().Send(local, wrapperspb.Int64(5))
			// Counted before the update on both, so that neither result
			// counts it as a queued message.
			if tallyOf(t, a.Root(), far) != 5 || tallyOf(t, b.Root(), local) != 5 {
				t.Fatal("the tallies did not count 5 before the update")
			}

			req := &update.UpdateActor{ToVersion: c.to, UpdateId: "u-" + c.name}
			got := updateResult(t, ask(t, a.Root(), far, req))
			want := updateResult(t, ask(t, b.Root(), local, proto.CloneOf(req)))
			if !proto.Equal(untimed(want), untimed(got)) {
				t.Errorf("the remote result differs from the in-process one, timings aside:\nin process: %v\nremote:     %v",
					prototext.Format(untimed(want)), prototext.Format(untimed(got)))
			}
			if got.GetOutcome() != c.outcome || got.GetPhase() != c.phase {
				t.Errorf("remote result %v in %v (%s), want %v in %v", got.GetOutcome(), got.GetPhase(), got.GetReason(), c.outcome, c.phase)
			}
			if c.outcome != update.Outcome_OUTCOME_REJECTED && got.GetTotalNs() <= 0 {
				t.Errorf("the remote result has no timings: %v", got)
			}
			if e, ok := b.Directory().Lookup(spawned); !ok || e.Version != c.version {
				t.Errorf("the directory has %v (found %v), want version %d", e.Version, ok, c.version)
			}
			if n := tallyOf(t, a.Root(), far); n != 5 {
				t.Errorf("the tally is %d after the update, want 5: the state was not carried, or changed", n)
			}
		})
	}
}

// The two-process test: a node in a child process, updated from this one.
func TestRemoteUpdateAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a child process")
	}
	address, id := startTestNode(t)
	a := startTallyNode(t, molt.RemoteConfig{})
	far := pa.NewPID(address, id)

	a.Root().Send(far, wrapperspb.Int64(7))
	res := updateResult(t, ask(t, a.Root(), far, &update.UpdateActor{ToVersion: 2, UpdateId: "across"}))
	if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED || res.GetFromVersion() != 1 || res.GetToVersion() != 2 ||
		res.GetKind() != remotetest.Kind || res.GetActor() != id || res.GetUpdateId() != "across" || res.GetTotalNs() <= 0 {
		t.Fatalf("update in the child process: %v", res)
	}
	if n := tallyOf(t, a.Root(), far); n != 7 {
		t.Errorf("the tally is %d after the update, want 7", n)
	}
	res = updateResult(t, ask(t, a.Root(), far, &update.UpdateActor{ToVersion: 9}))
	if res.GetOutcome() != update.Outcome_OUTCOME_REJECTED || res.GetFromVersion() != 2 {
		t.Errorf("an update to an unknown version in the child process: %v", res)
	}
}

// startTestNode builds and starts internal/remotetest/testnode, and
// returns its address and its actor's id. The child exits when the test
// ends: its standard input closes, and it is killed if it has not.
func startTestNode(t *testing.T) (address, id string) {
	t.Helper()
	p, line := proctest.Start(t, remoteWait, proctest.Build(t, "github.com/molt-go/molt/internal/remotetest/testnode"))
	if _, err := fmt.Sscanf(line, "address %s %s", &address, &id); err != nil {
		t.Fatalf("the child process printed %q, not its address (%v); stderr: %s", line, err, p.Stderr())
	}
	return address, id
}
