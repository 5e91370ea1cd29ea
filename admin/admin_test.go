package admin_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/admin"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestListActorsFiltersAndPages(t *testing.T) {
	fx := newFixture(t, 5, admin.Config{MaxPageSize: 3, DefaultPageSize: 2})
	got := answer[*admin.ActorList](t, fx.ask(t, &admin.ListActors{}))
	if got.GetTotal() != 5 || len(got.GetActors()) != 2 || got.GetNextOffset() != 2 {
		t.Fatalf("first default page: total %d, %d actors, next %d; want 5, 2 (DefaultPageSize), 2", got.GetTotal(), len(got.GetActors()), got.GetNextOffset())
	}
	a := got.GetActors()[0]
	if a.GetName() != "s-00" || a.GetKind() != "svc" || a.GetVersion() != 1 || a.GetLabels()["region"] != "eu" || a.GetPid().GetId() != "s-00" || a.GetLastUpdate() != nil {
		t.Errorf("first actor = %v", a)
	}
	got = answer[*admin.ActorList](t, fx.ask(t, &admin.ListActors{Offset: 2, Limit: 100}))
	if len(got.GetActors()) != 3 || got.GetNextOffset() != 0 || got.GetActors()[0].GetName() != "s-02" {
		t.Errorf("a limit over MaxPageSize (3) from offset 2: %d actors from %s, next %d; want 3 from s-02, next 0", len(got.GetActors()), got.GetActors()[0].GetName(), got.GetNextOffset())
	}
	got = answer[*admin.ActorList](t, fx.ask(t, &admin.ListActors{Kind: "svc", Labels: map[string]string{"region": "eu"}, Limit: 3}))
	if got.GetTotal() != 3 || len(got.GetActors()) != 3 {
		t.Errorf("region=eu: total %d, %d actors, want 3", got.GetTotal(), len(got.GetActors()))
	}
	got = answer[*admin.ActorList](t, fx.ask(t, &admin.ListActors{Kind: "nothing"}))
	if got.GetTotal() != 0 || len(got.GetActors()) != 0 {
		t.Errorf("unknown kind: %v", got)
	}
	got = answer[*admin.ActorList](t, fx.ask(t, &admin.ListActors{Offset: 99}))
	if got.GetTotal() != 5 || len(got.GetActors()) != 0 || got.GetNextOffset() != 0 {
		t.Errorf("past the end: %v", got)
	}

	// The last update's result shows once an update ended.
	res := answer[*admin.UpdateActorsResult](t, fx.ask(t, &admin.UpdateActors{Name: "s-01", ToVersion: 3}))
	if res.GetResults()[0].GetOutcome() != update.Outcome_OUTCOME_ABORTED {
		t.Fatalf("update of s-01 to 3: %v", res)
	}
	got = answer[*admin.ActorList](t, fx.ask(t, &admin.ListActors{Offset: 1, Limit: 1}))
	last := got.GetActors()[0].GetLastUpdate()
	if last.GetOutcome() != update.Outcome_OUTCOME_ABORTED || last.GetPhase() != update.Phase_PHASE_STATE_TRANSFER || last.GetUpdateId() != res.GetUpdateId() {
		t.Errorf("s-01's last update = %v, want the aborted update %s", last, res.GetUpdateId())
	}
}

