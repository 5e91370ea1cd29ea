package cluster_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/molt-go/molt/admin"
	mc "github.com/molt-go/molt/cluster"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
	"google.golang.org/protobuf/proto"
)

// adminWait bounds each wait on an admin's answer or event.
const adminWait = 30 * time.Second

// withAdmin runs an update manager and an admin that knows the cluster
// on m's node, stopped when the test ends (before the member).
func withAdmin(t *testing.T, m *mc.Member) *admin.Admin {
	t.Helper()
	mgr := manager.Spawn(m.Node())
	a, err := admin.Spawn(m.Node(), mgr, admin.Config{Cluster: mc.AdminCluster(m), PeerTimeout: 2 * time.Second})
	if err != nil {
		mgr.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Stop()
		mgr.Stop()
	})
	return a
}

func askAdmin(t *testing.T, m *mc.Member, a *admin.Admin, req proto.Message) any {
	t.Helper()
	res, err := m.Node().Root().RequestFuture(a.PID(), req, adminWait).Result()
	if err != nil {
		t.Fatalf("the admin of %s did not answer %T: %v", m.Address(), req, err)
	}
	return res
}

// listAll reads every page of a cluster-wide ListActors of kind from m's
// admin, limit actors a page.
func listAll(t *testing.T, m *mc.Member, a *admin.Admin, limit uint32) ([]*admin.ActorInfo, []*admin.MemberStatus) {
	t.Helper()
	var all []*admin.ActorInfo
	var members []*admin.MemberStatus
	req := &admin.ListActors{Kind: kind, Limit: limit}
	for range 100 {
		page, ok := askAdmin(t, m, a, req).(*admin.ActorList)
		if !ok {
			t.Fatalf("ListActors from %s answered %T", m.Address(), page)
		}
		all = append(all, page.GetActors()...)
		if members == nil {
			members = page.GetMembers()
		}
		if page.GetNextOffset() == 0 {
			if int(page.GetTotal()) != len(all) {
				t.Fatalf("the pages from %s hold %d actors, their total says %d", m.Address(), len(all), page.GetTotal())
			}
			return all, members
		}
		req.Offset = page.GetNextOffset()
	}
	t.Fatalf("ListActors from %s never reached its last page", m.Address())
	return nil, nil
}

// where says on which member each grain of kind runs, by identity, as
// the members' own directories say.
func where(ms []*mc.Member) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for id := range versionsOn(m) {
			out[id] = m.Address()
		}
	}
	return out
}

// collector receives what an admin relays to its subscribers.
type collector struct{ got chan proto.Message }

func (c *collector) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *admin.MemberEvent, *admin.ClusterPackageDone, *manager.Event:
		c.got <- m.(proto.Message)
	}
}

func subscribe(t *testing.T, m *mc.Member, a *admin.Admin) chan proto.Message {
	t.Helper()
	c := &collector{got: make(chan proto.Message, 10000)}
	pid := m.Node().Root().Spawn(pa.PropsFromProducer(func() pa.Actor { return c }))
	t.Cleanup(func() { _ = m.Node().Root().StopFuture(pid).Wait() })
	if _, ok := askAdmin(t, m, a, &admin.Subscribe{Subscriber: update.RefOf(pid)}).(*admin.Subscribed); !ok {
		t.Fatal("the admin refused the subscription")
	}
	return c.got
}

