package actor_test

import (
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The fuzz targets feed every protobuf request a molt actor accepts from
// outside (UpdateActor, CommitUpdate, AbortUpdate), as arbitrary bytes, to
// a live actor of the "fz" kind, and check that the actor answers an
// UpdateActor exactly once, keeps serving, and runs either the version it
// ran, with its state, or the one a committed update put there, with the
// state migrated. Run one for a while with, for example,
//
//	go test -run XXX -fuzz FuzzUpdateActor -fuzztime 20s ./actor/

type fzInc struct{}
type fzGet struct{}
type fzView struct {
	Version uint32
	N       int64
}
type fzMarker struct{}

type fzV1 struct{ N int64 }

func (s *fzV1) Receive(ctx pa.Context) {
	switch ctx.Message().(type) {
	case *fzInc:
		s.N++
	case *fzGet:
		ctx.Respond(fzView{1, s.N})
	}
}

// fzV2 keeps its count in another shape, so that a state that went through
// a migration is told from one that did not.
type fzV2 struct{ Count uint64 }

func (s *fzV2) Receive(ctx pa.Context) {
	switch ctx.Message().(type) {
	case *fzInc:
		s.Count++
	case *fzGet:
		ctx.Respond(fzView{2, int64(s.Count)})
	}
}

func fuzzNode(f *testing.F) *molt.Node {
	cat := registry.New()
	must(f, registry.Register(cat, "fz", 1, func() *fzV1 { return &fzV1{} }))
	must(f, registry.Register(cat, "fz", 2, func() *fzV2 { return &fzV2{} }))
	must(f, registry.Migrate(cat, "fz", 1, 2, func(o *fzV1) (*fzV2, error) { return &fzV2{Count: uint64(o.N)}, nil }))
	must(f, registry.Migrate(cat, "fz", 2, 1, func(o *fzV2) (*fzV1, error) { return &fzV1{N: int64(o.Count)}, nil }))
	// A probation may report to a PID nobody has: protoactor's dead
	// letter throttle then keeps a goroutine for its interval, which would
	// outlive the test and trip goleak.
	node := molt.NewNode(cat, molt.WithConfig(pa.WithDeadLetterThrottleInterval(time.Millisecond)))
	f.Cleanup(node.Shutdown)
	return node
}

// fuzzActor spawns an fz actor at version 1 that has counted to 3; it
// stops when the test ends.
func fuzzActor(t *testing.T, node *molt.Node) *pa.PID {
	t.Helper()
	pid, err := node.Spawn("fz", 1)
	must(t, err)
	t.Cleanup(func() {
		if err := node.Root().StopFuture(pid).Wait(); err != nil {
			t.Errorf("the actor did not stop within protoactor's wait: %v", err)
		}
	})
	for range 3 {
		node.Root().Send(pid, &fzInc{})
	}
	return pid
}

// checkServing checks that the actor answers, runs version want with the
// count it had, counts one more, and agrees with the directory.
func checkServing(t *testing.T, node *molt.Node, pid *pa.PID, want uint32, after string) {
	t.Helper()
	v := request(t, node, pid, &fzGet{}).(fzView)
	if v.Version != want || v.N != 3 {
		t.Fatalf("after %s the actor runs version %d with count %d, want version %d with count 3", after, v.Version, v.N, want)
	}
	if e, _ := node.Directory().Lookup(pid); e.Version != want {
		t.Fatalf("after %s the directory says version %d, want %d", after, e.Version, want)
	}
	node.Root().Send(pid, &fzInc{})
	if v := request(t, node, pid, &fzGet{}).(fzView); v.N != 4 {
		t.Fatalf("after %s the actor counted to %d on one more increment, want 4", after, v.N)
	}
}

// noMoreAnswers fails if anything but what allow accepts reached the inbox
// after the answers taken: a requester gets one answer to one request.
// Everything the actor sent before its last answer to the test is in the
// inbox's mailbox before the marker sent now.
func (in *inbox) noMoreAnswers(t *testing.T, node *molt.Node, what string, allow func(any) bool) {
	t.Helper()
	node.Root().Send(in.pid, &fzMarker{})
	for {
		m := in.next(t, "the marker sent through the inbox")
		if _, ok := m.(*fzMarker); ok {
			return
		}
		if allow == nil || !allow(m) {
			t.Fatalf("the requester of %s got a %T after its answer: %v", what, m, m)
		}
	}
}

// finalResult takes the final result of the update the inbox sent. A
// STAGED answer is followed by the final one once the update is decided:
// the test aborts it, unless decide already did.
func finalResult(t *testing.T, node *molt.Node, pid *pa.PID, in *inbox) *update.UpdateResult {
	t.Helper()
	res := in.result(t)
	if res.GetOutcome() != update.Outcome_OUTCOME_STAGED {
		return res
	}
	node.Root().Send(pid, &update.AbortUpdate{UpdateId: res.GetUpdateId(), Reason: "fuzz test ends it"})
	res = in.result(t)
	if o := res.GetOutcome(); o != update.Outcome_OUTCOME_ABORTED && o != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("after STAGED the final result is %v (%s), want COMMITTED or ABORTED", o, res.GetReason())
	}
	return res
}

// versionAfter is the version an actor at version 1 must run after res.
func versionAfter(t *testing.T, res *update.UpdateResult) uint32 {
	t.Helper()
	switch res.GetOutcome() {
	case update.Outcome_OUTCOME_COMMITTED:
		if to := res.GetToVersion(); to != 2 || res.GetFromVersion() != 1 {
			t.Fatalf("committed an update from %d to %d on an actor at version 1 of a kind with versions 1 and 2", res.GetFromVersion(), to)
		}
		return 2
	case update.Outcome_OUTCOME_ABORTED, update.Outcome_OUTCOME_REJECTED:
		return 1
	}
	t.Fatalf("final result %v (%s), want COMMITTED, ABORTED or REJECTED", res.GetOutcome(), res.GetReason())
	return 0
}

