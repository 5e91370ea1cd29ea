package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	mc "github.com/molt-go/molt/cluster"
	"github.com/molt-go/molt/internal/leaktest"
	"github.com/molt-go/molt/internal/proctest"
	"github.com/molt-go/molt/persist/etcdstore/etcdtest"
	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind, and
// removes the binaries the tests built (only a test that has an etcd to
// run them on builds them).
func TestMain(m *testing.M) { goleak.VerifyTestMain(cleaned{m}, leaktest.Upstream...) }

// cleaned runs the tests, then removes the binaries.
type cleaned struct{ m *testing.M }

func (c cleaned) Run() int {
	code := c.m.Run()
	if bins.dir != "" {
		_ = os.RemoveAll(bins.dir)
	}
	return code
}

// longEnv, when set, makes the tests run a bigger cluster load for longer:
// more accounts and workers, and more calls between each step.
const longEnv = "MOLT_CLUSTER_LONG"

// scale is what a test's load looks like.
type scale struct {
	accounts, workers int
	perStep           float64 // acknowledged calls to wait for after each step
}

func sizes() scale {
	if os.Getenv(longEnv) != "" {
		return scale{accounts: 300, workers: 16, perStep: 3000}
	}
	return scale{accounts: 30, workers: 6, perStep: 150}
}

// wait bounds every wait for a process's line: far beyond what a healthy
// run needs on a loaded machine with two cores.
const wait = 60 * time.Second

var bins struct {
	once                  sync.Once
	dir                   string
	current, next, loader string
	err                   error
}

// binaries builds the member (current and next release) and the load
// generator once for the package's tests.
func binaries(t *testing.T) (current, next, loader string) {
	t.Helper()
	bins.once.Do(func() {
		start := time.Now()
		defer func() {
			if bins.err == nil {
				t.Logf("built the example's binaries in %v", time.Since(start).Round(time.Millisecond))
			}
		}()
		goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goTool); err != nil {
			if goTool, err = exec.LookPath("go"); err != nil {
				bins.err = fmt.Errorf("no go command to build the example with: %w", err)
				return
			}
		}
		if bins.dir, bins.err = os.MkdirTemp("", "molt-cluster-example"); bins.err != nil {
			return
		}
		bins.current = filepath.Join(bins.dir, "bank")
		bins.next = filepath.Join(bins.dir, "bank-next")
		bins.loader = filepath.Join(bins.dir, "load")
		for _, args := range [][]string{
			{"-o", bins.current, "."},
			{"-tags", "cluster_next", "-o", bins.next, "."},
			{"-o", bins.loader, "./load"},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			out, err := exec.CommandContext(ctx, goTool, append([]string{"build"}, args...)...).CombinedOutput()
			cancel()
			if err != nil {
				bins.err = fmt.Errorf("go build %v: %v\n%s", args, err, out)
				return
			}
		}
	})
	if bins.err != nil {
		t.Fatal(bins.err)
	}
	return bins.current, bins.next, bins.loader
}

// member is a member process of the example.
type member struct {
	s    *proctest.Session
	addr string
	bin  string
}

// startMembers starts one member per binary, all at once, and waits until
// each has joined.
func startMembers(t *testing.T, endpoint, cluster string, binaries ...string) []*member {
	t.Helper()
	ms := make([]*member, len(binaries))
	for i, bin := range binaries {
		ms[i] = &member{s: proctest.Open(t, wait, bin, "-etcd", endpoint, "-cluster", cluster), bin: filepath.Base(bin)}
	}
	for _, m := range ms {
		line := m.s.Expect("member ", wait)
		m.addr = strings.Fields(line)[1]
		t.Logf("%s: %s", m.bin, line)
	}
	return ms
}

// leave asks m to leave gracefully and waits until it has: it must have
// handed every account over (Leave returned no error).
func (m *member) leave(t *testing.T) {
	t.Helper()
	start := time.Now()
	m.s.Send("leave")
	for {
		line := m.s.Expect("", wait)
		switch {
		case strings.HasPrefix(line, "leave: "):
			t.Errorf("member %s did not hand every account over: %s", m.addr, line)
		case strings.HasPrefix(line, "stats "):
			t.Logf("member %s leaves holding: %s", m.addr, line)
		case strings.HasPrefix(line, "left in "):
			t.Logf("member %s %s (%v as the test saw it)", m.addr, line, time.Since(start).Round(time.Millisecond))
			return
		}
	}
}

