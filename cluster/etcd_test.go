package cluster_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster/clusterproviders/etcd"
	mc "github.com/molt-go/molt/cluster"
	"github.com/molt-go/molt/persist/etcdstore/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdEnv names, for a child process of TestEtcdCluster, the etcd it
// uses.
const etcdEnv = "MOLT_CLUSTER_TEST_ETCD"

// TestEtcdCluster: two members find each other through protoactor's etcd
// provider on a real etcd started by the test; a grain is called by
// identity from either, is a molt actor, and follows its kind to version 3
// with its state.
//
// The members run in a child process (this test binary, running this
// test): protoactor's etcd provider never closes its etcd client (its
// Shutdown leaves the client, its lease keep-alive and their gRPC
// connection running), which goleak would report here; the child process
// checks no leaks and ends with them.
func TestEtcdCluster(t *testing.T) {
	skipUnderRace(t)
	if endpoint := os.Getenv(etcdEnv); endpoint != "" {
		etcdCluster(t, endpoint)
		return
	}
	endpoint := etcdtest.Start(t).Endpoint
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", "^TestEtcdCluster$", "-test.count", "1", "-test.v")
	cmd.Env = append(os.Environ(), etcdEnv+"="+endpoint)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestEtcdCluster") {
		t.Fatalf("the members' process: %v\n%s", err, out)
	}
}

func etcdCluster(t *testing.T, endpoint string) {
	provider := func() *etcd.Provider {
		p, err := etcd.NewWithConfig("/molt-test", clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := startMember(t, provider(), mc.Adapt, 1, 2, 3)
	b := startMember(t, provider(), mc.Adapt, 2, 3)
	ms := []*mc.Member{a, b}
	eventually(t, 10*time.Second, "both members see each other, counter at 3 (the newest both run)", func() bool {
		return len(a.Cluster().MemberList.Members().Members()) == 2 &&
			len(b.Cluster().MemberList.Members().Members()) == 2 && sameVersion(ms, 3)
	})
	if err := a.SetVersion(kind, 2); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "counter at version 2 on both", func() bool { return sameVersion(ms, 2) })
	for i := range 10 {
		id := fmt.Sprint("e", i)
		if got := add(t, a, id, int64(i+1)); got != int64(i+1) {
			t.Fatalf("%s: add answered %d", id, got)
		}
	}
	onB := len(versionsOn(b))
	if onB == 0 || onB == 10 {
		t.Fatalf("%d of 10 grains on the second member: placement uses one member only", onB)
	}
	if err := b.SetVersion(kind, 3); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		id := fmt.Sprint("e", i)
		want := fmt.Sprintf("v3:%d", i+1)
		eventually(t, 10*time.Second, id+" at "+want, func() bool { return get(t, b, id) == want })
	}
}
