package actor_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/types/known/durationpb"
)

// inbox is an actor that hands every message it gets to the test: it stands
// for the update manager, which receives several answers per update.
type inbox struct {
	pid *pa.PID
	ch  chan any
}

func newInbox(t *testing.T, node *molt.Node) *inbox {
	t.Helper()
	in := &inbox{ch: make(chan any, 64)}
	in.pid = node.Root().Spawn(pa.PropsFromFunc(func(ctx pa.Context) {
		switch ctx.Message().(type) {
		case *pa.Started, *pa.Stopping, *pa.Stopped:
		default:
			in.ch <- ctx.Message()
		}
	}))
	t.Cleanup(func() { _ = node.Root().StopFuture(in.pid).Wait() })
	return in
}

// request sends msg to pid with the inbox as sender.
func (in *inbox) request(node *molt.Node, pid *pa.PID, msg any) {
	node.Root().RequestWithCustomSender(pid, msg, in.pid)
}

func (in *inbox) next(t *testing.T, what string) any {
	t.Helper()
	select {
	case m := <-in.ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s within 10s", what)
		return nil
	}
}

func (in *inbox) result(t *testing.T) *update.UpdateResult {
	t.Helper()
	m := in.next(t, "UpdateResult")
	r, ok := m.(*update.UpdateResult)
	if !ok {
		t.Fatalf("got a %T, want an *update.UpdateResult", m)
	}
	return r
}

func (in *inbox) probation(t *testing.T) *update.ProbationResult {
	t.Helper()
	m := in.next(t, "ProbationResult")
	r, ok := m.(*update.ProbationResult)
	if !ok {
		t.Fatalf("got a %T (%v), want an *update.ProbationResult", m, m)
	}
	return r
}

// TestStagedGroupCommitsTogether: two actors stage, holding their messages,
// and switch only on CommitUpdate; messages sent meanwhile reach the new
// version, in order.
func TestStagedGroupCommitsTogether(t *testing.T) {
	node, j := gateNode(t)
	a, err := node.Spawn("gate", 1, molt.WithName("a"))
	must(t, err)
	b, err := node.Spawn("gate", 1, molt.WithName("b"))
	must(t, err)
	j.waitFor(t, 2)
	node.Root().Send(a, &open{})
	node.Root().Send(b, &open{})
	in := newInbox(t, node)
	for _, pid := range []*pa.PID{a, b} {
		in.request(node, pid, &update.UpdateActor{ToVersion: 2, UpdateId: "g", Stage: true})
	}
	for i := 0; i < 2; i++ {
		if r := in.result(t); r.GetOutcome() != update.Outcome_OUTCOME_STAGED {
			t.Fatalf("member %s: %v (%s), want STAGED", r.GetActor(), r.GetOutcome(), r.GetReason())
		}
	}
	node.Root().Send(a, &note{"while staged"})
	if e, _ := node.Directory().Lookup(a); e.Version != 1 {
		t.Fatalf("a staged member runs version %d, want 1 until the commit", e.Version)
	}
	for _, pid := range []*pa.PID{a, b} {
		in.request(node, pid, &update.CommitUpdate{UpdateId: "g"})
	}
	for i := 0; i < 2; i++ {
		if r := in.result(t); r.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
			t.Fatalf("member %s: %v (%s), want COMMITTED", r.GetActor(), r.GetOutcome(), r.GetReason())
		}
	}
	if l := strings.Join(j.waitFor(t, 9), ", "); !strings.Contains(l, "v2 changed from 1, v2 while staged") {
		t.Fatalf("the message sent while staged did not reach version 2 after VersionChanged: %s", l)
	}
}