func TestRequestsOverLimitsAreRefused(t *testing.T) {
	fx := newFixture(t, 2, admin.Config{MaxLabels: 1, MaxStringBytes: 16, MaxTargets: 1, MaxDocumentBytes: 64})
	long := strings.Repeat("k", 17)
	for _, c := range []struct {
		req  proto.Message
		want string
	}{
		{&admin.ListActors{Kind: long}, "MaxStringBytes"},
		{&admin.ListActors{Labels: map[string]string{"a": "1", "b": "2"}}, "MaxLabels"},
		{&admin.ListActors{Labels: map[string]string{long: "1"}}, "MaxStringBytes"},
		{&admin.DescribeKind{Kind: long}, "MaxStringBytes"},
		{&admin.UpdateActors{Name: long, ToVersion: 2}, "MaxStringBytes"},
		{&admin.UpdateActors{Pid: &update.ActorRef{Id: "s-00", Address: long}, ToVersion: 2}, "MaxStringBytes"},
		{&admin.UpdateActors{Selector: &admin.Selector{Kind: "svc"}, ToVersion: 2}, "MaxTargets"},
		{&admin.UpdateActors{Selector: &admin.Selector{Kind: "svc", Labels: map[string]string{"a": "1", "b": "2"}}, ToVersion: 2}, "MaxLabels"},
		{&admin.RunPackage{Document: []byte(strings.Repeat("x", 65))}, "MaxDocumentBytes"},
		{&admin.CancelPackage{PackageId: long}, "MaxStringBytes"},
		{&admin.Subscribe{Subscriber: &update.ActorRef{Id: long}}, "MaxStringBytes"},
		{&admin.Unsubscribe{Subscriber: &update.ActorRef{Id: long}}, "MaxStringBytes"},
	} {
		refused(t, fx.ask(t, c.req), c.want)
	}
	for _, n := range []string{"s-00", "s-01"} {
		if v := fx.versionOf(t, n); v != 1 {
			t.Errorf("%s runs version %d after refused requests, want 1", n, v)
		}
	}
}

func TestDescribeKind(t *testing.T) {
	fx := newFixture(t, 2, admin.Config{})
	d := answer[*admin.KindDescription](t, fx.ask(t, &admin.DescribeKind{Kind: "svc"}))
	if len(d.GetVersions()) != 3 {
		t.Fatalf("svc has %d versions, want 3: %v", len(d.GetVersions()), d)
	}
	v1, v2 := d.GetVersions()[0], d.GetVersions()[1]
	if v1.GetVersion() != 1 || v1.GetLiveActors() != 2 || v1.GetState() != "*admin_test.svcV1" || v1.GetCodec() != "msgpack" || !v1.GetDeclared() {
		t.Errorf("version 1 = %v", v1)
	}
	if !slices.Equal(v2.GetAccepts(), []string{"*admin_test.bump"}) || len(v2.GetAdapters()) != 2 || v2.GetAdapters()[0].GetFrom() != "*admin_test.bumpV1" || v2.GetAdapters()[0].GetTo() != "*admin_test.bump" || v2.GetLiveActors() != 0 {
		t.Errorf("version 2 = %v", v2)
	}
	var migs []string
	for _, m := range d.GetMigrations() {
		s := "up"
		if m.GetDown() {
			s = "down"
		}
		migs = append(migs, string(rune('0'+m.GetFrom()))+">"+string(rune('0'+m.GetTo()))+" "+s)
	}
	if want := []string{"1>2 up", "1>3 up", "2>1 down"}; !slices.Equal(migs, want) {
		t.Errorf("migrations %v, want %v", migs, want)
	}
	refused(t, fx.ask(t, &admin.DescribeKind{Kind: "nothing"}), "not registered")
}

