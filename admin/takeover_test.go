package admin_test

import (
	"strings"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/admin"
	"github.com/molt-go/molt/takeover"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TestTakeoverStatus: without a takeover service the admin says so; with
// takeover.Serve's service and no takeover yet, an empty progress; and
// what the service answers is relayed as it is.
func TestTakeoverStatus(t *testing.T) {
	fx := newFixture(t, 1, admin.Config{})
	got := answer[*admin.TakeoverProgress](t, fx.ask(t, &admin.TakeoverStatus{}))
	if got.GetServing() || got.GetProgress() != nil {
		t.Errorf("a node without a takeover service: %v, want serving false and no progress", got)
	}

	svc, err := takeover.Serve(fx.node, nil)
	must(t, err)
	got = answer[*admin.TakeoverProgress](t, fx.ask(t, &admin.TakeoverStatus{}))
	if !got.GetServing() || got.GetProgress() == nil || got.GetProgress().GetRole() != "" || got.GetProgress().GetDone() {
		t.Errorf("a service before any takeover: %v, want serving, a progress with no role", got)
	}
	svc.Stop()
	got = answer[*admin.TakeoverProgress](t, fx.ask(t, &admin.TakeoverStatus{}))
	if got.GetServing() {
		t.Errorf("after the service stopped: %v, want serving false", got)
	}

	// A stand-in service: its progress comes back field for field.
	want := &takeover.Progress{
		TakeoverId: "t-1", Role: "requester", Peer: "127.0.0.1:9", Done: true,
		Actors: 10, Moved: 7, Failed: 3, InFlight: 0, Elapsed: durationpb.New(1500 * time.Millisecond),
		Error: "takeover: batch 2: the source went away",
	}
	stop := standIn(t, fx.node, func(ctx pa.Context) {
		if _, ok := ctx.Message().(*takeover.Status); ok {
			ctx.Respond(want)
		}
	})
	got = answer[*admin.TakeoverProgress](t, fx.ask(t, &admin.TakeoverStatus{}))
	if !got.GetServing() || !proto.Equal(got.GetProgress(), want) {
		t.Errorf("relayed %v, want serving and %v", got, want)
	}
	stop()

	// One that answers something else is refused with what it said.
	stop = standIn(t, fx.node, func(ctx pa.Context) {
		if _, ok := ctx.Message().(*takeover.Status); ok {
			ctx.Respond(&takeover.Refused{Reason: "no"})
		}
	})
	refused(t, fx.ask(t, &admin.TakeoverStatus{}), "answered Status with a *takeover.Refused")
	stop()
}

// TestTakeoverStatusWaitIsBounded: a takeover service that does not answer
// costs the admin TakeoverTimeout, and the answer says so; the admin
// serves other requests meanwhile.
func TestTakeoverStatusWaitIsBounded(t *testing.T) {
	fx := newFixture(t, 1, admin.Config{TakeoverTimeout: 300 * time.Millisecond})
	standIn(t, fx.node, func(pa.Context) {}) // never answers
	f := fx.node.Root().RequestFuture(fx.admin.PID(), &admin.TakeoverStatus{}, 15*time.Second)
	answer[*admin.ActorList](t, fx.ask(t, &admin.ListActors{}))
	res, err := f.Result()
	must(t, err)
	refused(t, res, "did not answer within 300ms (Config.TakeoverTimeout)")

	if err := (admin.Config{TakeoverTimeout: -1}).Validate(); err == nil || !strings.Contains(err.Error(), "Config.TakeoverTimeout") {
		t.Errorf("Validate of a negative TakeoverTimeout: %v", err)
	}
}

// standIn spawns an actor under takeover.ServiceName that receives with
// fn, and returns what stops it (also called when the test ends).
func standIn(t *testing.T, node *molt.Node, fn pa.ReceiveFunc) func() {
	t.Helper()
	pid, err := node.Root().SpawnNamed(pa.PropsFromFunc(fn), takeover.ServiceName)
	must(t, err)
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = node.Root().StopFuture(pid).Wait()
		}
	}
	t.Cleanup(stop)
	return stop
}