// stats asks m for its counts of accounts.
func (m *member) stats(t *testing.T) map[string]float64 {
	t.Helper()
	m.s.Send("stats")
	return proctest.Fields(t, m.s.Expect("stats ", wait))
}

// loader is the load generator's process.
type loader struct {
	s       *proctest.Session
	acked   float64
	size    scale
	started time.Time
}

func startLoad(t *testing.T, bin, endpoint, cluster string, size scale) *loader {
	t.Helper()
	s := proctest.Open(t, wait, bin, "-etcd", endpoint, "-cluster", cluster,
		"-accounts", fmt.Sprint(size.accounts), "-workers", fmt.Sprint(size.workers))
	s.Expect("ready ", wait)
	return &loader{s: s, size: size, started: time.Now()}
}

// progress waits until the load has had perStep more calls acknowledged
// since the last wait: the cluster serves after the step just taken.
func (l *loader) progress(t *testing.T, step string) {
	t.Helper()
	want := l.acked + l.size.perStep
	start := time.Now()
	for l.acked < want {
		f := proctest.Fields(t, l.s.Expect("progress ", wait))
		l.acked = f["acked"]
		if f["failed"] > 0 {
			t.Fatalf("%s: %v calls failed for good", step, f["failed"])
		}
		if time.Since(start) > wait {
			t.Fatalf("%s: the load had %v calls acknowledged within %v, want %v", step, l.acked, wait, want)
		}
	}
	t.Logf("%6.2fs %s: %v calls acknowledged", time.Since(l.started).Seconds(), step, l.acked)
}

// result is what the load generator reports once stopped.
type result struct {
	report, answered, audit map[string]float64
	lines                   []string
	ok                      bool
}

func (l *loader) stop(t *testing.T) result {
	t.Helper()
	l.s.Send("stop")
	var r result
	for {
		line := l.s.Expect("", wait)
		switch {
		case strings.HasPrefix(line, "progress "):
			continue
		case strings.HasPrefix(line, "report "):
			r.report = proctest.Fields(t, line)
		case strings.HasPrefix(line, "answered "):
			r.answered = proctest.Fields(t, line)
		case strings.HasPrefix(line, "audit "):
			r.audit = proctest.Fields(t, line)
		case strings.HasPrefix(line, "OK:"), line == "FAIL":
			r.ok = line != "FAIL"
			r.lines = append(r.lines, line)
			t.Logf("load:\n%s", strings.Join(r.lines, "\n"))
			return r
		}
		r.lines = append(r.lines, line)
	}
}

// check asserts what every run must show: no call failed for good, every
// account audited at version 2 with exactly its acknowledged deposits (no
// acknowledged one lost, none applied twice), and both versions answered
// during the run.
func (r result) check(t *testing.T, accounts int) {
	t.Helper()
	if !r.ok {
		t.Errorf("the load generator reported FAIL:\n%s", strings.Join(r.lines, "\n"))
	}
	if r.report["failed"] != 0 || r.report["calls"] != r.report["acked"] || r.report["calls"] == 0 {
		t.Errorf("calls %v, acknowledged %v, failed %v: want every call acknowledged", r.report["calls"], r.report["acked"], r.report["failed"])
	}
	if r.audit["mismatched"] != 0 || r.audit["unaudited"] != 0 {
		t.Errorf("%v accounts do not hold exactly their acknowledged deposits, %v could not be audited", r.audit["mismatched"], r.audit["unaudited"])
	}
	if r.audit["twice"] != 0 {
		t.Errorf("%v accounts applied a deposit twice", r.audit["twice"])
	}
	if r.audit["v2"] != float64(accounts) || r.audit["v1"] != 0 {
		t.Errorf("accounts at v1 %v, v2 %v; want all %d at version 2", r.audit["v1"], r.audit["v2"], accounts)
	}
	if r.answered["v1"] == 0 || r.answered["v2"] == 0 {
		t.Errorf("deposits acknowledged by v1 %v, by v2 %v: the upgrade did not happen under load", r.answered["v1"], r.answered["v2"])
	}
}

