package manager_test

// Fuzz targets for every protobuf message the manager takes from outside:
// its requests (RunPackage, CancelPackage, Subscribe, Unsubscribe) and the
// results actors send it (UpdateResult, ProbationResult), which another
// process could forge. Each input is unmarshalled into the message, sent
// to a live manager on a small node, and the manager must answer (or, for
// a one-way message, still answer a dry run after it) without panicking,
// and leave the node's actors as they were. The node's only migration up
// fails, so even a valid package that runs changes nothing.
//
//	go test -run '^$' -fuzz FuzzRunPackage -fuzztime 20s ./update/manager/

import (
	"errors"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
	"google.golang.org/protobuf/proto"
)

type fuzzFixture struct {
	node  *molt.Node
	m     *manager.Manager
	pids  []*pa.PID
	probe *pa.PID // the sender of one-way messages
}

func newFuzzFixture(f *testing.F) *fuzzFixture {
	cat := registry.New()
	must(f, registry.Register(cat, "fz", 1, func() *acctV1 { return &acctV1{} }))
	must(f, registry.Register(cat, "fz", 2, func() *acctV2 { return &acctV2{} }))
	must(f, registry.Migrate(cat, "fz", 1, 2, func(*acctV1) (*acctV2, error) { return nil, errors.New("fuzzing: no update may succeed") }))
	must(f, registry.Migrate(cat, "fz", 2, 1, func(o *acctV2) (*acctV1, error) { return &acctV1{Balance: o.Cents / 100}, nil }))
	node := molt.NewNode(cat)
	fx := &fuzzFixture{node: node, m: manager.Spawn(node)}
	for i, name := range []string{"a", "b", "c"} {
		pid, err := node.Spawn("fz", 1, molt.WithName(name), molt.WithLabels(map[string]string{"tier": "x"}))
		must(f, err)
		node.Root().Send(pid, &deposit{N: int64(i + 1)})
		fx.pids = append(fx.pids, pid)
	}
	fx.probe = node.Root().Spawn(pa.PropsFromFunc(func(pa.Context) {}))
	f.Cleanup(func() {
		_ = node.Root().StopFuture(fx.probe).Wait()
		fx.m.Stop()
		node.Shutdown()
	})
	return fx
}

const fuzzDryRun = "id: probe\nupdates:\n  - kind: fz\n    to: 2\n    targets: {all: true}\n"

// check fails t unless the manager still answers a dry run and every actor
// runs version 1 with its balance.
func (fx *fuzzFixture) check(t *testing.T, after proto.Message) {
	t.Helper()
	v, err := fx.node.Root().RequestFuture(fx.m.PID(), &manager.RunPackage{Format: "yaml", Document: []byte(fuzzDryRun), DryRun: true}, 10*time.Second).Result()
	if _, ok := v.(*manager.PackageAccepted); !ok || err != nil {
		t.Fatalf("after %v, the manager does not answer a dry run: %v, %v", after, v, err)
	}
	for i, pid := range fx.pids {
		if e, ok := fx.node.Directory().Lookup(pid); !ok || e.Version != 1 {
			t.Fatalf("after %v, %s is at %+v, want version 1", after, pid.Id, e)
		}
		if b := ask(t, fx.node, pid, &balance{}); b != int64(i+1) {
			t.Fatalf("after %v, %s has balance %v, want %d", after, pid.Id, b, i+1)
		}
	}
}

// request sends msg and fails t unless the answer is one of the manager's.
func (fx *fuzzFixture) request(t *testing.T, msg proto.Message) {
	t.Helper()
	v, err := fx.node.Root().RequestFuture(fx.m.PID(), msg, 10*time.Second).Result()
	if err != nil {
		t.Fatalf("no answer to %v: %v", msg, err)
	}
	switch v.(type) {
	case *manager.PackageAccepted, *manager.PackageRefused:
	default:
		t.Fatalf("answer to %v: %T %v", msg, v, v)
	}
}

