package cli_test

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/admin"
	"github.com/molt-go/molt/cmd/molt/internal/cli"
	"github.com/molt-go/molt/cmd/molt/internal/clitest"
)

// testCluster is three test nodes whose admins know each other
// (clitest.Members, svc standing for a cluster kind), each holding the
// same four actors, so that the output does not depend on where anything
// was placed.
type testCluster struct {
	members *clitest.Members
	nodes   []*clitest.Node
	gone    string // a member without an admin, once added
}

func startCluster(t *testing.T) *testCluster {
	t.Helper()
	tc := &testCluster{members: &clitest.Members{Hosted: []string{"svc"}}}
	nodes, err := clitest.StartMembers(3, tc.members, admin.Config{PeerTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("starting the test members: %v", err)
	}
	for _, n := range nodes {
		t.Cleanup(n.Stop)
	}
	tc.nodes = nodes
	return tc
}

// addGone adds a fourth member that runs remote but no admin: its admin
// cannot be reached.
func (tc *testCluster) addGone(t *testing.T) {
	t.Helper()
	n, err := clitest.Start(molt.RemoteConfig{}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	tc.gone = n.Address()
	tc.members.Add(tc.gone)
}

// molt runs the CLI against the i-th member.
func (tc *testCluster) molt(t *testing.T, i int, args ...string) result {
	t.Helper()
	return runCLI(t, nil, append([]string{"--node", tc.nodes[i].Address()}, args...)...)
}

// names maps each member's address to MEMBER-1, -2, -3 in address order
// (the order of every cluster-wide output), and the member without an
// admin to GONE; longest first, so that no address is replaced inside a
// longer one.
func (tc *testCluster) names() [][2]string {
	var addrs []string
	for _, n := range tc.nodes {
		addrs = append(addrs, n.Address())
	}
	slices.Sort(addrs)
	var out [][2]string
	for i, a := range addrs {
		out = append(out, [2]string{a, "MEMBER-" + strconv.Itoa(i+1)})
	}
	if tc.gone != "" {
		out = append(out, [2]string{tc.gone, "GONE"})
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i][0]) > len(out[j][0]) })
	return out
}

func (tc *testCluster) text(s string) string {
	for _, n := range tc.names() {
		s = strings.ReplaceAll(s, n[0], n[1])
	}
	return normalText(s, "\x00")
}

func (tc *testCluster) json(t *testing.T, s string) string {
	t.Helper()
	s = normalJSON(t, s, "\x00")
	for _, n := range tc.names() {
		s = strings.ReplaceAll(s, n[0], n[1])
	}
	return s
}

// sortedProgress sorts the progress lines of an apply ("  [member] ..."):
// the members run at once, and their lines interleave in any order; each
// member's own come in order, which the sort keeps.
func sortedProgress(s string) string {
	lines := strings.Split(s, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "  [") {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			sort.SliceStable(lines[start:i], func(a, b int) bool {
				return memberOf(lines[start+a]) < memberOf(lines[start+b])
			})
			start = -1
		}
	}
	return strings.Join(lines, "\n")
}

// membersLast sorts the lines of ls's members table, GONE last: the
// member without an admin has an address of its own, anywhere in order.
func membersLast(s string) string {
	head, tail, ok := strings.Cut(s, "MEMBER  ACTORS  STATUS\n")
	if !ok {
		return s
	}
	lines := strings.Split(strings.TrimSuffix(tail, "\n"), "\n")
	sort.Strings(lines)
	return head + "MEMBER  ACTORS  STATUS\n" + strings.Join(lines, "\n") + "\n"
}

func memberOf(line string) string {
	s, _, _ := strings.Cut(strings.TrimPrefix(line, "  ["), "]")
	return s
}

// awaitCLI waits, bounded, for a CLI run on another goroutine: runCLIWith
// fails the test there when the CLI does not return, which ends that
// goroutine without sending.
func awaitCLI(t *testing.T, done <-chan result) result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(2*wait + time.Second):
		t.Fatalf("the CLI did not return within %v", 2*wait)
		return result{}
	}
}