// TestWalkthrough runs README.md's walkthrough with real processes: an
// etcd, three members of the current release, the load generator; then
// each member in turn is replaced by one of the next release (the new one
// started, the old one asked to leave, handing its accounts over), under
// load. It shows:
//   - no call failed (each retried as a client does until it succeeded);
//   - every account holds exactly the deposits that were acknowledged:
//     none lost, none applied twice (retries are deduplicated);
//   - every account ends at version 2, and both versions answered;
//   - each old member handed every account over when it left.
func TestWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an etcd and eight processes for seconds")
	}
	e := etcdtest.Start(t)
	current, next, loadBin := binaries(t)
	size := sizes()
	const cluster = "walkthrough"
	old := startMembers(t, e.Endpoint, cluster, current, current, current)
	load := startLoad(t, loadBin, e.Endpoint, cluster, size)
	load.progress(t, "three members of the current release")
	for i, m := range old {
		startMembers(t, e.Endpoint, cluster, next)
		load.progress(t, fmt.Sprintf("next release member %d joined", i+1))
		m.leave(t)
		load.progress(t, fmt.Sprintf("current release member %d left", i+1))
	}
	r := load.stop(t)
	r.check(t, size.accounts)
	t.Logf("calls %v, retried %v, duplicates recognised %v, latency p50 %vms p99 %vms max %vms",
		r.report["calls"], r.report["retried"], r.report["duplicates"], r.report["p50ms"], r.report["p99ms"], r.report["maxms"])
	// A call that meets a handover waits for it: at most the handover's
	// deadline, and in practice far less.
	if limit := float64(mc.DefaultHandoverDeadline.Milliseconds()); r.report["maxms"] > limit {
		t.Errorf("the slowest call took %vms, over the handover deadline of %vms", r.report["maxms"], limit)
	}
}

// TestMemberKilled: during the same upgrade, after two members have been
// replaced, the last member of the current release is killed with SIGKILL
// instead of leaving. It held accounts, whose state only its memory and
// their snapshots in etcd had: once etcd's lease of the dead member
// expires, the accounts are activated on the members of the next release
// from their version 1 snapshots, migrated to version 2, and the audit
// finds every acknowledged deposit there, none applied twice, no call
// failed (those that met the dead member were retried).
func TestMemberKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an etcd and seven processes for seconds")
	}
	e := etcdtest.Start(t)
	current, next, loadBin := binaries(t)
	size := sizes()
	const cluster = "killed"
	old := startMembers(t, e.Endpoint, cluster, current, current, current)
	load := startLoad(t, loadBin, e.Endpoint, cluster, size)
	load.progress(t, "three members of the current release")
	for i, m := range old[:2] {
		startMembers(t, e.Endpoint, cluster, next)
		load.progress(t, fmt.Sprintf("next release member %d joined", i+1))
		m.leave(t)
		load.progress(t, fmt.Sprintf("current release member %d left", i+1))
	}
	last := old[2]
	held := last.stats(t)
	if held["accounts"] == 0 {
		t.Fatalf("the member to kill holds no account: nothing to show (%v)", held)
	}
	t.Logf("killing %s with SIGKILL, holding %v accounts at version 1", last.addr, held["accounts"])
	killed := time.Now()
	last.s.Kill()
	load.progress(t, "the last member of the current release killed")
	t.Logf("%v calls acknowledged %v after the kill", load.size.perStep, time.Since(killed).Round(time.Millisecond))
	r := load.stop(t)
	r.check(t, size.accounts)
	t.Logf("calls %v, retried %v, duplicates recognised %v, latency p50 %vms p99 %vms max %vms",
		r.report["calls"], r.report["retried"], r.report["duplicates"], r.report["p50ms"], r.report["p99ms"], r.report["maxms"])
}