func TestUpdateActors(t *testing.T) {
	fx := newFixture(t, 5, admin.Config{})
	res := answer[*admin.UpdateActorsResult](t, fx.ask(t, &admin.UpdateActors{Name: "s-00", ToVersion: 2, UpdateId: "by-name"}))
	if len(res.GetResults()) != 1 || res.GetResults()[0].GetOutcome() != update.Outcome_OUTCOME_COMMITTED || res.GetUpdateId() != "by-name" || res.GetResults()[0].GetUpdateId() != "by-name" {
		t.Fatalf("by name: %v", res)
	}
	pid := fx.node.Directory().ByName("s-01")[0].PID
	res = answer[*admin.UpdateActorsResult](t, fx.ask(t, &admin.UpdateActors{Pid: ref(pid), ToVersion: 2, Deadline: durationpb.New(time.Second), Order: update.Order_ORDER_IN_ORDER}))
	if res.GetResults()[0].GetOutcome() != update.Outcome_OUTCOME_COMMITTED || !strings.HasPrefix(res.GetUpdateId(), "molt-admin-") {
		t.Fatalf("by PID, in order, with an id the admin made: %v", res)
	}
	// A selection: s-02 is at 1, s-00 and s-01 at 2 refuse from_version 1.
	res = answer[*admin.UpdateActorsResult](t, fx.ask(t, &admin.UpdateActors{Selector: &admin.Selector{Kind: "svc", Labels: map[string]string{"region": "eu"}}, ToVersion: 2, FromVersion: 1}))
	var got []string
	for _, r := range res.GetResults() {
		got = append(got, r.GetActor()+" "+r.GetOutcome().String())
	}
	if want := []string{"s-00 OUTCOME_REJECTED", "s-01 OUTCOME_REJECTED", "s-02 OUTCOME_COMMITTED"}; !slices.Equal(got, want) {
		t.Errorf("selection: %v, want %v", got, want)
	}
	res = answer[*admin.UpdateActorsResult](t, fx.ask(t, &admin.UpdateActors{Name: "s-03", ToVersion: 3}))
	if r := res.GetResults()[0]; r.GetOutcome() != update.Outcome_OUTCOME_ABORTED || r.GetPhase() != update.Phase_PHASE_STATE_TRANSFER {
		t.Errorf("a failing migration: %v", r)
	}
	res = answer[*admin.UpdateActorsResult](t, fx.ask(t, &admin.UpdateActors{Selector: &admin.Selector{Kind: "svc", Labels: map[string]string{"region": "mars"}}, ToVersion: 2}))
	if len(res.GetResults()) != 0 {
		t.Errorf("an empty selection: %v", res)
	}

	refused(t, fx.ask(t, &admin.UpdateActors{Name: "nobody", ToVersion: 2}), "no live molt actor")
	refused(t, fx.ask(t, &admin.UpdateActors{Pid: &update.ActorRef{Id: "nobody"}, ToVersion: 2}), "no live molt actor")
	refused(t, fx.ask(t, &admin.UpdateActors{ToVersion: 2}), "exactly one of name, pid and selector (0 given)")
	refused(t, fx.ask(t, &admin.UpdateActors{Name: "s-04", Selector: &admin.Selector{Kind: "svc"}, ToVersion: 2}), "(2 given)")
	refused(t, fx.ask(t, &admin.UpdateActors{Selector: &admin.Selector{}, ToVersion: 2}), "names no kind")
	refused(t, fx.ask(t, &admin.UpdateActors{Name: "s-04"}), "to_version is missing")
	refused(t, fx.ask(t, &admin.UpdateActors{Name: "s-04", ToVersion: 2, Deadline: durationpb.New(time.Hour)}), "above the maximum")
	if v := fx.versionOf(t, "s-04"); v != 1 {
		t.Errorf("s-04 runs %d after refused updates, want 1", v)
	}
}

