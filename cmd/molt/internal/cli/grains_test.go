package cli_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	pc "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/admin"
	"github.com/molt-go/molt/cluster"
	"github.com/molt-go/molt/cmd/molt/internal/cli"
	"github.com/molt-go/molt/cmd/molt/internal/clitest"
	"github.com/molt-go/molt/update/manager"
)

// startGrainMember starts a cluster member (protoactor's test provider)
// hosting clitest's kinds as grains, with a manager and an admin wired to
// the cluster; all stop when the test ends.
func startGrainMember(t *testing.T, agent *test.InMemAgent) *cluster.Member {
	t.Helper()
	cat, err := clitest.Catalog()
	must(t, err)
	node := molt.NewNode(cat, molt.WithConfig(pa.WithDeadLetterThrottleInterval(time.Millisecond)))
	m, err := cluster.Start(node, cluster.Config{
		Provider: test.NewTestProvider(agent, test.WithTestProviderRefreshTtl(100*time.Millisecond)),
		Options:  []pc.ConfigOption{pc.WithRequestTimeout(5 * time.Second)},
	})
	if err != nil {
		node.Shutdown()
		t.Fatal(err)
	}
	mgr := manager.Spawn(node)
	a, err := admin.Spawn(node, mgr, admin.Config{Cluster: cluster.AdminCluster(m)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Stop()
		mgr.Stop()
		m.Shutdown()
		node.Shutdown()
	})
	return m
}

// TestClusterGrains: the CLI against members of a real cluster (grains
// placed by protoactor's cluster, which the golden tests avoid): ls
// against each member lists every grain of the three, with its identity
// label and the member it runs on; apply against one moves them all and
// sets the kind's cluster target.
func TestClusterGrains(t *testing.T) {
	skipRemoteUnderRace(t)
	agent := test.NewInMemAgent()
	ms := []*cluster.Member{startGrainMember(t, agent), startGrainMember(t, agent), startGrainMember(t, agent)}
	settled := func(v uint32) bool {
		for _, m := range ms {
			if len(m.Cluster().MemberList.Members().Members()) != 3 {
				return false
			}
			if got, ok := m.Version("svc"); !ok || got != v {
				return false
			}
		}
		return true
	}
	// Every member runs svc 1 to 3, whose default target is 3: start the
	// grains at 1.
	must(t, ms[0].SetVersion("svc", 1))
	deadline := time.Now().Add(wait)
	for !settled(1) {
		if time.Now().After(deadline) {
			t.Fatalf("the members did not agree on svc at 1 within %v", wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
	const grains = 12
	where := map[string]string{}
	for i := range grains {
		id := fmt.Sprint("g", i)
		var pid *pa.PID
		for pid == nil && time.Now().Before(deadline) {
			// nil while a member still learns the topology: ask again.
			if pid = ms[i%3].Cluster().Get(id, "svc"); pid == nil {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if pid == nil {
			t.Fatalf("grain %s was not activated within %v", id, wait)
		}
		where[id] = pid.GetAddress()
	}

	type listed struct {
		Actors []struct {
			Member  string            `json:"member"`
			Version uint32            `json:"version"`
			Labels  map[string]string `json:"labels"`
		} `json:"actors"`
		Members []struct {
			Answered bool `json:"answered"`
		} `json:"members"`
	}
	for _, m := range ms {
		r := runCLI(t, nil, "--node", m.Address(), "ls", "--kind", "svc", "-o", "json")
		expect(t, r, cli.ExitOK)
		var got listed
		must(t, json.Unmarshal([]byte(r.stdout), &got))
		if len(got.Members) != 3 {
			t.Fatalf("ls against %s: %d members, want 3", m.Address(), len(got.Members))
		}
		seen := map[string]string{}
		for _, a := range got.Actors {
			seen[a.Labels[cluster.LabelIdentity]] = a.Member
			if a.Version != 1 {
				t.Errorf("ls against %s: a grain at version %d, want 1", m.Address(), a.Version)
			}
		}
		if fmt.Sprint(seen) != fmt.Sprint(where) {
			t.Errorf("ls against %s places the grains at\n%v\nprotoactor at\n%v", m.Address(), seen, where)
		}
	}

	r := runCLI(t, nil, "--node", ms[1].Address(), "apply", "testdata/cluster-up.yaml", "-o", "json")
	expect(t, r, cli.ExitOK)
	var run struct {
		Outcome string `json:"outcome"`
		Updated int    `json:"updated"`
		Targets []struct {
			Kind    string `json:"kind"`
			Version uint32 `json:"version"`
			Error   string `json:"error"`
		} `json:"targets"`
	}
	must(t, json.Unmarshal([]byte(r.stdout), &run))
	if run.Outcome != "completed" || run.Updated != grains || len(run.Targets) != 1 || run.Targets[0].Kind != "svc" || run.Targets[0].Version != 2 || run.Targets[0].Error != "" {
		t.Fatalf("apply across the cluster: %s", r.stdout)
	}
	for !settled(2) {
		if time.Now().After(deadline) {
			t.Fatalf("the members did not agree on svc's target 2 within %v", wait)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, m := range ms {
		for _, e := range m.Node().Directory().List("svc") {
			if e.Version != 2 {
				t.Errorf("grain %s at version %d on %s after the package", e.Labels[cluster.LabelIdentity], e.Version, m.Address())
			}
		}
	}
}