// TestAdminAcrossTheCluster: three members on loopback, each with an
// admin that knows the cluster, 30 grains spread over them. ListActors
// from each member lists every grain of every member, with its identity
// label and the address of the member it runs on, a page at a time; a
// package run from one member moves the grains of all three, each
// member's progress arriving as MemberEvents with its address, and sets
// the kind's cluster target; a member whose admin is gone is reported as
// not answering while the others are listed.
func TestAdminAcrossTheCluster(t *testing.T) {
	if remoteRace {
		t.Skip("starts several protoactor remotes in one process, which race with each other under -race (see actor/race_remote_test.go); runs without -race")
	}
	agent := test.NewInMemAgent()
	ms := []*mc.Member{
		startMember(t, testProvider(agent), mc.Adapt, 1, 2, 3),
		startMember(t, testProvider(agent), mc.Adapt, 1, 2, 3),
		startMember(t, testProvider(agent), mc.Adapt, 1, 2, 3),
	}
	admins := []*admin.Admin{withAdmin(t, ms[0]), withAdmin(t, ms[1]), withAdmin(t, ms[2])}
	eventually(t, 10*time.Second, "every member sees the three", func() bool {
		for _, m := range ms {
			if len(m.Cluster().MemberList.Members().Members()) != 3 {
				return false
			}
		}
		return true
	})
	if err := ms[0].SetVersion(kind, 2); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "every member sees counter at version 2", func() bool { return sameVersion(ms, 2) })
	const grains = 30
	for i := range grains {
		add(t, ms[i%3], fmt.Sprint("g", i), int64(i+1))
	}
	placed := where(ms)
	if len(placed) != grains {
		t.Fatalf("%d grains live, want %d", len(placed), grains)
	}
	hosts := map[string]bool{}
	for _, addr := range placed {
		hosts[addr] = true
	}
	if len(hosts) < 2 {
		t.Fatalf("the 30 grains are all on one member: %v", hosts)
	}

	// ls from each member, in pages of 7: every grain, where it runs.
	for i, m := range ms {
		list, members := listAll(t, m, admins[i], 7)
		if len(members) != 3 {
			t.Fatalf("the list from %s names %d members, want 3: %v", m.Address(), len(members), members)
		}
		for _, st := range members {
			if !st.GetAnswered() || st.GetError() != "" {
				t.Errorf("from %s, member %s: answered %v, %q", m.Address(), st.GetAddress(), st.GetAnswered(), st.GetError())
			}
		}
		seen := map[string]string{}
		for _, a := range list {
			id := a.GetLabels()[mc.LabelIdentity]
			if _, twice := seen[id]; twice {
				t.Errorf("from %s, grain %q listed twice", m.Address(), id)
			}
			seen[id] = a.GetPid().GetAddress()
			if a.GetVersion() != 2 {
				t.Errorf("from %s, grain %q at version %d, want 2", m.Address(), id, a.GetVersion())
			}
		}
		if fmt.Sprint(seen) != fmt.Sprint(placed) {
			t.Errorf("from %s, the list places the grains at\n%v\nthe members' directories at\n%v", m.Address(), seen, placed)
		}
		if !slices.IsSortedFunc(list, func(a, b *admin.ActorInfo) int {
			return strings.Compare(a.GetPid().GetAddress()+"/"+a.GetName(), b.GetPid().GetAddress()+"/"+b.GetName())
		}) {
			t.Errorf("from %s, the list is not sorted by member address and name", m.Address())
		}
	}

	// apply from the second member: every grain of every member to 3.
	events := subscribe(t, ms[1], admins[1])
	doc := []byte("id: counter-3\nupdates:\n  - kind: counter\n    from: [2]\n    to: 3\n    targets: {all: true}\n")
	res, ok := askAdmin(t, ms[1], admins[1], &admin.RunPackage{Format: "yaml", Document: doc}).(*admin.ClusterPackage)
	if !ok || !res.GetAccepted() {
		t.Fatalf("the cluster-wide package was not accepted: %v", res)
	}
	var actors uint32
	for _, mp := range res.GetMembers() {
		actors += mp.GetAccepted().GetActors()
	}
	if len(res.GetMembers()) != 3 || actors != grains {
		t.Fatalf("accepted on %d members for %d actors, want 3 and %d: %v", len(res.GetMembers()), actors, grains, res)
	}
	updated := map[string]int{} // committed ACTOR_UPDATED per member
	var done *admin.ClusterPackageDone
	timeout := time.After(adminWait)
	for done == nil {
		select {
		case m := <-events:
			switch e := m.(type) {
			case *admin.MemberEvent:
				if e.GetEvent().GetType() == manager.EventType_ACTOR_UPDATED && e.GetEvent().GetOutcome() == update.Outcome_OUTCOME_COMMITTED {
					updated[e.GetMember()]++
				}
			case *admin.ClusterPackageDone:
				done = e
			}
		case <-timeout:
			t.Fatalf("no ClusterPackageDone within %v; updated so far %v", adminWait, updated)
		}
	}
	if done.GetOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED || len(done.GetMembers()) != 3 {
		t.Fatalf("the package ended %v: %v", done.GetOutcome(), done)
	}
	for addr := range hosts {
		want := 0
		for _, a := range placed {
			if a == addr {
				want++
			}
		}
		if updated[addr] != want {
			t.Errorf("member %s reported %d grains updated, it holds %d", addr, updated[addr], want)
		}
	}
	if tg := done.GetTargets(); len(tg) != 1 || tg[0].GetKind() != kind || tg[0].GetVersion() != 3 || tg[0].GetError() != "" {
		t.Errorf("targets set: %v, want counter at 3", tg)
	}
	for _, m := range ms {
		for id, v := range versionsOn(m) {
			if v != 3 {
				t.Errorf("%s at version %d on %s after the package", id, v, m.Address())
			}
		}
	}
	eventually(t, 10*time.Second, "every member sees counter's target at 3", func() bool { return sameVersion(ms, 3) })
	// A new grain starts at the target, wherever it is placed.
	if got := get(t, ms[2], "new-after-package"); got != "v3:0" {
		t.Errorf("a grain activated after the package: %s, want v3:0", got)
	}
	if got := get(t, ms[0], "g7"); got != "v3:8" {
		t.Errorf("g7 after the package: %s, want v3:8 (its state carried)", got)
	}

	// The third member's admin goes: it is reported, the others listed.
	gone := ms[2].Address()
	admins[2].Stop()
	list, members := listAll(t, ms[0], admins[0], 0)
	for _, st := range members {
		switch {
		case st.GetAddress() == gone && (st.GetAnswered() || st.GetError() == ""):
			t.Errorf("the member without an admin is reported %v", st)
		case st.GetAddress() != gone && !st.GetAnswered():
			t.Errorf("member %s not answered: %s", st.GetAddress(), st.GetError())
		}
	}
	for _, a := range list {
		if a.GetPid().GetAddress() == gone {
			t.Errorf("%s listed on the member that did not answer", a.GetName())
		}
	}
	want := 0
	for id, addr := range where(ms) {
		if addr != gone && id != "" {
			want++
		}
	}
	if len(list) != want {
		t.Errorf("%d grains listed without the third member, want %d", len(list), want)
	}
}
