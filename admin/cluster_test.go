package admin_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/admin"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
	"google.golang.org/protobuf/proto"
)

// These tests run the cluster-wide requests on one node, without remote
// (so that they run under -race too): the node is a cluster of one,
// sometimes with a member that cannot be reached (an address no remote
// serves: protoactor answers a request to it with a dead letter). The
// three-member tests are cluster/admin_test.go and the CLI's.

// fakeCluster is an admin.Cluster of given addresses (the admin adds its
// own node's); SetVersion records the targets of the kinds in hosted.
type fakeCluster struct {
	others []string
	hosted []string

	mu      sync.Mutex
	targets map[string]uint32
}

func (c *fakeCluster) Members() []string { return slices.Clone(c.others) }

func (c *fakeCluster) SetVersion(kind string, v uint32) error {
	if !slices.Contains(c.hosted, kind) {
		return fmt.Errorf("%w: %s", admin.ErrNotClusterKind, kind)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.targets == nil {
		c.targets = map[string]uint32{}
	}
	c.targets[kind] = v
	return nil
}

func (c *fakeCluster) target(kind string) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.targets[kind]
}

// unreachable is an address no remote serves in these tests' process.
const unreachable = "127.0.0.1:1"

// clusterEvents subscribes a collector of what the admin relays of its
// cluster-wide packages.
func clusterEvents(t *testing.T, fx *fixture) chan proto.Message {
	t.Helper()
	ch := make(chan proto.Message, 1024)
	pid := fx.node.Root().Spawn(pa.PropsFromFunc(func(ctx pa.Context) {
		switch m := ctx.Message().(type) {
		case *admin.MemberEvent, *admin.ClusterPackageDone:
			ch <- m.(proto.Message)
		}
	}))
	t.Cleanup(func() { _ = fx.node.Root().StopFuture(pid).Wait() })
	answer[*admin.Subscribed](t, fx.ask(t, &admin.Subscribe{Subscriber: update.RefOf(pid)}))
	return ch
}

// clusterDone reads the collector up to the package's ClusterPackageDone,
// and returns it with the MemberEvents before it.
func clusterDone(t *testing.T, ch chan proto.Message, id string) (*admin.ClusterPackageDone, []*admin.MemberEvent) {
	t.Helper()
	var evs []*admin.MemberEvent
	deadline := time.After(15 * time.Second)
	for {
		select {
		case m := <-ch:
			switch e := m.(type) {
			case *admin.MemberEvent:
				evs = append(evs, e)
			case *admin.ClusterPackageDone:
				if e.GetPackageId() == id {
					return e, evs
				}
			}
		case <-deadline:
			t.Fatalf("no ClusterPackageDone of %s within 15s; %d member events", id, len(evs))
		}
	}
}

func TestClusterListPagesAndMissingMembers(t *testing.T) {
	fc := &fakeCluster{}
	fx := newFixture(t, 12, admin.Config{Cluster: fc, PeerTimeout: 5 * time.Second})
	self := fx.node.System().Address()

	var names []string
	req := &admin.ListActors{Kind: "svc", Limit: 5}
	for range 10 {
		page := answer[*admin.ActorList](t, fx.ask(t, req))
		if len(page.GetMembers()) != 1 || !page.GetMembers()[0].GetAnswered() || page.GetMembers()[0].GetAddress() != self {
			t.Fatalf("members of a cluster of one: %v", page.GetMembers())
		}
		for _, a := range page.GetActors() {
			names = append(names, a.GetName())
		}
		if page.GetTotal() != 12 {
			t.Fatalf("total %d, want 12", page.GetTotal())
		}
		if page.GetNextOffset() == 0 {
			break
		}
		req.Offset = page.GetNextOffset()
	}
	var want []string
	for i := range 12 {
		want = append(want, name(i))
	}
	if !slices.Equal(names, want) {
		t.Errorf("the pages listed %v, want s-00 to s-11 once each, in order", names)
	}

	// local: the node's own list, without members.
	local := answer[*admin.ActorList](t, fx.ask(t, &admin.ListActors{Kind: "svc", Local: true}))
	if len(local.GetMembers()) != 0 || local.GetTotal() != 12 {
		t.Errorf("a local list: %d members, total %d", len(local.GetMembers()), local.GetTotal())
	}

	// A member that cannot be reached is reported, the node listed.
	fc.others = []string{unreachable}
	list := answer[*admin.ActorList](t, fx.ask(t, &admin.ListActors{Kind: "svc"}))
	if len(list.GetActors()) != 12 || list.GetTotal() != 12 || len(list.GetMembers()) != 2 {
		t.Fatalf("with a member unreachable: %d actors, total %d, %d members", len(list.GetActors()), list.GetTotal(), len(list.GetMembers()))
	}
	for _, st := range list.GetMembers() {
		switch st.GetAddress() {
		case unreachable:
			if st.GetAnswered() || !strings.Contains(st.GetError(), "could not be delivered") {
				t.Errorf("the unreachable member: %v", st)
			}
		case self:
			if !st.GetAnswered() || st.GetTotal() != 12 {
				t.Errorf("the node itself: %v", st)
			}
		}
	}
}

