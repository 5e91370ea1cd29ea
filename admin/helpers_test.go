package admin_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/admin"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
	"google.golang.org/protobuf/proto"
)

// The "svc" kind: version 1 migrates to 2 and back, unless told to fail
// (setFail, acknowledged, so that a test knows it holds); the migration
// to 3 always fails. Version 2 accepts bump, and each version adapts the
// other's.

type (
	bumpV1  struct{}
	bump    struct{}
	setFail struct{}
	failSet struct{}
)

type svcV1 struct{ N, Fail int }

func (s *svcV1) Receive(ctx pa.Context) {
	if _, ok := ctx.Message().(*setFail); ok {
		s.Fail = 1
		ctx.Respond(&failSet{})
	}
}

type svcV2 struct{ N int64 }

func (s *svcV2) Receive(pa.Context) {}

type svcV3 struct{ N int64 }

func (s *svcV3) Receive(pa.Context) {}

func svcCatalog(t testing.TB) *registry.Catalog {
	cat := registry.New()
	must(t, registry.Register(cat, "svc", 1, func() *svcV1 { return &svcV1{} }, registry.Accepts(&bumpV1{}, &setFail{})))
	must(t, registry.Register(cat, "svc", 2, func() *svcV2 { return &svcV2{} }, registry.Accepts(&bump{})))
	must(t, registry.Register(cat, "svc", 3, func() *svcV3 { return &svcV3{} }))
	must(t, registry.Adapt(cat, "svc", 2, func(*bumpV1) *bump { return &bump{} }))
	must(t, registry.Adapt(cat, "svc", 1, func(*bump) *bumpV1 { return &bumpV1{} }))
	must(t, registry.Adapt(cat, "svc", 2, func(*setFail) *bump { return &bump{} }))
	must(t, registry.Migrate(cat, "svc", 1, 2, func(o *svcV1) (*svcV2, error) {
		if o.Fail != 0 {
			return nil, errors.New("told to fail")
		}
		return &svcV2{N: int64(o.N)}, nil
	}))
	must(t, registry.Migrate(cat, "svc", 2, 1, func(o *svcV2) (*svcV1, error) { return &svcV1{N: int(o.N)}, nil }))
	must(t, registry.Migrate(cat, "svc", 1, 3, func(*svcV1) (*svcV3, error) { return nil, errors.New("no way to 3") }))
	return cat
}

type fixture struct {
	node  *molt.Node
	mgr   *manager.Manager
	admin *admin.Admin
}

// newFixture runs a node with n svc actors named s-0 ... (the first three
// labelled region=eu), a manager and an admin.
func newFixture(t testing.TB, n int, cfg admin.Config) *fixture {
	t.Helper()
	// A message to a stopped subscriber is a dead letter, whose log
	// throttle keeps a goroutine for its interval: short, so that goleak
	// sees it gone.
	node := molt.NewNode(svcCatalog(t), molt.WithConfig(pa.WithDeadLetterThrottleInterval(time.Millisecond)))
	mgr := manager.Spawn(node)
	a, err := admin.Spawn(node, mgr, cfg)
	if err != nil {
		mgr.Stop()
		node.Shutdown()
		t.Fatalf("admin.Spawn: %v", err)
	}
	fx := &fixture{node: node, mgr: mgr, admin: a}
	t.Cleanup(func() {
		a.Stop()
		mgr.Stop()
		node.Shutdown()
	})
	for i := range n {
		labels := map[string]string{"region": "us"}
		if i < 3 {
			labels["region"] = "eu"
		}
		_, err := node.Spawn("svc", 1, molt.WithName(name(i)), molt.WithLabels(labels))
		must(t, err)
	}
	return fx
}

func name(i int) string { return "s-" + string(rune('0'+i/10)) + string(rune('0'+i%10)) }

// ask sends req to the admin and returns its answer, or fails the test
// saying the admin did not answer.
func (fx *fixture) ask(t testing.TB, req proto.Message) any {
	t.Helper()
	res, err := fx.node.Root().RequestFuture(fx.admin.PID(), req, 15*time.Second).Result()
	if err != nil {
		t.Fatalf("the admin did not answer %T within 15s: %v", req, err)
	}
	return res
}

func answer[T any](t testing.TB, got any) T {
	t.Helper()
	v, ok := got.(T)
	if !ok {
		var want T
		t.Fatalf("the admin answered %T %v, want %T", got, got, want)
	}
	return v
}

// refused fails t unless got is a Refused whose reason says want.
func refused(t testing.TB, got any, want string) {
	t.Helper()
	r := answer[*admin.Refused](t, got)
	if !containsFold(r.GetReason(), want) {
		t.Errorf("refused with %q, want a reason saying %q", r.GetReason(), want)
	}
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// versionOf returns the version the directory says the actor runs.
func (fx *fixture) versionOf(t testing.TB, actor string) uint32 {
	t.Helper()
	es := fx.node.Directory().ByName(actor)
	if len(es) != 1 {
		t.Fatalf("%s is not live", actor)
	}
	return es[0].Version
}

// events is a subscriber that collects what the admin relays.
type events struct {
	pid *pa.PID
	ch  chan any
}

func newEvents(t testing.TB, fx *fixture) *events {
	e := &events{ch: make(chan any, 1024)}
	e.pid = fx.node.Root().Spawn(pa.PropsFromFunc(func(ctx pa.Context) {
		switch m := ctx.Message().(type) {
		case *manager.Event, *admin.Subscribed:
			e.ch <- m
		}
	}))
	t.Cleanup(func() { _ = fx.node.Root().StopFuture(e.pid).Wait() })
	return e
}

// until returns the events up to the first PACKAGE_DONE of package id.
func (e *events) until(t testing.TB, id string) []*manager.Event {
	t.Helper()
	var got []*manager.Event
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m := <-e.ch:
			ev, ok := m.(*manager.Event)
			if !ok {
				continue
			}
			got = append(got, ev)
			if ev.GetPackageId() == id && ev.GetType() == manager.EventType_PACKAGE_DONE {
				return got
			}
		case <-deadline:
			t.Fatalf("no PACKAGE_DONE of %s reached the subscriber within 15s; it got %d events", id, len(got))
		}
	}
}

func ref(pid *pa.PID) *update.ActorRef { return update.RefOf(pid) }