func (tc *testCluster) versions(t *testing.T, kind string) map[uint32]int {
	t.Helper()
	out := map[uint32]int{}
	for _, n := range tc.nodes {
		for _, e := range n.Directory().List(kind) {
			out[e.Version]++
		}
	}
	return out
}

// TestClusterLs: ls against any member lists the actors of all three,
// by member; --local lists the member alone; a member whose admin cannot
// be reached is reported, the others listed, and the command exits 3.
func TestClusterLs(t *testing.T) {
	skipRemoteUnderRace(t)
	tc := startCluster(t)

	var first string
	for i := range tc.nodes {
		r := tc.molt(t, i, "ls")
		expect(t, r, cli.ExitOK)
		got := tc.text(r.stdout)
		if i == 0 {
			first = got
			golden(t, "cluster-ls", got)
		} else if got != first {
			t.Errorf("ls against member %d printed\n%s\nagainst member 0\n%s", i, got, first)
		}
	}
	if n := strings.Count(first, " ok\n"); n != 3 {
		t.Errorf("%d members answered, want 3", n)
	}

	r := tc.molt(t, 2, "ls", "--kind", "svc", "--label", "region=eu", "-o", "json")
	expect(t, r, cli.ExitOK)
	golden(t, "cluster-ls-eu.json", tc.json(t, r.stdout))

	r = tc.molt(t, 1, "ls", "--local")
	expect(t, r, cli.ExitOK)
	if strings.Contains(r.stdout, "MEMBER") || strings.Count(r.stdout, "\n") != 5 {
		t.Errorf("ls --local printed more than the node's four actors:\n%s", r.stdout)
	}

	tc.addGone(t)
	r = tc.molt(t, 0, "ls")
	expect(t, r, cli.ExitUnreachable, "1 of 4 members did not answer", tc.gone, "molt-admin")
	golden(t, "cluster-ls-gone", membersLast(tc.text(r.stdout)))

	// Nothing runs when a member cannot plan: the others stay as they were.
	r = tc.molt(t, 1, "apply", "testdata/cluster-up.yaml")
	expect(t, r, cli.ExitUnreachable, "RunPackage refused", "nothing ran on any member", tc.gone)
	if v := tc.versions(t, "svc"); v[1] != 9 {
		t.Errorf("svc versions after a package a member could not plan: %v, want all 9 at 1", v)
	}
}