func addSeeds(f *testing.F, msgs ...proto.Message) {
	for _, m := range msgs {
		b, err := proto.Marshal(m)
		must(f, err)
		f.Add(b)
	}
	f.Add([]byte{})
}

func FuzzRunPackage(f *testing.F) {
	addSeeds(f,
		&manager.RunPackage{Format: "yaml", Document: []byte(fuzzDryRun), DryRun: true},
		&manager.RunPackage{Format: "yaml", Document: []byte(fuzzDryRun)},
		&manager.RunPackage{Format: "json", Document: []byte(`{"id": "j", "updates": [{"kind": "fz", "to": 2, "targets": {"actors": ["a", "b"]}}], "groups": [{"name": "g", "members": ["a", "b"]}], "probation": {"messages": 3}}`)},
		&manager.RunPackage{Format: "yaml", Document: []byte("id: r\nupdates:\n  - kind: fz\n    to: 2\n    targets: {labels: {tier: x}}\nrollout: {strategy: rolling, batchSize: 1, canaries: 1, failureBudget: 5, onBudgetExceeded: rollback}\nquiescence: {perActor: 50ms, package: 2s}\n")},
		&manager.RunPackage{Format: "toml", Document: []byte("id = 1")},
		&manager.RunPackage{Format: "json", Document: []byte(`{"id": ""}`)},
	)
	fx := newFuzzFixture(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		req := &manager.RunPackage{}
		if proto.Unmarshal(data, req) != nil {
			return
		}
		fx.request(t, req)
		fx.check(t, req)
	})
}

func FuzzCancelPackage(f *testing.F) {
	addSeeds(f, &manager.CancelPackage{PackageId: "probe"}, &manager.CancelPackage{PackageId: ""}, &manager.CancelPackage{PackageId: "x#1"})
	fx := newFuzzFixture(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		req := &manager.CancelPackage{}
		if proto.Unmarshal(data, req) != nil {
			return
		}
		fx.request(t, req)
		fx.check(t, req)
	})
}

// fuzzOneWay fuzzes a message the manager does not answer: it is sent from
// the probe actor, then the manager must still answer a dry run.
func fuzzOneWay[M proto.Message](f *testing.F, newMsg func() M, seeds ...proto.Message) {
	addSeeds(f, seeds...)
	fx := newFuzzFixture(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		msg := newMsg()
		if proto.Unmarshal(data, msg) != nil {
			return
		}
		fx.node.Root().RequestWithCustomSender(fx.m.PID(), msg, fx.probe)
		fx.check(t, msg)
	})
}

func FuzzSubscribe(f *testing.F) {
	fuzzOneWay(f, func() *manager.Subscribe { return &manager.Subscribe{} }, &manager.Subscribe{})
}

func FuzzUnsubscribe(f *testing.F) {
	fuzzOneWay(f, func() *manager.Unsubscribe { return &manager.Unsubscribe{} }, &manager.Unsubscribe{})
}

func FuzzUpdateResult(f *testing.F) {
	fuzzOneWay(f, func() *update.UpdateResult { return &update.UpdateResult{} },
		&update.UpdateResult{UpdateId: "probe#1", Actor: "a", Kind: "fz", Outcome: update.Outcome_OUTCOME_COMMITTED, FromVersion: 1, ToVersion: 2},
		&update.UpdateResult{UpdateId: "probe#1", Actor: "b", Outcome: update.Outcome_OUTCOME_STAGED, Reason: "r"},
	)
}

func FuzzProbationResult(f *testing.F) {
	fuzzOneWay(f, func() *update.ProbationResult { return &update.ProbationResult{} },
		&update.ProbationResult{UpdateId: "probe#1", Actor: "a", Kind: "fz", Outcome: update.ProbationOutcome_PROBATION_OUTCOME_ROLLED_BACK, ProbationVersion: 2, Version: 1},
		&update.ProbationResult{UpdateId: "#", Outcome: update.ProbationOutcome_PROBATION_OUTCOME_PASSED, DurationNs: -1},
	)
}
