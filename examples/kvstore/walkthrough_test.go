package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/update/manifest"
)

// TestWalkthrough runs README.md's walkthrough with real processes: the
// service, the load generator and the molt CLI, each built and started as
// an operator would. Every remote is in a child process, so the test runs
// under -race.
//
//  1. molt ls: 16 shards on version 1.
//  2. Under load, molt apply kvstore-v2.yaml: completed, 16 updated; the
//     load generator then exits 0 (no failed request, every acknowledged
//     write readable) and saw both versions answer.
//  3. molt ls: every shard on version 2; a TTL works over HTTP.
//  4. molt rollback with a live TTL on the canary shard: halted at the
//     canary with the key named, exit 1, every shard still on version 2.
//  5. The key deleted, molt rollback: every shard on version 1, the data
//     written under load unchanged.
//  6. A live TTL on a shard past the canary: the rollback halts part way,
//     and the README's way out (delete the key, molt update the shards
//     left on version 2) ends with every shard on version 1.
//  7. SIGINT: a clean exit.
func TestWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three binaries and runs them for seconds")
	}
	bins := buildAll(t)
	svc := startProcess(t, bins.kvstore, "-addr", "127.0.0.1:0", "-remote", "127.0.0.1:0", "-data", t.TempDir())
	node := svc.waitFor(t, regexp.MustCompile(`molt admin on (127\.0\.0\.1:\d+)`), "the service to say where its admin listens")[1]
	url := svc.waitFor(t, regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`), "the service to say where it listens")[1]
	molt := &moltCLI{t: t, bin: bins.molt, node: node}
	kv := newHTTPClient(t, url)

	// 1. Every shard on version 1.
	molt.allOn(1)

	// 2. The rollout under load. The load must be reaching the store
	// before the package runs, and still running once it has ended, for
	// both versions to answer it.
	load := startProcess(t, bins.load, "-target", url, "-duration", "4s", "-concurrency", "16", "-keys", "4000")
	kv.waitForKeys(t, "load/", "the load generator's first acknowledged write")
	applied := molt.run(0, "apply", "kvstore-v2.yaml")
	for _, re := range []string{
		`(?m)^package kvstore-v2 accepted: 16 actors$`,
		`(?m)^outcome\s+completed$`, `(?m)^updated\s+16$`, `(?m)^failed\s+0$`, `(?m)^rolled back\s+0$`,
	} {
		if !regexp.MustCompile(re).MatchString(applied.stdout) {
			t.Errorf("molt apply's summary does not match %s:\n%s", re, applied.stdout)
		}
	}
	if n := len(regexp.MustCompile(`(?m)^kv-shard-\d+\s+kvshard\s+1\s+2\s+committed\s`).FindAllString(applied.stdout, -1)); n != 16 {
		t.Errorf("molt apply's table shows %d shards committed 1→2, want 16:\n%s", n, applied.stdout)
	}
	select {
	case <-load.exited:
		t.Fatalf("the load ended before molt apply did: the rollout did not run under load; lengthen -duration\n%s", load.out)
	default:
	}
	report := load.wait(t, "the load generator to end")
	if load.err != nil {
		t.Fatalf("the load generator failed (%v):\n%s\nthe service wrote:\n%s", load.err, report, svc.out)
	}
	for _, want := range []string{"failed requests: 0; stale reads: 0", " 0 not holding their last acknowledged value", "OK:"} {
		if !strings.Contains(report, want) {
			t.Errorf("the load report lacks %q:\n%s", want, report)
		}
	}
	if v := regexp.MustCompile(`answered by shard version: v1 \d+, v2 \d+\n`).FindString(report); v == "" {
		t.Errorf("the load was not answered by both versions: the rollout did not happen under it\n%s", report)
	}

	// What the load left, to compare after the rollback: every shard's key
	// count and a sample of values.
	counts := kv.keyCounts(t)
	sample := kv.sample(t, "load/", 25)

	// 3. Every shard on version 2, and TTLs served.
	molt.allOn(2)
	const canaryKey = "session/alice"
	if i := (&shards{pids: make([]*actor.PID, 16)}).of(canaryKey); i != 0 {
		t.Fatalf("%q is on kv-shard-%d; the test needs a key on kv-shard-0, the rollout's canary", canaryKey, i)
	}
	kv.expect(t, "PUT", "/kv/"+canaryKey+"?ttl=1m", "token", 200, "", "2")
	var ttl struct {
		Key, TTL  string
		ExpiresAt time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(kv.expect(t, "GET", "/ttl/"+canaryKey, "", 200, "", "2")), &ttl); err != nil ||
		ttl.Key != canaryKey || ttl.TTL == "" || time.Until(ttl.ExpiresAt) <= 0 {
		t.Fatalf("GET /ttl/%s: %+v (%v), want a live TTL", canaryKey, ttl, err)
	}

	// 4. A live TTL on the canary: the rollback halts there, having moved
	// nothing else.
	refused := molt.run(1, "rollback")
	wantErr := `molt: package rollback-kvstore-v2 halted: 0 updated, 1 failed, 0 rolled back: `
	if !strings.HasPrefix(refused.stderr, wantErr) || !strings.Contains(refused.stderr, `live TTL ("session/alice")`) {
		t.Errorf("molt rollback with a live TTL said on stderr:\n%s\nwant %q... naming the key", refused.stderr, wantErr)
	}
	if !regexp.MustCompile(`(?m)^kv-shard-0\s+kvshard\s+2\s+1\s+aborted\s`).MatchString(refused.stdout) {
		t.Errorf("molt rollback's table does not show kv-shard-0 aborted:\n%s", refused.stdout)
	}
	molt.allOn(2)

	// 5. The key gone, the rollback goes through, and the data with it.
	kv.expect(t, "DELETE", "/kv/"+canaryKey, "", 200, "", "2")
	rolledBack := molt.run(0, "rollback")
	for _, re := range []string{`(?m)^package rollback-kvstore-v2 accepted: 16 actors$`, `(?m)^outcome\s+completed$`, `(?m)^updated\s+16$`} {
		if !regexp.MustCompile(re).MatchString(rolledBack.stdout) {
			t.Errorf("molt rollback's summary does not match %s:\n%s", re, rolledBack.stdout)
		}
	}
	molt.allOn(1)
	kv.sameData(t, counts, sample, "1")

	// 6. A live TTL past the canary (kv-shard-7 holds "session"): the
	// shards before it go back, then the rollback halts.
	molt.run(0, "apply", "kvstore-v2.yaml")
	kv.expect(t, "PUT", "/kv/session?ttl=1m", "token", 200, "", "2")
	split := molt.run(1, "rollback")
	if !strings.Contains(split.stderr, `halted: 15 updated, 1 failed`) || !strings.Contains(split.stderr, `kv-shard-7 (kvshard) aborted`) {
		t.Errorf("molt rollback with a live TTL on kv-shard-7 said on stderr:\n%s\nwant 15 updated and kv-shard-7 aborted", split.stderr)
	}
	versions := molt.versions()
	for name, v := range versions {
		if want := map[bool]uint32{true: 2, false: 1}[name == "kv-shard-7"]; v != want {
			t.Errorf("after the halted rollback %s runs version %d, want %d (all: %v)", name, v, want, versions)
		}
	}
	kv.expect(t, "DELETE", "/kv/session", "", 200, "", "2")
	molt.run(0, "update", "kv-shard-7", "--to", "1")
	molt.allOn(1)
	kv.sameData(t, counts, sample, "1")

	// 7. SIGINT shuts it down cleanly.
	svc.interrupt(t)
}

// TestPackageFile checks that kvstore-v2.yaml, which `molt apply` runs in
// the walkthrough, is the package the demo flag -rollout-after runs.
func TestPackageFile(t *testing.T) {
	file, err := manifest.LoadFile("kvstore-v2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := manifest.Validate(file); err != nil {
		t.Fatalf("kvstore-v2.yaml: %v", err)
	}
	want := rolloutPackage("kvstore-v2", 2, time.Second)
	got, _ := json.Marshal(file)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(got, wantJSON) {
		t.Errorf("kvstore-v2.yaml differs from rolloutPackage:\n got %s\nwant %s", got, wantJSON)
	}
}

// binaries are the walkthrough's three programs, built for one test.
type binaries struct{ kvstore, load, molt string }

// buildAll builds the service, the load generator and the CLI into a
// temporary directory, in one go build so that they share its work.
func buildAll(t *testing.T) binaries {
	t.Helper()
	dir := t.TempDir()
	goBuild(t, dir+string(os.PathSeparator), ".", "./load", "../../cmd/molt")
	join := func(name string) string { return dir + string(os.PathSeparator) + name }
	return binaries{kvstore: join("kvstore"), load: join("load"), molt: join("molt")}
}

// wait waits, bounded, for the process to exit, and returns its output.
func (p *process) wait(t *testing.T, what string) string {
	t.Helper()
	select {
	case <-p.exited:
		return p.out.String()
	case <-time.After(patience):
		t.Fatalf("waited %v for %s; it wrote:\n%s", patience, what, p.out)
		return ""
	}
}

// interrupt sends SIGINT and checks the process exits cleanly, saying so.
func (p *process) interrupt(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("interrupting the service: %v", err)
	}
	p.wait(t, "the service to exit on SIGINT")
	if p.err != nil {
		t.Fatalf("the service exited with %v after SIGINT; it wrote:\n%s", p.err, p.out)
	}
	if !strings.Contains(p.out.String(), "shutting down") {
		t.Errorf("the service did not say it shut down:\n%s", p.out)
	}
}

// moltCLI runs the built molt command against one node.
type moltCLI struct {
	t         *testing.T
	bin, node string
}

type moltResult struct {
	stdout, stderr string
}

// run runs molt --node NODE args... and fails the test unless it exits
// with code.
func (m *moltCLI) run(code int, args ...string) moltResult {
	m.t.Helper()
	// Beyond the CLI's own --timeout (10 s), so that a CLI that never
	// answers is told from one that answered late.
	ctx, cancel := context.WithTimeout(context.Background(), 2*patience)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, m.bin, append([]string{"--node", m.node}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	got := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		got = exit.ExitCode()
	case err != nil:
		m.t.Fatalf("molt %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		m.t.Fatalf("molt %s did not end within %v; it wrote:\n%s%s", strings.Join(args, " "), 2*patience, &stdout, &stderr)
	}
	if got != code {
		m.t.Fatalf("molt %s exited %d, want %d; it wrote:\n%s%s", strings.Join(args, " "), got, code, &stdout, &stderr)
	}
	return moltResult{stdout: stdout.String(), stderr: stderr.String()}
}

// versions lists the shards with molt ls, name → version.
func (m *moltCLI) versions() map[string]uint32 {
	m.t.Helper()
	out := m.run(0, "ls", "--kind", Kind, "-o", "json").stdout
	var ls struct {
		Actors []struct {
			Name    string `json:"name"`
			Kind    string `json:"kind"`
			Version uint32 `json:"version"`
		} `json:"actors"`
		Total int `json:"total"`
	}
	if err := json.Unmarshal([]byte(out), &ls); err != nil {
		m.t.Fatalf("molt ls -o json: %v in\n%s", err, out)
	}
	vs := make(map[string]uint32, len(ls.Actors))
	for _, a := range ls.Actors {
		vs[a.Name] = a.Version
	}
	if ls.Total != 16 || len(vs) != 16 {
		m.t.Fatalf("molt ls lists %d shards (total %d), want 16:\n%s", len(vs), ls.Total, out)
	}
	return vs
}

// allOn checks with molt ls that every shard runs version v.
func (m *moltCLI) allOn(v uint32) {
	m.t.Helper()
	vs := m.versions()
	for name, got := range vs {
		if got != v {
			m.t.Fatalf("molt ls: %s runs version %d, want every shard on %d (all: %v)", name, got, v, vs)
		}
	}
}

// httpClient talks to the service's HTTP API; its connections are closed
// when the test ends, which goleak checks.
type httpClient struct {
	url    string
	client *http.Client
}

func newHTTPClient(t *testing.T, url string) *httpClient {
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	return &httpClient{url: url, client: &http.Client{Transport: transport, Timeout: patience}}
}

// expect does a request and checks its status, that its body contains
// contains and that the shard version given answered it; it returns the
// body.
func (c *httpClient) expect(t *testing.T, method, path, body string, code int, contains, version string) string {
	t.Helper()
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	if got := resp.Header.Get("X-Shard-Version"); resp.StatusCode != code || !strings.Contains(string(b), contains) || (version != "" && got != version) {
		t.Fatalf("%s %s: %d %q from version %q, want %d with %q from version %q", method, path, resp.StatusCode, b, got, code, contains, version)
	}
	return string(b)
}

func (c *httpClient) keys(t *testing.T, prefix string, limit int) []string {
	t.Helper()
	var l struct{ Keys []string }
	body := c.expect(t, "GET", fmt.Sprintf("/kv?prefix=%s&limit=%d", prefix, limit), "", 200, "", "")
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		t.Fatalf("GET /kv?prefix=%s: %v in %q", prefix, err, body)
	}
	return l.Keys
}

// waitForKeys waits until some key with prefix exists.
func (c *httpClient) waitForKeys(t *testing.T, prefix, what string) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for len(c.keys(t, prefix, 1)) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s: no key with prefix %q", patience, what, prefix)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sample returns the first n keys with prefix and their values.
func (c *httpClient) sample(t *testing.T, prefix string, n int) map[string]string {
	t.Helper()
	keys := c.keys(t, prefix, n)
	if len(keys) < n {
		t.Fatalf("only %d keys with prefix %q, want %d to sample", len(keys), prefix, n)
	}
	values := make(map[string]string, n)
	for _, k := range keys {
		values[k] = c.expect(t, "GET", "/kv/"+k, "", 200, "", "")
	}
	return values
}

// keyCounts returns each shard's key count, from /debug/shards.
func (c *httpClient) keyCounts(t *testing.T) map[string]int {
	t.Helper()
	var shards []ShardStatus
	body := c.expect(t, "GET", "/debug/shards", "", 200, "", "")
	if err := json.Unmarshal([]byte(body), &shards); err != nil {
		t.Fatalf("GET /debug/shards: %v in %q", err, body)
	}
	counts := make(map[string]int, len(shards))
	for _, s := range shards {
		counts[s.Name] = s.Keys
	}
	return counts
}

// sameData checks that every shard holds as many keys as counts says and
// that the sampled keys hold their values, answered by version.
func (c *httpClient) sameData(t *testing.T, counts map[string]int, sample map[string]string, version string) {
	t.Helper()
	if got := c.keyCounts(t); fmt.Sprint(got) != fmt.Sprint(counts) {
		t.Errorf("the shards' key counts changed: %v, want %v", got, counts)
	}
	for k, v := range sample {
		if got := c.expect(t, "GET", "/kv/"+k, "", 200, "", version); got != v {
			t.Errorf("GET /kv/%s: %q, want %q as before the rollback", k, got, v)
		}
	}
}