// TestStagedAbortKeepsTheOldVersion: AbortUpdate, or no decision by the
// deadline, releases a staged member on its old version.
func TestStagedAbortKeepsTheOldVersion(t *testing.T) {
	node, j := gateNode(t)
	pid, err := node.Spawn("gate", 1)
	must(t, err)
	j.waitFor(t, 1)
	node.Root().Send(pid, &open{})
	in := newInbox(t, node)

	in.request(node, pid, &update.UpdateActor{ToVersion: 2, UpdateId: "x", Stage: true})
	if r := in.result(t); r.GetOutcome() != update.Outcome_OUTCOME_STAGED {
		t.Fatalf("%v (%s), want STAGED", r.GetOutcome(), r.GetReason())
	}
	in.request(node, pid, &update.AbortUpdate{UpdateId: "x", Reason: "member b failed"})
	if r := in.result(t); r.GetOutcome() != update.Outcome_OUTCOME_ABORTED || r.GetReason() != "member b failed" {
		t.Fatalf("%v (%s), want ABORTED with the given reason", r.GetOutcome(), r.GetReason())
	}

	in.request(node, pid, &update.UpdateActor{ToVersion: 2, UpdateId: "y", Stage: true, Deadline: durationpb.New(20 * time.Millisecond)})
	if r := in.result(t); r.GetOutcome() != update.Outcome_OUTCOME_STAGED {
		t.Fatalf("%v (%s), want STAGED", r.GetOutcome(), r.GetReason())
	}
	if r := in.result(t); r.GetOutcome() != update.Outcome_OUTCOME_ABORTED || !strings.Contains(r.GetReason(), "no commit decision") {
		t.Fatalf("%v (%s), want ABORTED for want of a decision", r.GetOutcome(), r.GetReason())
	}
	in.request(node, pid, &update.CommitUpdate{UpdateId: "y"})
	if r := in.result(t); r.GetOutcome() != update.Outcome_OUTCOME_REJECTED || !strings.Contains(r.GetReason(), `no update "y"`) {
		t.Fatalf("a late commit: %v (%s), want it refused", r.GetOutcome(), r.GetReason())
	}
	if e, _ := node.Directory().Lookup(pid); e.Version != 1 {
		t.Errorf("directory says version %d, want 1", e.Version)
	}
}

// TestStagedUpdateInProcessIsRefused: node.Update returns one result, so
// it cannot carry a staged update.
func TestStagedUpdateInProcessIsRefused(t *testing.T) {
	node, j := gateNode(t)
	pid, err := node.Spawn("gate", 1)
	must(t, err)
	j.waitFor(t, 1)
	res, err := node.Update(context.Background(), pid, &update.UpdateActor{ToVersion: 2, UpdateId: "s", Stage: true})
	must(t, err)
	if res.GetOutcome() != update.Outcome_OUTCOME_REJECTED || !strings.Contains(res.GetReason(), "send it with Request") {
		t.Fatalf("%v (%s), want it refused, pointing to Request", res.GetOutcome(), res.GetReason())
	}
}

// The "canary" kind: version 2 panics on boom and breaks its invariant on
// spoil; version 1 takes both.
type spoil struct{}

type canaryV1 struct {
	Notes []string
	j     *journal
}

func (c *canaryV1) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *note:
		c.Notes = append(c.Notes, m.S)
		c.j.add("v1 " + m.S)
	case *boom:
		c.j.add("v1 boom")
	case *update.VersionChanged:
		c.j.add(fmt.Sprintf("v1 back from %d with %d notes", m.From, len(c.Notes)))
	}
}

type canaryV2 struct {
	Notes   []string
	Spoiled bool
	j       *journal
}

func (c *canaryV2) CheckInvariants() error {
	if c.Spoiled {
		return fmt.Errorf("spoiled")
	}
	return nil
}

func (c *canaryV2) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *note:
		c.Notes = append(c.Notes, m.S)
		c.j.add("v2 " + m.S)
	case *boom:
		panic("v2 cannot take boom")
	case *spoil:
		c.Spoiled = true
	}
}

