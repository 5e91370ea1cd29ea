package actor_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The trail kind records the numbered messages it gets, to check that a
// move loses, duplicates and reorders none. Version 2 keeps them as int64
// and remembers how it arrived.
type (
	step     struct{ N int }
	trailGet struct{}
	trailV1  struct{ Seen []int }
	trailV2  struct {
		Seen  []int64
		Moved bool
	}
)

func (s *trailV1) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case step:
		s.Seen = append(s.Seen, m.N)
	case trailGet:
		ctx.Respond(slices.Clone(s.Seen))
	}
}

func (s *trailV2) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *update.VersionChanged:
		s.Moved = m.Moved
	case step:
		s.Seen = append(s.Seen, int64(m.N))
	case trailGet:
		out := make([]int, len(s.Seen))
		for i, n := range s.Seen {
			out[i] = int(n)
		}
		if !s.Moved {
			out = append(out, -1) // marks a state that did not see VersionChanged{Moved}
		}
		ctx.Respond(out)
	}
}

func trailCatalog(t *testing.T) *registry.Catalog {
	cat := registry.New()
	must(t, registry.Register(cat, "trail", 1, func() *trailV1 { return &trailV1{} }))
	must(t, registry.Register(cat, "trail", 2, func() *trailV2 { return &trailV2{} }))
	must(t, registry.Migrate(cat, "trail", 1, 2, func(s *trailV1) (*trailV2, error) {
		out := &trailV2{}
		for _, n := range s.Seen {
			out.Seen = append(out.Seen, int64(n))
		}
		return out, nil
	}))
	return cat
}

// exportAnswers collects an export's answers.
type exportAnswers struct {
	ch chan molt.Exported
}

func newExportAnswers() *exportAnswers { return &exportAnswers{ch: make(chan molt.Exported, 2)} }

func (a *exportAnswers) answer(e molt.Exported) { a.ch <- e }

func (a *exportAnswers) next(t *testing.T, what string) molt.Exported {
	t.Helper()
	select {
	case e := <-a.ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s answer from the export within 10s", what)
		return molt.Exported{}
	}
}

// TestMoveKeepsEveryMessageInOrder moves an actor while a sender keeps
// sending to its old PID: the state goes over migrated, messages held
// during the move and sent after it reach the new actor, none lost,
// duplicated or reordered. (Both halves run on one node here, the new
// actor under another name; the takeover tests move between processes.)
func TestMoveKeepsEveryMessageInOrder(t *testing.T) {
	node := molt.NewNode(trailCatalog(t))
	defer node.Shutdown()
	old, err := node.Spawn("trail", 1, molt.WithName("t"), molt.WithLabels(map[string]string{"shard": "3"}))
	must(t, err)

	var sent int
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			sent++
			node.Root().Send(old, step{sent})
			if sent%64 == 0 {
				time.Sleep(50 * time.Microsecond) // pace the sender; order, not timing, is checked
			}
		}
	}()
	// Let some messages arrive before the move.
	for len(request(t, node, old, trailGet{}).([]int)) < 100 {
	}

	answers := newExportAnswers()
	must(t, node.Export(old, &update.UpdateActor{UpdateId: "mv-1", ToVersion: 2}, answers.answer))
	staged := answers.next(t, "staged")
	if staged.Result.GetOutcome() != update.Outcome_OUTCOME_STAGED || staged.Envelope == nil {
		t.Fatalf("export answered %v (%s) with envelope %v; want STAGED with the sealed state", staged.Result.GetOutcome(), staged.Result.GetReason(), staged.Envelope)
	}
	e := staged.Envelope
	if e.GetName() != "t" || e.GetLabels()["shard"] != "3" || e.GetVersion() != 1 {
		t.Fatalf("sealed envelope names %q labels %v version %d", e.GetName(), e.GetLabels(), e.GetVersion())
	}
	e.Name = "t-moved" // the other process would use the same name
	ready := make(chan error, 1)
	moved, err := node.Import(e, 2, func(_ *pa.PID, err error) { ready <- err })
	must(t, err)
	select {
	case err := <-ready:
		must(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the imported actor did not start within 10s")
	}
	if _, ok := node.Directory().Lookup(moved); ok {
		t.Fatal("an imported actor is in the directory before Release")
	}
	node.Decide(old, "mv-1", moved, "")
	final := answers.next(t, "final")
	if final.Result.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("export ended %v (%s), want COMMITTED", final.Result.GetOutcome(), final.Result.GetReason())
	}
	node.Release(moved)

	// The old PID forwards: a request through it is answered by the new actor.
	for len(request(t, node, old, trailGet{}).([]int)) < 200 {
	}
	close(stop)
	<-done
	got := request(t, node, old, trailGet{}).([]int)
	if len(got) > 0 && got[len(got)-1] == -1 {
		t.Fatal("the moved actor did not get VersionChanged{Moved: true}")
	}
	if len(got) != sent {
		t.Fatalf("the moved actor has %d messages, %d were sent", len(got), sent)
	}
	for i, n := range got {
		if n != i+1 {
			t.Fatalf("message %d is %d: lost, duplicated or reordered around the move", i+1, n)
		}
	}
	if _, ok := node.Directory().Lookup(old); ok {
		t.Error("the old PID is still in the directory after it moved")
	}
	if _, ok := node.Directory().Lookup(moved); !ok {
		t.Error("the released actor is not in the directory")
	}
	res, err := node.Update(context.Background(), old, &update.UpdateActor{ToVersion: 2})
	if !errors.Is(err, molt.ErrNotUpdatable) && !strings.Contains(res.GetReason(), "moved") {
		t.Errorf("Update of a moved actor = %v, %v; want a refusal saying it moved", res, err)
	}
}