func TestClusterPackageSetsTheTarget(t *testing.T) {
	fc := &fakeCluster{hosted: []string{"svc"}}
	fx := newFixture(t, 4, admin.Config{Cluster: fc})
	self := fx.node.System().Address()
	ch := clusterEvents(t, fx)
	doc := []byte("id: all-2\nupdates:\n  - kind: svc\n    from: [1]\n    to: 2\n    targets: {all: true}\n")

	dry := answer[*admin.ClusterPackage](t, fx.ask(t, &admin.RunPackage{Format: "yaml", Document: doc, DryRun: true}))
	if !dry.GetAccepted() || !dry.GetDryRun() || len(dry.GetMembers()) != 1 || dry.GetMembers()[0].GetAccepted().GetActors() != 4 {
		t.Fatalf("the dry run: %v", dry)
	}
	if v := fx.versionOf(t, "s-00"); v != 1 || fc.target("svc") != 0 {
		t.Fatalf("a dry run moved s-00 to %d, the target to %d", v, fc.target("svc"))
	}

	res := answer[*admin.ClusterPackage](t, fx.ask(t, &admin.RunPackage{Format: "yaml", Document: doc}))
	if !res.GetAccepted() || res.GetPackageId() != "all-2" {
		t.Fatalf("the package: %v", res)
	}
	done, evs := clusterDone(t, ch, "all-2")
	if done.GetOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED {
		t.Fatalf("the package ended %v: %s", done.GetOutcome(), done.GetReason())
	}
	updated := 0
	for _, e := range evs {
		if e.GetMember() != self {
			t.Errorf("an event of member %q, want %q", e.GetMember(), self)
		}
		if e.GetEvent().GetType() == manager.EventType_ACTOR_UPDATED {
			updated++
		}
	}
	if updated != 4 {
		t.Errorf("%d ACTOR_UPDATED member events, want 4", updated)
	}
	if tg := done.GetTargets(); len(tg) != 1 || tg[0].GetKind() != "svc" || tg[0].GetVersion() != 2 || fc.target("svc") != 2 {
		t.Errorf("targets %v, recorded %d; want svc at 2", tg, fc.target("svc"))
	}
	for i := range 4 {
		if v := fx.versionOf(t, name(i)); v != 2 {
			t.Errorf("%s at %d after the package", name(i), v)
		}
	}

	// By label: no target, as only some actors of the kind moved.
	doc = []byte("id: eu-1\nupdates:\n  - kind: svc\n    from: [2]\n    to: 1\n    targets: {all: true, labels: {region: eu}}\n")
	answer[*admin.ClusterPackage](t, fx.ask(t, &admin.RunPackage{Format: "yaml", Document: doc}))
	done, _ = clusterDone(t, ch, "eu-1")
	if done.GetOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED || len(done.GetTargets()) != 0 || fc.target("svc") != 2 {
		t.Errorf("a package by label ended %v with targets %v (recorded %d)", done.GetOutcome(), done.GetTargets(), fc.target("svc"))
	}
}

func TestClusterPackageRefusals(t *testing.T) {
	fc := &fakeCluster{hosted: []string{"svc"}}
	fx := newFixture(t, 3, admin.Config{Cluster: fc, PeerTimeout: 5 * time.Second})

	named := []byte("id: named\nupdates:\n  - kind: svc\n    to: 2\n    targets: {actors: [s-00]}\n")
	refused(t, fx.ask(t, &admin.RunPackage{Format: "yaml", Document: named}), "names actors")
	grouped := []byte("id: grouped\nupdates:\n  - kind: svc\n    to: 2\n    targets: {all: true}\ngroups:\n  - name: g\n    members: [s-00]\n")
	refused(t, fx.ask(t, &admin.RunPackage{Format: "yaml", Document: grouped}), "groups")
	refused(t, fx.ask(t, &admin.RunPackage{Format: "yaml", Document: []byte("{")}), "cannot be read")

	// local: the package named actors runs on the node alone.
	acc := answer[*manager.PackageAccepted](t, fx.ask(t, &admin.RunPackage{Format: "yaml", Document: named, Local: true, DryRun: true}))
	if acc.GetActors() != 1 {
		t.Errorf("a local dry run plans %d actors, want 1", acc.GetActors())
	}

	// A member that cannot plan it: nothing runs anywhere.
	fc.others = []string{unreachable}
	doc := []byte("id: all-2\nupdates:\n  - kind: svc\n    to: 2\n    targets: {all: true}\n")
	res := answer[*admin.ClusterPackage](t, fx.ask(t, &admin.RunPackage{Format: "yaml", Document: doc}))
	if res.GetAccepted() || !strings.Contains(res.GetReason(), "nothing ran on any member") || !strings.Contains(res.GetReason(), unreachable) {
		t.Errorf("with a member unreachable: %v", res)
	}
	if v := fx.versionOf(t, "s-00"); v != 1 {
		t.Errorf("s-00 moved to %d by a package a member could not plan", v)
	}

	// Cancel: no member runs it.
	c := answer[*admin.ClusterPackage](t, fx.ask(t, &admin.CancelPackage{PackageId: "all-2"}))
	if c.GetAccepted() || len(c.GetMembers()) != 2 {
		t.Errorf("a cancel of a package nobody runs: %v", c)
	}
}

func TestClusterConfigValidate(t *testing.T) {
	err := admin.Config{PeerTimeout: -1, ClusterPackageTimeout: -1, MaxPeers: -1}.Validate()
	for _, f := range []string{"PeerTimeout", "ClusterPackageTimeout", "MaxPeers"} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("Validate did not name %s: %v", f, err)
		}
	}
	fc := &fakeCluster{others: []string{"127.0.0.1:2", "127.0.0.1:3"}}
	fx := newFixture(t, 1, admin.Config{Cluster: fc, MaxPeers: 2})
	refused(t, fx.ask(t, &admin.ListActors{}), "MaxPeers")
}