// TestClusterApply: apply against one member runs the package on all
// three, its progress shown per member, and sets the kind's cluster
// target; the dry run shows every member's plan; a package no member can
// plan, or that names actors, runs nowhere; cancel stops a package on
// every member.
func TestClusterApply(t *testing.T) {
	skipRemoteUnderRace(t)
	tc := startCluster(t)

	r := tc.molt(t, 0, "apply", "testdata/cluster-up.yaml", "--dry-run")
	expect(t, r, cli.ExitOK)
	golden(t, "cluster-apply-dry-run", tc.text(r.stdout))
	if v := tc.versions(t, "svc"); v[1] != 9 {
		t.Fatalf("a dry run moved svc actors: %v", v)
	}

	r = tc.molt(t, 1, "apply", "testdata/cluster-up.yaml")
	expect(t, r, cli.ExitOK)
	golden(t, "cluster-apply", sortedProgress(tc.text(r.stdout)))
	if v := tc.versions(t, "svc"); v[2] != 9 {
		t.Errorf("svc versions after package svc-2: %v, want all 9 at 2", v)
	}
	for _, n := range tc.names() {
		if !strings.Contains(r.stdout, "["+n[0]+"] package svc-2 done") {
			t.Errorf("no progress line of %s's end", n[1])
		}
	}
	if got := tc.members.Target("svc"); got != 2 {
		t.Errorf("svc's cluster target is %d after the package, want 2", got)
	}

	r = tc.molt(t, 2, "apply", "testdata/cluster-down.yaml", "-o", "json")
	expect(t, r, cli.ExitOK)
	golden(t, "cluster-apply.json", tc.json(t, r.stdout))
	if got := tc.members.Target("svc"); got != 1 {
		t.Errorf("svc's cluster target is %d after package svc-1, want 1", got)
	}

	r = tc.molt(t, 0, "apply", "testdata/cluster-nine.yaml")
	expect(t, r, cli.ExitFailed, "RunPackage refused", "nothing ran on any member", "version 9")
	golden(t, "cluster-apply-refused", tc.text(r.stdout))

	// cancel: the slow package runs on every member until cancelled.
	var out, errOut syncBuffer
	done := make(chan result, 1)
	go func() {
		done <- runCLIWith(t, nil, &out, &errOut, "--node", tc.nodes[0].Address(), "apply", "testdata/cluster-slow.yaml")
	}()
	out.waitFor(t, "accepted on 3 members", "the slow package did not start")
	r = tc.molt(t, 2, "cancel", "slow-eu")
	expect(t, r, cli.ExitOK)
	golden(t, "cluster-cancel", tc.text(r.stdout))
	r = awaitCLI(t, done)
	expect(t, r, cli.ExitFailed, "package slow-eu cancelled across the cluster")
	if got := tc.members.Target("svc"); got != 1 {
		t.Errorf("a cancelled package moved svc's cluster target to %d", got)
	}
	expect(t, tc.molt(t, 1, "cancel", "slow-eu"), cli.ExitFailed, "CancelPackage refused", "no member runs")
	// Its first batch ran on each member before the pause: back to 1.
	expect(t, tc.molt(t, 1, "apply", "testdata/cluster-down.yaml"), cli.ExitOK)
	if v := tc.versions(t, "svc"); v[1] != 9 {
		t.Fatalf("svc versions after package svc-1: %v, want all 9 at 1", v)
	}

	expect(t, tc.molt(t, 0, "apply", "testdata/up.yaml"), cli.ExitFailed, "RunPackage refused", "names actors", "--local")
	r = tc.molt(t, 0, "apply", "testdata/up.yaml", "--local", "-o", "json")
	expect(t, r, cli.ExitOK)
	if v := tc.versions(t, "svc"); v[2] != 2 || v[1] != 7 {
		t.Errorf("svc versions after package up on one member: %v, want 2 at 2 and 7 at 1", v)
	}
}

// TestClusterApplyMemberLost: a member lost while the package runs (its
// admin stops) halts the package on the others, which are cancelled; the
// package ends halted, saying which member was lost, and sets no target.
func TestClusterApplyMemberLost(t *testing.T) {
	skipRemoteUnderRace(t)
	tc := startCluster(t)
	var out, errOut syncBuffer
	done := make(chan result, 1)
	go func() {
		done <- runCLIWith(t, nil, &out, &errOut, "--node", tc.nodes[0].Address(), "apply", "testdata/cluster-slow.yaml", "-o", "json")
	}()
	// With -o json nothing is printed until the end: wait for the
	// package to run on the member about to be lost.
	lost := tc.nodes[1]
	deadline := time.Now().Add(wait)
	for lost.Directory().ByName("s-00")[0].Version != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the slow package did not start on %s within %v", lost.Address(), wait)
		}
		time.Sleep(5 * time.Millisecond)
	}
	lost.Admin.Stop()
	r := awaitCLI(t, done)
	expect(t, r, cli.ExitFailed, "package slow-eu halted across the cluster", lost.Address(), "admin stopped")
	var got struct {
		Outcome string `json:"outcome"`
		Members []struct {
			Address string `json:"address"`
			Outcome string `json:"outcome"`
			Error   string `json:"error"`
		} `json:"members"`
		Targets []any `json:"targets"`
	}
	must(t, json.Unmarshal([]byte(r.stdout), &got))
	if got.Outcome != "halted" || len(got.Members) != 3 || len(got.Targets) != 0 {
		t.Fatalf("the package ended %q on %d members with targets %v: %s", got.Outcome, len(got.Members), got.Targets, r.stdout)
	}
	for _, m := range got.Members {
		switch {
		case m.Address == lost.Address() && (m.Outcome != "lost" || m.Error == ""):
			t.Errorf("the lost member is reported %+v", m)
		case m.Address != lost.Address() && m.Outcome != "cancelled":
			t.Errorf("member %s ended %s, want cancelled once a member was lost", m.Address, m.Outcome)
		}
	}
}
