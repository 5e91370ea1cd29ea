package actor_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TestProbationRequestFutureGetsTheUpdateResult: a requester gets one
// answer, the UpdateResult, even when the probation ends at once; the
// ProbationResult goes where the request's probation says, and the future
// never sees it (protoactor's future races when it gets two messages, which
// -race reports).
func TestProbationRequestFutureGetsTheUpdateResult(t *testing.T) {
	node, _ := canaryNode(t)
	pid, err := node.Spawn("canary", 1)
	must(t, err)
	in := newInbox(t, node)
	for try := range 200 {
		to := uint32(2 - try%2)
		f := node.Root().RequestFuture(pid, &update.UpdateActor{
			ToVersion: to, UpdateId: "p",
			Probation: &update.Probation{Messages: 1, ReportTo: update.RefOf(in.pid)},
		}, 10*time.Second)
		// The one message of the window ends the probation right after
		// the commit, before the requester has read its answer.
		node.Root().Send(pid, &note{"n"})
		res := result(t, f)
		if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED || res.GetToVersion() != to {
			t.Fatalf("try %d: %v to %d (%s), want committed to %d", try, res.GetOutcome(), res.GetToVersion(), res.GetReason(), to)
		}
		if p := in.probation(t); p.GetOutcome() != update.ProbationOutcome_PROBATION_OUTCOME_PASSED || p.GetVersion() != to {
			t.Fatalf("try %d: the probation reported %v, want PASSED on version %d", try, p, to)
		}
	}
}

// TestProbationWithoutReportToSendsNoProbationResult: with no report_to,
// the requester gets its UpdateResult and nothing else; the outcome shows in
// the directory (a rollback sets the version back).
func TestProbationWithoutReportToSendsNoProbationResult(t *testing.T) {
	node, j := canaryNode(t)
	pid, err := node.Spawn("canary", 1)
	must(t, err)
	in := newInbox(t, node)
	in.request(node, pid, &update.UpdateActor{ToVersion: 2, UpdateId: "quiet", Probation: &update.Probation{Messages: 10}})
	if r := in.result(t); r.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("%v (%s)", r.GetOutcome(), r.GetReason())
	}
	node.Root().Send(pid, &boom{})
	j.waitFor(t, 2) // v1 back from 2, v1 boom
	if e, _ := node.Directory().Lookup(pid); e.Version != 1 {
		t.Fatalf("directory says version %d after the rollback, want 1", e.Version)
	}
	// Anything the actor sent the inbox before answering this request is
	// in the inbox's mailbox before the marker.
	request(t, node, pid, &update.UpdateActor{ToVersion: 1})
	node.Root().Send(in.pid, "marker")
	if m := in.next(t, "the marker"); m != "marker" {
		t.Fatalf("the requester got a %T (%v) after its UpdateResult; want nothing, since the probation named no report_to", m, m)
	}
}

// TestProbationInProcess: node.Update accepts an update with probation
// now that its result is the one answer; the ProbationResult goes to
// report_to.
func TestProbationInProcess(t *testing.T) {
	node, _ := canaryNode(t)
	pid, err := node.Spawn("canary", 1)
	must(t, err)
	in := newInbox(t, node)
	res, err := node.Update(context.Background(), pid, &update.UpdateActor{
		ToVersion: 2, UpdateId: "local", Probation: &update.Probation{Messages: 1, ReportTo: update.RefOf(in.pid)},
	})
	must(t, err)
	if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("%v (%s), want committed", res.GetOutcome(), res.GetReason())
	}
	node.Root().Send(pid, &note{"n"})
	if p := in.probation(t); p.GetOutcome() != update.ProbationOutcome_PROBATION_OUTCOME_PASSED || p.GetUpdateId() != "local" {
		t.Fatalf("probation: %v", p)
	}
}