func TestStagedUpdateIsAllOrNothing(t *testing.T) {
	fx := newFixture(t, 4, admin.Config{})
	eu := &admin.Selector{Kind: "svc", Labels: map[string]string{"region": "eu"}}
	// s-01 will fail its migration: the other two are aborted with it.
	if _, err := fx.node.Root().RequestFuture(fx.node.Directory().ByName("s-01")[0].PID, &setFail{}, 10*time.Second).Result(); err != nil {
		t.Fatalf("s-01 did not acknowledge setFail: %v", err)
	}
	res := answer[*admin.UpdateActorsResult](t, fx.ask(t, &admin.UpdateActors{Selector: eu, ToVersion: 2, Stage: true}))
	if res.GetCommitted() || len(res.GetResults()) != 3 {
		t.Fatalf("staged with a failing member: %v", res)
	}
	for _, r := range res.GetResults() {
		if r.GetOutcome() != update.Outcome_OUTCOME_ABORTED {
			t.Errorf("%s: %v (%s), want aborted", r.GetActor(), r.GetOutcome(), r.GetReason())
		}
	}
	for _, n := range []string{"s-00", "s-01", "s-02"} {
		if v := fx.versionOf(t, n); v != 1 {
			t.Errorf("%s runs %d after an aborted staged update, want 1", n, v)
		}
	}
	res = answer[*admin.UpdateActorsResult](t, fx.ask(t, &admin.UpdateActors{Selector: &admin.Selector{Kind: "svc", Labels: map[string]string{"region": "us"}}, ToVersion: 2, Stage: true}))
	if !res.GetCommitted() || len(res.GetResults()) != 1 || res.GetResults()[0].GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("staged, every member able: %v", res)
	}
}

func TestPackagesEventsAndRollBackLast(t *testing.T) {
	fx := newFixture(t, 3, admin.Config{})
	refused(t, fx.ask(t, &admin.RollBackLast{}), "nothing to roll back")

	ev := newEvents(t, fx)
	sub := answer[*admin.Subscribed](t, fx.ask(t, &admin.Subscribe{Subscriber: ref(ev.pid)}))
	if sub.GetSubscriber().GetId() != ev.pid.GetId() || sub.GetAlready() || sub.GetSubscribers() != 1 {
		t.Fatalf("Subscribed = %v", sub)
	}
	doc := []byte("id: up\nupdates:\n  - kind: svc\n    from: [1]\n    to: 2\n    targets: {all: true, labels: {region: eu}}\ngroups:\n  - name: pair\n    members: [s-00, s-01]\n")
	dry := answer[*manager.PackageAccepted](t, fx.ask(t, &admin.RunPackage{Document: doc, DryRun: true, Summary: true}))
	if !dry.GetDryRun() || dry.GetActors() != 3 || dry.GetPlan() == "" {
		t.Fatalf("dry run: %v", dry)
	}
	acc := answer[*manager.PackageAccepted](t, fx.ask(t, &admin.RunPackage{Document: doc}))
	if acc.GetPackageId() != "up" || acc.GetDryRun() {
		t.Fatalf("run: %v", acc)
	}
	got := ev.until(t, "up")
	if done := got[len(got)-1]; done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED || done.GetUpdated() != 3 {
		t.Fatalf("package up ended %v: %v", done.GetPackageOutcome(), done)
	}
	for _, n := range []string{"s-00", "s-01", "s-02"} {
		if v := fx.versionOf(t, n); v != 2 {
			t.Fatalf("%s runs %d after package up, want 2", n, v)
		}
	}

	dry = answer[*manager.PackageAccepted](t, fx.ask(t, &admin.RollBackLast{DryRun: true}))
	if dry.GetPackageId() != "rollback-up" || dry.GetActors() != 3 || !strings.Contains(dry.GetPlan(), "pair") {
		t.Fatalf("dry run of the rollback: %v", dry)
	}
	acc = answer[*manager.PackageAccepted](t, fx.ask(t, &admin.RollBackLast{}))
	if acc.GetPackageId() != "rollback-up" {
		t.Fatalf("rollback: %v", acc)
	}
	got = ev.until(t, "rollback-up")
	if done := got[len(got)-1]; done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED {
		t.Fatalf("rollback-up ended %v: %s", done.GetPackageOutcome(), done.GetReason())
	}
	for _, n := range []string{"s-00", "s-01", "s-02"} {
		if v := fx.versionOf(t, n); v != 1 {
			t.Errorf("%s runs %d after the rollback, want 1", n, v)
		}
	}
	// The rollback is now the last package: rolling it back goes up again.
	dry = answer[*manager.PackageAccepted](t, fx.ask(t, &admin.RollBackLast{DryRun: true}))
	if dry.GetPackageId() != "rollback-rollback-up" || dry.GetActors() != 3 {
		t.Errorf("the rollback of the rollback: %v", dry)
	}

	bad := answer[*manager.PackageRefused](t, fx.ask(t, &admin.RunPackage{Document: []byte("id: [")}))
	if bad.GetReason() == "" {
		t.Errorf("a malformed package: %v", bad)
	}
	answer[*manager.PackageRefused](t, fx.ask(t, &admin.CancelPackage{PackageId: "nothing-runs"}))

	un := answer[*admin.Unsubscribed](t, fx.ask(t, &admin.Unsubscribe{Subscriber: ref(ev.pid)}))
	if !un.GetWas() {
		t.Errorf("Unsubscribed = %v", un)
	}
}