// TestMoveAbortedOrExpiredResumesTheActor: without a commit the actor runs
// on where it was, with its state and every held message.
func TestMoveAbortedOrExpiredResumesTheActor(t *testing.T) {
	for _, how := range []string{"abort", "deadline"} {
		t.Run(how, func(t *testing.T) {
			node := molt.NewNode(trailCatalog(t))
			defer node.Shutdown()
			pid, err := node.Spawn("trail", 1, molt.WithName("t"))
			must(t, err)
			node.Root().Send(pid, step{1})
			answers := newExportAnswers()
			deadline := update.DefaultDeadline
			if how == "deadline" {
				deadline = 20 * time.Millisecond
			}
			req := &update.UpdateActor{UpdateId: "mv", ToVersion: 2, Deadline: durationpb.New(deadline)}
			must(t, node.Export(pid, req, answers.answer))
			if a := answers.next(t, "staged"); a.Result.GetOutcome() != update.Outcome_OUTCOME_STAGED {
				t.Fatalf("export: %v (%s)", a.Result.GetOutcome(), a.Result.GetReason())
			}
			node.Root().Send(pid, step{2}) // held while staged
			if how == "abort" {
				node.Decide(pid, "mv", nil, "the new process died")
			}
			final := answers.next(t, "final")
			if final.Result.GetOutcome() != update.Outcome_OUTCOME_ABORTED {
				t.Fatalf("export ended %v, want ABORTED", final.Result.GetOutcome())
			}
			if how == "abort" && !strings.Contains(final.Result.GetReason(), "the new process died") {
				t.Errorf("abort reason %q does not give the decision's", final.Result.GetReason())
			}
			node.Root().Send(pid, step{3})
			if got := request(t, node, pid, trailGet{}).([]int); !slices.Equal(got, []int{1, 2, 3}) {
				t.Fatalf("after the %s the actor has %v, want [1 2 3]", how, got)
			}
		})
	}
}