// TestHugeDeadlineIsRejectedUpFront: a deadline far beyond the maximum is
// rejected with the maximum named, by node.Update before anything is sent
// (its wait used to overflow and give up at once) and by the actor when it
// comes by message.
func TestHugeDeadlineIsRejectedUpFront(t *testing.T) {
	node, j := gateNode(t)
	pid, err := node.Spawn("gate", 1)
	must(t, err)
	j.waitFor(t, 1)
	// Keep the actor busy with an update that waits for its gate, so that
	// an update sent now would queue.
	busy := updateAsync(node, pid, &update.UpdateActor{ToVersion: 2, UpdateId: "busy"})
	huge := &durationpb.Duration{Seconds: 5e9}
	for _, path := range []string{"node.Update", "RequestFuture"} {
		var res *update.UpdateResult
		if path == "node.Update" {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			res, err = node.Update(ctx, pid, &update.UpdateActor{ToVersion: 2, Deadline: huge})
			cancel()
			if err != nil {
				t.Fatalf("%s: %v, want a REJECTED result", path, err)
			}
		} else {
			res = result(t, updateAsync(node, pid, &update.UpdateActor{ToVersion: 2, Deadline: huge}))
		}
		if res.GetOutcome() != update.Outcome_OUTCOME_REJECTED || res.GetPhase() != update.Phase_PHASE_INITIALIZATION {
			t.Fatalf("%s: %v in %v (%s), want rejected in initialization", path, res.GetOutcome(), res.GetPhase(), res.GetReason())
		}
		for _, want := range []string{"deadline", update.MaxDeadline.String()} {
			if !strings.Contains(res.GetReason(), want) {
				t.Errorf("%s: the reason %q does not say %q", path, res.GetReason(), want)
			}
		}
	}
	node.Root().Send(pid, &open{})
	if r := result(t, busy); r.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("the update the actor was busy with: %v (%s)", r.GetOutcome(), r.GetReason())
	}
}

// TestUpdateToTheRunningVersion says so, not that something was badly
// registered.
func TestUpdateToTheRunningVersion(t *testing.T) {
	node, j := gateNode(t)
	pid, err := node.Spawn("gate", 1)
	must(t, err)
	j.waitFor(t, 1)
	res, err := node.Update(context.Background(), pid, &update.UpdateActor{ToVersion: 1})
	must(t, err)
	if res.GetOutcome() != update.Outcome_OUTCOME_REJECTED {
		t.Fatalf("%v (%s), want rejected", res.GetOutcome(), res.GetReason())
	}
	if r := res.GetReason(); !strings.Contains(r, "already runs version 1") || !strings.Contains(r, "nothing to do") || strings.Contains(r, "registration") {
		t.Fatalf("the reason %q should say the actor already runs version 1 and there is nothing to do", r)
	}
}

// TestTooShortDeadlineIsRejected names the minimum; an actor that is stable
// at once is not blamed for missing a deadline nobody could meet.
func TestTooShortDeadlineIsRejected(t *testing.T) {
	node, j := gateNode(t)
	pid, err := node.Spawn("gate", 1)
	must(t, err)
	j.waitFor(t, 1)
	for _, d := range []time.Duration{time.Nanosecond, time.Microsecond, 999 * time.Microsecond} {
		res := result(t, updateAsync(node, pid, &update.UpdateActor{ToVersion: 2, Deadline: durationpb.New(d)}))
		if res.GetOutcome() != update.Outcome_OUTCOME_REJECTED || !strings.Contains(res.GetReason(), "minimum") || !strings.Contains(res.GetReason(), "1ms") {
			t.Fatalf("deadline %v: %v (%s), want rejected, naming the minimum of 1ms", d, res.GetOutcome(), res.GetReason())
		}
		res, err = node.Update(context.Background(), pid, &update.UpdateActor{ToVersion: 2, Deadline: durationpb.New(d)})
		if err != nil || res.GetOutcome() != update.Outcome_OUTCOME_REJECTED || !strings.Contains(res.GetReason(), "minimum") {
			t.Fatalf("node.Update with deadline %v: %v (%s), %v; want rejected naming the minimum", d, res.GetOutcome(), res.GetReason(), err)
		}
	}
}