func TestSubscriptionsAreBounded(t *testing.T) {
	fx := newFixture(t, 1, admin.Config{MaxSubscribers: 1})
	a, b := newEvents(t, fx), newEvents(t, fx)
	answer[*admin.Subscribed](t, fx.ask(t, &admin.Subscribe{Subscriber: ref(a.pid)}))
	again := answer[*admin.Subscribed](t, fx.ask(t, &admin.Subscribe{Subscriber: ref(a.pid)}))
	if !again.GetAlready() || again.GetSubscribers() != 1 {
		t.Errorf("subscribing twice: %v", again)
	}
	refused(t, fx.ask(t, &admin.Subscribe{Subscriber: ref(b.pid)}), "MaxSubscribers")
	// A subscriber that stops frees its place.
	must(t, fx.node.Root().StopFuture(a.pid).Wait())
	deadline := time.Now().Add(10 * time.Second)
	for {
		res := fx.ask(t, &admin.Subscribe{Subscriber: ref(b.pid)})
		if _, ok := res.(*admin.Subscribed); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stopped subscriber's place was not freed within 10s: %v", res)
		}
		time.Sleep(time.Millisecond) // polls the admin's answer; correctness does not depend on it
	}
	// A plain Send naming the subscriber: the subscriber gets the answer.
	fx.node.Root().Send(fx.admin.PID(), &admin.Subscribe{Subscriber: ref(b.pid)})
	select {
	case m := <-b.ch:
		if s, ok := m.(*admin.Subscribed); !ok || !s.GetAlready() {
			t.Errorf("the subscriber got %v, want Subscribed{already}", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a Subscribe sent with Send did not answer the subscriber within 10s")
	}
	un := answer[*admin.Unsubscribed](t, fx.ask(t, &admin.Unsubscribe{Subscriber: ref(a.pid)}))
	if un.GetWas() {
		t.Errorf("a stopped subscriber was still subscribed: %v", un)
	}
}

func TestWithoutManager(t *testing.T) {
	node := molt.NewNode(svcCatalog(t))
	t.Cleanup(node.Shutdown)
	a, err := admin.Spawn(node, nil, admin.Config{Name: "plain-admin"})
	must(t, err)
	t.Cleanup(a.Stop)
	fx := &fixture{node: node, admin: a}
	for _, req := range []proto.Message{&admin.RunPackage{}, &admin.CancelPackage{}, &admin.RollBackLast{}, &admin.Subscribe{}} {
		refused(t, fx.ask(t, req), "without an update manager")
	}
	answer[*admin.ActorList](t, fx.ask(t, &admin.ListActors{}))
}

func TestSpawnErrors(t *testing.T) {
	fx := newFixture(t, 0, admin.Config{})
	if a, err := admin.Spawn(fx.node, fx.mgr, admin.Config{}); !errors.Is(err, admin.ErrNameTaken) || a != nil {
		t.Errorf("a second admin under %s: %v, %v; want ErrNameTaken", admin.DefaultName, a, err)
	}
	if fx.admin.PID().GetId() != admin.DefaultName {
		t.Errorf("the admin's id is %q, want %q", fx.admin.PID().GetId(), admin.DefaultName)
	}
	err := admin.Config{Name: "a/b", MaxTargets: -1, ManagerTimeout: -1, MaxStringBytes: 2000}.Validate()
	for _, want := range []string{"Config.Name", "Config.MaxTargets", "Config.ManagerTimeout", "Config.MaxStringBytes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want it to name %s", err, want)
		}
	}
	if _, err := admin.Spawn(fx.node, fx.mgr, admin.Config{MaxPageSize: -1}); err == nil {
		t.Error("Spawn took an invalid Config")
	}
}