func addSeeds(f *testing.F, msgs ...proto.Message) {
	for _, m := range msgs {
		data, err := proto.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

func FuzzUpdateActor(f *testing.F) {
	node := fuzzNode(f)
	addSeeds(f,
		&update.UpdateActor{ToVersion: 2},
		&update.UpdateActor{ToVersion: 1},
		&update.UpdateActor{ToVersion: 3, UpdateId: "u"},
		&update.UpdateActor{ToVersion: 2, FromVersion: 2},
		&update.UpdateActor{ToVersion: 2, Deadline: durationpb.New(time.Nanosecond)},
		&update.UpdateActor{ToVersion: 2, Deadline: &durationpb.Duration{Seconds: 5e9}},
		&update.UpdateActor{ToVersion: 2, Deadline: &durationpb.Duration{Seconds: 1, Nanos: -1}},
		&update.UpdateActor{ToVersion: 2, UpdateId: "s", Stage: true, Group: []string{"a", "b"}},
		&update.UpdateActor{ToVersion: 2, Stage: true},
		&update.UpdateActor{ToVersion: 2, Probation: &update.Probation{Messages: 1}},
		&update.UpdateActor{ToVersion: 2, Probation: &update.Probation{Duration: durationpb.New(time.Millisecond), ReportTo: &update.ActorRef{Id: "nobody"}}},
		&update.UpdateActor{ToVersion: 2, Probation: &update.Probation{Duration: &durationpb.Duration{Seconds: -3}}},
		&update.UpdateActor{ToVersion: 2, Probation: &update.Probation{}},
	)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var req update.UpdateActor
		if proto.Unmarshal(data, &req) != nil {
			return // not an UpdateActor: nothing could send it
		}
		pid := fuzzActor(t, node)
		in := newInbox(t, node)
		in.request(node, pid, &req)
		res := finalResult(t, node, pid, in)
		want := req.GetUpdateId()
		if len(want) > update.MaxIDLength {
			want = "" // an oversized id is not echoed
		}
		if res.GetUpdateId() != want {
			t.Fatalf("the result names update %q, the request %q", res.GetUpdateId(), req.GetUpdateId())
		}
		checkServing(t, node, pid, versionAfter(t, res), "the update")
		// The ProbationResult goes to report_to, which the input may
		// happen to point at the requester.
		reportsHere := func(m any) bool {
			_, ok := m.(*update.ProbationResult)
			return ok && req.GetProbation().GetReportTo().GetId() == in.pid.GetId()
		}
		in.noMoreAnswers(t, node, "the UpdateActor", reportsHere)
	})
}

// fuzzDecision sends a staged update, then the fuzzed decision, then an
// abort of the staged update in case the decision did not end it, and
// checks that the update ended exactly once as the decision allowed; then
// it sends the decision again to the idle actor.
func fuzzDecision(t *testing.T, node *molt.Node, decision proto.Message, commits func() bool) {
	pid := fuzzActor(t, node)
	in, decider := newInbox(t, node), newInbox(t, node)
	in.request(node, pid, &update.UpdateActor{ToVersion: 2, UpdateId: "u", Stage: true})
	if r := in.result(t); r.GetOutcome() != update.Outcome_OUTCOME_STAGED {
		t.Fatalf("the staged update: %v (%s), want STAGED", r.GetOutcome(), r.GetReason())
	}
	decider.request(node, pid, decision)
	node.Root().Send(pid, &update.AbortUpdate{UpdateId: "u", Reason: "fuzz test ends it"})
	res := in.result(t)
	want := update.Outcome_OUTCOME_ABORTED
	if commits() {
		want = update.Outcome_OUTCOME_COMMITTED
	}
	if res.GetOutcome() != want {
		t.Fatalf("the staged update ended %v (%s) after %v, want %v", res.GetOutcome(), res.GetReason(), decision, want)
	}
	checkServing(t, node, pid, versionAfter(t, res), "the decision")
	in.noMoreAnswers(t, node, "the staged UpdateActor", nil)

	decider.request(node, pid, decision)
	want2 := versionAfter(t, res)
	v := request(t, node, pid, &fzGet{}).(fzView)
	if v.Version != want2 || v.N != 4 {
		t.Fatalf("a decision sent to an idle actor changed it to version %d, count %d; want version %d, count 4", v.Version, v.N, want2)
	}
}

func FuzzCommitUpdate(f *testing.F) {
	node := fuzzNode(f)
	addSeeds(f,
		&update.CommitUpdate{UpdateId: "u"},
		&update.CommitUpdate{UpdateId: "v"},
		&update.CommitUpdate{},
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		var m update.CommitUpdate
		if proto.Unmarshal(data, &m) != nil {
			return
		}
		fuzzDecision(t, node, &m, func() bool { return m.GetUpdateId() == "u" })
	})
}

func FuzzAbortUpdate(f *testing.F) {
	node := fuzzNode(f)
	addSeeds(f,
		&update.AbortUpdate{UpdateId: "u", Reason: "no"},
		&update.AbortUpdate{UpdateId: "u"},
		&update.AbortUpdate{UpdateId: "x", Reason: "other"},
		&update.AbortUpdate{},
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		var m update.AbortUpdate
		if proto.Unmarshal(data, &m) != nil {
			return
		}
		fuzzDecision(t, node, &m, func() bool { return false })
	})
}