func TestImportRefusals(t *testing.T) {
	node := molt.NewNode(trailCatalog(t))
	defer node.Shutdown()
	_, err := node.Spawn("trail", 2, molt.WithName("taken"))
	must(t, err)

	future := envelope.New("trail", 5, "msgpack", []byte{0x80})
	future.Name = "f"
	if _, err := node.Import(future, 2, nil); !errors.Is(err, registry.ErrUnknownVersion) {
		t.Errorf("Import of an unknown version = %v, want ErrUnknownVersion", err)
	}
	taken := envelope.New("trail", 1, "msgpack", []byte{0x80})
	taken.Name = "taken"
	if _, err := node.Import(taken, 2, nil); !errors.Is(err, pa.ErrNameExists) {
		t.Errorf("Import under a name in use = %v, want ErrNameExists", err)
	}
	if _, err := node.Import(envelope.New("trail", 1, "msgpack", []byte{0x80}), 2, nil); err == nil || !strings.Contains(err.Error(), "name") {
		t.Errorf("Import without a name = %v, want a refusal", err)
	}
	if len(node.Directory().List("trail")) != 1 {
		t.Error("a refused import left an actor in the directory")
	}
}

// TestDiscardedImportNeverRuns: an import that is discarded stops without
// running what it held.
func TestDiscardedImportNeverRuns(t *testing.T) {
	node := molt.NewNode(trailCatalog(t))
	defer node.Shutdown()
	e := envelope.New("trail", 1, "msgpack", []byte{0x80})
	e.Name = "d"
	var wg sync.WaitGroup
	wg.Add(1)
	pid, err := node.Import(e, 1, func(*pa.PID, error) { wg.Done() })
	must(t, err)
	wg.Wait()
	node.Root().Send(pid, step{1})
	f := node.Root().RequestFuture(pid, trailGet{}, 200*time.Millisecond)
	node.Discard(pid)
	if v, err := f.Result(); err == nil {
		t.Fatalf("a discarded import answered %v", v)
	}
}

// TestUpdatesQueuedBehindAMoveFollowIt: an update requested while the
// actor was staged for its move is answered by the actor where it went.
func TestUpdatesQueuedBehindAMoveFollowIt(t *testing.T) {
	node := molt.NewNode(trailCatalog(t))
	defer node.Shutdown()
	old, err := node.Spawn("trail", 1, molt.WithName("q"))
	must(t, err)
	answers := newExportAnswers()
	must(t, node.Export(old, &update.UpdateActor{UpdateId: "mv", ToVersion: 2}, answers.answer))
	staged := answers.next(t, "staged")
	queued := node.Root().RequestFuture(old, &update.UpdateActor{UpdateId: "after", ToVersion: 1}, 10*time.Second)
	type answer struct {
		res *update.UpdateResult
		err error
	}
	inProcess := make(chan answer, 1)
	go func() {
		res, err := node.Update(context.Background(), old, &update.UpdateActor{UpdateId: "local", ToVersion: 1})
		inProcess <- answer{res, err}
	}()
	e := staged.Envelope
	e.Name = "q-moved"
	ready := make(chan error, 1)
	moved, err := node.Import(e, 2, func(_ *pa.PID, err error) { ready <- err })
	must(t, err)
	must(t, <-ready)
	node.Decide(old, "mv", moved, "")
	if final := answers.next(t, "final"); final.Result.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("move: %v", final.Result)
	}
	node.Release(moved)
	v, err := queued.Result()
	if err != nil {
		t.Fatalf("the update queued behind the move got no answer: %v", err)
	}
	// The moved actor runs version 2, which has no way down to 1: its
	// answer, not the old process's.
	if res := v.(*update.UpdateResult); res.GetActor() != "q-moved" || res.GetFromVersion() != 2 || !strings.Contains(res.GetReason(), "from version 2 to 1") {
		t.Fatalf("the queued update was answered by %q: %v from %d (%s); want the moved actor's answer", res.GetActor(), res.GetOutcome(), res.GetFromVersion(), res.GetReason())
	}
	select {
	case a := <-inProcess:
		// Queued behind the move, it is refused saying where the actor
		// went; sent after it, the actor is no longer here.
		if !strings.Contains(a.res.GetReason(), "moved") && !errors.Is(a.err, molt.ErrNotUpdatable) {
			t.Fatalf("an in-process update around the move = %v, %v; want a refusal saying where the actor went", a.res, a.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the in-process update queued behind the move was never answered")
	}
}