// TestRequestsFromAnotherProcessAreAuthorized: a message whose header
// carries an origin (what the node's remote writes on every message from
// another process) goes through the node's access control, which here,
// with no remote configured, refuses it; an event claiming to come from
// another process is not relayed.
func TestRequestsFromAnotherProcessAreAuthorized(t *testing.T) {
	fx := newFixture(t, 1, admin.Config{})
	remote := map[string]string{"molt-origin-address": "192.0.2.1:4000", "molt-origin-credential": "token"}
	for _, req := range []proto.Message{&admin.ListActors{}, &admin.UpdateActors{Name: "s-00", ToVersion: 2}, &admin.RollBackLast{}, &admin.TakeoverStatus{}} {
		f := pa.NewFuture(fx.node.System(), 10*time.Second)
		fx.node.Root().Send(fx.admin.PID(), &pa.MessageEnvelope{Header: remote, Message: req, Sender: f.PID()})
		res, err := f.Result()
		if err != nil {
			t.Fatalf("no answer to %T from another process: %v", req, err)
		}
		refused(t, res, "refused")
	}
	if v := fx.versionOf(t, "s-00"); v != 1 {
		t.Errorf("s-00 runs %d after a refused update, want 1", v)
	}

	ev := newEvents(t, fx)
	answer[*admin.Subscribed](t, fx.ask(t, &admin.Subscribe{Subscriber: ref(ev.pid)}))
	fx.node.Root().Send(fx.admin.PID(), &pa.MessageEnvelope{Header: remote, Message: &manager.Event{PackageId: "forged"}})
	fx.node.Root().Send(fx.admin.PID(), &manager.Event{PackageId: "local"})
	select {
	case m := <-ev.ch:
		if e, ok := m.(*manager.Event); !ok || e.GetPackageId() != "local" {
			t.Errorf("the subscriber got %v first, want the local event (the forged one dropped)", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the local event was not relayed within 10s")
	}
}

// TestSubscribeRefusesAFuture: a Subscribe that would subscribe a future
// (sent with RequestFuture and naming no subscriber, or naming a future) is
// refused, saying why and what to do, and subscribes no one. A future takes
// one answer; the admin's Watch and events used to overwrite it while its
// owner read it (a data race FuzzSubscribe found under -race).
func TestSubscribeRefusesAFuture(t *testing.T) {
	fx := newFixture(t, 0, admin.Config{})
	refused(t, fx.ask(t, &admin.Subscribe{}), "takes one answer")
	f := fx.node.Root().RequestFuture(fx.admin.PID(), &admin.ListActors{}, 15*time.Second)
	refused(t, fx.ask(t, &admin.Subscribe{Subscriber: ref(f.PID())}), "name the actor to receive them")
	if _, err := f.Result(); err != nil {
		t.Fatalf("the future named as subscriber got no answer: %v", err)
	}
	ev := newEvents(t, fx)
	ack := answer[*admin.Subscribed](t, fx.ask(t, &admin.Subscribe{Subscriber: ref(ev.pid)}))
	if ack.GetSubscribers() != 1 {
		t.Fatalf("an actor subscribed after two refused futures makes %d subscribers, want 1", ack.GetSubscribers())
	}
}