func canaryNode(t *testing.T) (*molt.Node, *journal) {
	t.Helper()
	j := newJournal()
	cat := registry.New()
	must(t, registry.Register(cat, "canary", 1, func() *canaryV1 { return &canaryV1{j: j} }))
	must(t, registry.Register(cat, "canary", 2, func() *canaryV2 { return &canaryV2{j: j} }))
	must(t, registry.Migrate(cat, "canary", 1, 2, func(o *canaryV1) (*canaryV2, error) { return &canaryV2{Notes: o.Notes, j: j}, nil }))
	must(t, registry.Migrate(cat, "canary", 2, 1, func(o *canaryV2) (*canaryV1, error) { return &canaryV1{Notes: o.Notes, j: j}, nil }))
	node := molt.NewNode(cat)
	t.Cleanup(node.Shutdown)
	return node, j
}

// TestProbationRollsBackOnPanic: a panic in the new version within its
// probation rolls the actor back through the down migration, with the
// notes it took on probation, and the message it panicked on reaches the
// old version: nothing is lost.
func TestProbationRollsBackOnPanic(t *testing.T) {
	node, j := canaryNode(t)
	pid, err := node.Spawn("canary", 1)
	must(t, err)
	in := newInbox(t, node)
	in.request(node, pid, &update.UpdateActor{ToVersion: 2, UpdateId: "p", Probation: &update.Probation{Messages: 100, ReportTo: update.RefOf(in.pid)}})
	if r := in.result(t); r.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("%v (%s)", r.GetOutcome(), r.GetReason())
	}
	node.Root().Send(pid, &note{"a"})
	node.Root().Send(pid, &boom{})
	node.Root().Send(pid, &note{"b"})
	p := in.probation(t)
	if p.GetOutcome() != update.ProbationOutcome_PROBATION_OUTCOME_ROLLED_BACK || p.GetVersion() != 1 || p.GetProbationVersion() != 2 || !strings.Contains(p.GetReason(), "panicked on *actor_test.boom") {
		t.Fatalf("probation: %v", p)
	}
	if p.GetMessages() != 1 {
		t.Errorf("probation counted %d messages, want 1 (a)", p.GetMessages())
	}
	got := strings.Join(j.waitFor(t, 4), ", ")
	if want := "v2 a, v1 back from 2 with 1 notes, v1 boom, v1 b"; got != want {
		t.Fatalf("the actor received %s, want %s", got, want)
	}
	if e, _ := node.Directory().Lookup(pid); e.Version != 1 {
		t.Errorf("directory says version %d after the rollback, want 1", e.Version)
	}
}

// TestProbationRollsBackOnBrokenInvariant and passes when the window ends
// without failure.
func TestProbationEnds(t *testing.T) {
	node, _ := canaryNode(t)
	pid, err := node.Spawn("canary", 1)
	must(t, err)
	in := newInbox(t, node)

	in.request(node, pid, &update.UpdateActor{ToVersion: 2, UpdateId: "inv", Probation: &update.Probation{Messages: 10, ReportTo: update.RefOf(in.pid)}})
	in.result(t)
	node.Root().Send(pid, &spoil{})
	if p := in.probation(t); p.GetOutcome() != update.ProbationOutcome_PROBATION_OUTCOME_ROLLED_BACK || !strings.Contains(p.GetReason(), "breaks its invariants: spoiled") {
		t.Fatalf("after a broken invariant: %v", p)
	}

	in.request(node, pid, &update.UpdateActor{ToVersion: 2, UpdateId: "count", Probation: &update.Probation{Messages: 2, ReportTo: update.RefOf(in.pid)}})
	in.result(t)
	node.Root().Send(pid, &note{"x"})
	node.Root().Send(pid, &note{"y"})
	if p := in.probation(t); p.GetOutcome() != update.ProbationOutcome_PROBATION_OUTCOME_PASSED || p.GetMessages() != 2 || p.GetVersion() != 2 {
		t.Fatalf("after its message window: %v", p)
	}

	in.request(node, pid, &update.UpdateActor{ToVersion: 1, UpdateId: "time", Probation: &update.Probation{Duration: durationpb.New(10 * time.Millisecond), ReportTo: update.RefOf(in.pid)}})
	in.result(t)
	if p := in.probation(t); p.GetOutcome() != update.ProbationOutcome_PROBATION_OUTCOME_PASSED || p.GetVersion() != 1 {
		t.Fatalf("after its time window: %v", p)
	}
}
