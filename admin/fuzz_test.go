package admin_test

// Fuzz targets for every request of the admin service. Each input is
// unmarshalled into the request, sent to a live admin on a small node,
// and the admin must answer it, and still answer a ListActors after it:
//
//	go test -run '^$' -fuzz FuzzUpdateActors -fuzztime 20s ./admin/

import (
	"testing"
	"time"

	"github.com/molt-go/molt/admin"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

func fuzzRequest[M proto.Message](f *testing.F, newMsg func() M, seeds ...proto.Message) {
	for _, s := range seeds {
		b, err := proto.Marshal(s)
		must(f, err)
		f.Add(b)
	}
	f.Add([]byte{})
	fx := newFixture(f, 4, admin.Config{MaxSubscribers: 4, MaxTargets: 8})
	f.Fuzz(func(t *testing.T, data []byte) {
		msg := newMsg()
		if proto.Unmarshal(data, msg) != nil {
			return
		}
		// No answer within the longest wait an operation may take (twice
		// the longest deadline plus a second) would be a hang; the fuzzed
		// updates reach stable actors, which answer at once.
		res, err := fx.node.Root().RequestFuture(fx.admin.PID(), msg, 30*time.Second).Result()
		if err != nil || res == nil {
			t.Fatalf("the admin did not answer %T %v: %v", msg, msg, err)
		}
		if _, ok := fx.ask(t, &admin.ListActors{}).(*admin.ActorList); !ok {
			t.Fatalf("the admin does not list actors after %T %v", msg, msg)
		}
	})
}

func FuzzListActors(f *testing.F) {
	fuzzRequest(f, func() *admin.ListActors { return &admin.ListActors{} },
		&admin.ListActors{Kind: "svc", Labels: map[string]string{"region": "eu"}, Offset: 1, Limit: 2})
}

func FuzzDescribeKind(f *testing.F) {
	fuzzRequest(f, func() *admin.DescribeKind { return &admin.DescribeKind{} }, &admin.DescribeKind{Kind: "svc"})
}

func FuzzUpdateActors(f *testing.F) {
	fuzzRequest(f, func() *admin.UpdateActors { return &admin.UpdateActors{} },
		&admin.UpdateActors{Name: "s-00", ToVersion: 2},
		&admin.UpdateActors{Selector: &admin.Selector{Kind: "svc"}, ToVersion: 3, Stage: true, Deadline: durationpb.New(time.Second)},
		&admin.UpdateActors{Pid: &update.ActorRef{Id: "s-01"}, ToVersion: 1, Order: update.Order_ORDER_IN_ORDER})
}

func FuzzRunPackage(f *testing.F) {
	fuzzRequest(f, func() *admin.RunPackage { return &admin.RunPackage{} },
		&admin.RunPackage{Document: []byte("id: p\nupdates:\n  - kind: svc\n    to: 3\n    targets: {all: true}\n"), DryRun: true},
		&admin.RunPackage{Format: "json", Document: []byte(`{"id":"p","updates":[{"kind":"svc","to":3,"targets":{"all":true}}]}`)})
}

func FuzzCancelPackage(f *testing.F) {
	fuzzRequest(f, func() *admin.CancelPackage { return &admin.CancelPackage{} }, &admin.CancelPackage{PackageId: "p"})
}

func FuzzRollBackLast(f *testing.F) {
	fuzzRequest(f, func() *admin.RollBackLast { return &admin.RollBackLast{} }, &admin.RollBackLast{DryRun: true, Summary: true})
}

func FuzzSubscribe(f *testing.F) {
	fuzzRequest(f, func() *admin.Subscribe { return &admin.Subscribe{} }, &admin.Subscribe{Subscriber: &update.ActorRef{Id: "nobody"}})
}

func FuzzUnsubscribe(f *testing.F) {
	fuzzRequest(f, func() *admin.Unsubscribe { return &admin.Unsubscribe{} }, &admin.Unsubscribe{Subscriber: &update.ActorRef{Id: "nobody"}})
}

func FuzzTakeoverStatus(f *testing.F) {
	fuzzRequest(f, func() *admin.TakeoverStatus { return &admin.TakeoverStatus{} }, &admin.TakeoverStatus{})
}