// TestOversizedRequestsAreRejected: every length and count a request can
// carry has a limit, and a request beyond it is rejected, naming the limit,
// before anything is touched; the oversized id is not echoed back.
func TestOversizedRequestsAreRejected(t *testing.T) {
	node, j := gateNode(t)
	pid, err := node.Spawn("gate", 1)
	must(t, err)
	j.waitFor(t, 1)
	long := strings.Repeat("x", 1<<20)
	many := make([]string, 1<<20)
	cases := []struct {
		name string
		req  *update.UpdateActor
		says string
	}{
		{"update_id", &update.UpdateActor{ToVersion: 2, UpdateId: long}, "update_id"},
		{"group size", &update.UpdateActor{ToVersion: 2, UpdateId: "g", Stage: true, Group: many}, "group"},
		{"group member", &update.UpdateActor{ToVersion: 2, UpdateId: "g", Stage: true, Group: []string{long}}, "group"},
		{"report_to id", &update.UpdateActor{ToVersion: 2, Probation: &update.Probation{Messages: 1, ReportTo: &update.ActorRef{Id: long}}}, "report_to"},
	}
	in := newInbox(t, node)
	for _, c := range cases {
		in.request(node, pid, c.req)
		res := in.result(t)
		if res.GetOutcome() != update.Outcome_OUTCOME_REJECTED || !strings.Contains(res.GetReason(), c.says) || !strings.Contains(res.GetReason(), "limit") {
			t.Errorf("%s: %v (%.200s), want rejected naming %s and its limit", c.name, res.GetOutcome(), res.GetReason(), c.says)
		}
		if len(res.GetUpdateId()) > update.MaxIDLength || len(res.GetReason()) > 1000 {
			t.Errorf("%s: the result echoes %d bytes of id and %d of reason", c.name, len(res.GetUpdateId()), len(res.GetReason()))
		}
	}
	for _, c := range []struct {
		name string
		msg  any
	}{
		{"CommitUpdate id", &update.CommitUpdate{UpdateId: long}},
		{"AbortUpdate id", &update.AbortUpdate{UpdateId: long}},
		{"AbortUpdate reason", &update.AbortUpdate{UpdateId: "x", Reason: long}},
	} {
		in.request(node, pid, c.msg)
		res := in.result(t)
		if res.GetOutcome() != update.Outcome_OUTCOME_REJECTED || !strings.Contains(res.GetReason(), "limit") {
			t.Errorf("%s: %v (%.200s), want rejected naming the limit", c.name, res.GetOutcome(), res.GetReason())
		}
		if len(res.GetUpdateId()) > update.MaxIDLength || len(res.GetReason()) > 1000 {
			t.Errorf("%s: the result echoes %d bytes of id and %d of reason", c.name, len(res.GetUpdateId()), len(res.GetReason()))
		}
	}
	if e, _ := node.Directory().Lookup(pid); e.Version != 1 {
		t.Fatalf("directory says version %d, want 1", e.Version)
	}
	res, err := node.Update(context.Background(), pid, &update.UpdateActor{ToVersion: 2, UpdateId: long})
	if err != nil || res.GetOutcome() != update.Outcome_OUTCOME_REJECTED || !strings.Contains(res.GetReason(), "limit") {
		t.Fatalf("node.Update with an oversized update_id: %v (%.200s), %v; want rejected naming the limit", res.GetOutcome(), res.GetReason(), err)
	}
	if _, err := node.Update(context.Background(), nil, &update.UpdateActor{ToVersion: 2}); !errors.Is(err, molt.ErrNotUpdatable) {
		t.Fatalf("node.Update of a nil PID: %v, want ErrNotUpdatable", err)
	}
}
