package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/molt-go/molt/update/manager"
)

// patience bounds every wait of these tests: far beyond what a healthy run
// needs, so that a test only fails when something did not happen.
const patience = 10 * time.Second

// syncBuffer is the service's output, written by its goroutines and read
// by the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testService is a kvstore on a free loopback port, with a client of its
// own whose connections are closed when the test ends.
type testService struct {
	t      *testing.T
	svc    *service
	out    *syncBuffer
	client *http.Client
}

func startService(t *testing.T, shards int, version uint32) *testService {
	t.Helper()
	out := &syncBuffer{}
	svc, err := start(Config{Addr: "127.0.0.1:0", Shards: shards, Version: version, Timeout: 5 * time.Second, UpdateDeadline: time.Second}, out)
	if err != nil {
		t.Fatalf("starting the service: %v", err)
	}
	transport := &http.Transport{}
	ts := &testService{t: t, svc: svc, out: out, client: &http.Client{Transport: transport, Timeout: patience}}
	t.Cleanup(func() {
		transport.CloseIdleConnections()
		if err := svc.Close(); err != nil {
			t.Errorf("closing the service: %v", err)
		}
	})
	return ts
}

type reply struct {
	code    int
	body    string
	version string
}

func (s *testService) do(method, path, body string) reply {
	s.t.Helper()
	req, err := http.NewRequest(method, s.svc.URL()+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return reply{code: resp.StatusCode, body: string(b), version: resp.Header.Get("X-Shard-Version")}
}

// expect does a request and checks its status code and, if body is not
// empty, that the body contains it.
func (s *testService) expect(method, path, body string, code int, contains string) reply {
	s.t.Helper()
	r := s.do(method, path, body)
	if r.code != code || !strings.Contains(r.body, contains) {
		s.t.Fatalf("%s %s: %d %q, want %d with %q", method, path, r.code, r.body, code, contains)
	}
	return r
}

func (s *testService) shards() []ShardStatus {
	s.t.Helper()
	r := s.expect("GET", "/debug/shards", "", 200, "")
	var out []ShardStatus
	if err := json.Unmarshal([]byte(r.body), &out); err != nil {
		s.t.Fatalf("GET /debug/shards: %v in %q", err, r.body)
	}
	return out
}

// allOn checks that every shard answers from version v.
func (s *testService) allOn(v uint32) {
	s.t.Helper()
	for _, sh := range s.shards() {
		if sh.Version != v {
			s.t.Fatalf("%s runs version %d, want %d (all: %+v)", sh.Name, sh.Version, v, s.shards())
		}
	}
}

func (s *testService) rollout(to uint32) (*manager.Event, error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	return s.svc.rollout(ctx, to)
}

func (s *testService) list(query string) listReply {
	s.t.Helper()
	r := s.expect("GET", "/kv?"+query, "", 200, "")
	var out listReply
	if err := json.Unmarshal([]byte(r.body), &out); err != nil {
		s.t.Fatalf("GET /kv?%s: %v in %q", query, err, r.body)
	}
	return out
}

func TestAPIVersion1(t *testing.T) {
	s := startService(t, 4, 1)
	s.allOn(1)

	s.expect("GET", "/kv/a/b", "", 404, "no such key")
	if r := s.expect("PUT", "/kv/a/b", "hello", 200, "OK"); r.version != "1" {
		t.Errorf("PUT answered by version %q, want 1", r.version)
	}
	s.expect("GET", "/kv/a/b", "", 200, "hello")
	s.expect("PUT", "/kv/a/b", "again", 200, "OK")
	s.expect("GET", "/kv/a/b", "", 200, "again")
	s.expect("DELETE", "/kv/a/b", "", 200, "OK")
	s.expect("GET", "/kv/a/b", "", 404, "no such key")
	s.expect("DELETE", "/kv/a/b", "", 404, "no such key")

	// TTLs are refused, and nothing is written.
	const refusal = "shard runs version 1; TTLs come with version 2"
	s.expect("PUT", "/kv/session?ttl=30s", "x", 409, refusal)
	s.expect("GET", "/kv/session", "", 404, "")
	s.expect("PUT", "/kv/plain", "x", 200, "")
	s.expect("GET", "/ttl/plain", "", 409, refusal)

	// Bad input is refused before any shard is asked.
	s.expect("GET", "/kv/", "", 400, "empty key")
	s.expect("PUT", "/kv/"+strings.Repeat("k", MaxKeyBytes+1), "x", 400, "over the limit")
	s.expect("PUT", "/kv/big", strings.Repeat("v", MaxValueBytes+1), 413, "over the limit")
	s.expect("PUT", "/kv/x?ttl=soon", "x", 400, "ttl")
	s.expect("PUT", "/kv/x?ttl=-1s", "x", 400, "ttl")
	s.expect("GET", "/kv?limit=0", "", 400, "limit")
	s.expect("GET", "/kv?limit=1001", "", 400, "limit")
}

func TestListByPrefix(t *testing.T) {
	s := startService(t, 4, 1)
	for i := range 30 {
		s.expect("PUT", fmt.Sprintf("/kv/user/%02d", i), "v", 200, "")
	}
	s.expect("PUT", "/kv/other", "v", 200, "")

	all := s.list("prefix=user/")
	if len(all.Keys) != 30 || all.Truncated || all.Keys[0] != "user/00" || all.Keys[29] != "user/29" {
		t.Fatalf("prefix user/: %d keys %v (truncated %v), want user/00 .. user/29 in order", len(all.Keys), all.Keys, all.Truncated)
	}
	// The keys of several shards, merged and cut at the limit.
	some := s.list("prefix=user/&limit=5")
	if want := []string{"user/00", "user/01", "user/02", "user/03", "user/04"}; !equal(some.Keys, want) || !some.Truncated {
		t.Fatalf("limit 5: %v (truncated %v), want %v, truncated", some.Keys, some.Truncated, want)
	}
	if got := s.list("prefix=user/1"); len(got.Keys) != 10 || got.Truncated {
		t.Fatalf("prefix user/1: %v (truncated %v), want 10 keys", got.Keys, got.Truncated)
	}
	if got := s.list("prefix=nothing"); len(got.Keys) != 0 || got.Truncated {
		t.Fatalf("prefix nothing: %v, want none", got.Keys)
	}
	if got := s.list(""); len(got.Keys) != 31 {
		t.Fatalf("no prefix: %d keys, want 31", len(got.Keys))
	}
}

func equal(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

// TestRolloutToVersion2 moves every shard to version 2 in process, as
// `molt apply` will: what version 1 stored is still there, and TTLs work.
func TestRolloutToVersion2(t *testing.T) {
	s := startService(t, 4, 1)
	for i := range 20 {
		s.expect("PUT", fmt.Sprintf("/kv/k%d", i), fmt.Sprintf("v%d", i), 200, "")
	}
	done, err := s.rollout(2)
	if err != nil {
		t.Fatalf("rollout to version 2: %v\n%s", err, s.out)
	}
	if done.GetUpdated() != 4 {
		t.Errorf("the rollout updated %d shards, want 4", done.GetUpdated())
	}
	s.allOn(2)
	for i := range 20 {
		if r := s.expect("GET", fmt.Sprintf("/kv/k%d", i), "", 200, fmt.Sprintf("v%d", i)); r.version != "2" {
			t.Fatalf("k%d answered by version %q, want 2", i, r.version)
		}
	}

	// A value without TTL has no expiry.
	if r := s.expect("GET", "/ttl/k1", "", 200, `"key": "k1"`); strings.Contains(r.body, "expires_at") {
		t.Errorf("GET /ttl/k1 = %s, want no expiry", r.body)
	}
	// A long TTL: the key is there, and says when it goes.
	s.expect("PUT", "/kv/session?ttl=1h", "s", 200, "")
	s.expect("GET", "/kv/session", "", 200, "s")
	var ttl ttlReply
	if err := json.Unmarshal([]byte(s.expect("GET", "/ttl/session", "", 200, "").body), &ttl); err != nil {
		t.Fatal(err)
	}
	left, err := time.ParseDuration(ttl.TTL)
	if err != nil || left <= 59*time.Minute || left > time.Hour || ttl.ExpiresAt == nil {
		t.Fatalf("GET /ttl/session = %+v, want about 1h left", ttl)
	}
	// A short TTL: the key goes, from reads and from listings.
	s.expect("PUT", "/kv/flash?ttl=20ms", "f", 200, "")
	deadline := time.Now().Add(patience)
	for s.do("GET", "/kv/flash", "").code != 404 {
		if time.Now().After(deadline) {
			t.Fatalf("a key with a TTL of 20ms was still readable after %v", patience)
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.expect("GET", "/ttl/flash", "", 404, "")
	if got := s.list("prefix=flash"); len(got.Keys) != 0 {
		t.Fatalf("an expired key is listed: %v", got.Keys)
	}
	// A write without TTL clears the expiry.
	s.expect("PUT", "/kv/session", "kept", 200, "")
	if r := s.expect("GET", "/ttl/session", "", 200, ""); strings.Contains(r.body, "expires_at") {
		t.Errorf("after a PUT without ttl, GET /ttl/session = %s, want no expiry", r.body)
	}
}

// TestRollbackRefusedWhileTTLsLive: the down migration refuses a shard
// with a live TTL (see migrateDown), so the rollback halts with that shard
// on version 2 and its TTL intact; once the key is deleted, the rollback
// goes through and keeps every plain value.
func TestRollbackRefusedWhileTTLsLive(t *testing.T) {
	s := startService(t, 4, 2)
	for i := range 20 {
		s.expect("PUT", fmt.Sprintf("/kv/k%d", i), fmt.Sprintf("v%d", i), 200, "")
	}
	s.expect("PUT", "/kv/lock?ttl=1h", "held", 200, "")
	holder := ShardName(s.svc.shards.of("lock"))

	done, err := s.rollout(1)
	if err == nil || done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_HALTED {
		t.Fatalf("rollback with a live TTL: %v, %v; want a HALTED package", done.GetPackageOutcome(), err)
	}
	if !strings.Contains(s.out.String(), `"lock"`) {
		t.Errorf("the service's output does not name the key with a live TTL:\n%s", s.out)
	}
	for _, sh := range s.shards() {
		if sh.Name == holder && sh.Version != 2 {
			t.Fatalf("%s holds a live TTL but runs version %d", holder, sh.Version)
		}
	}
	s.expect("GET", "/ttl/lock", "", 200, "expires_at")

	s.expect("DELETE", "/kv/lock", "", 200, "")
	if _, err := s.rollout(1); err != nil {
		t.Fatalf("rollback with no live TTL: %v\n%s", err, s.out)
	}
	s.allOn(1)
	for i := range 20 {
		s.expect("GET", fmt.Sprintf("/kv/k%d", i), "", 200, fmt.Sprintf("v%d", i))
	}
	s.expect("PUT", "/kv/lock?ttl=1h", "x", 409, "shard runs version 1")
}

func TestMetrics(t *testing.T) {
	s := startService(t, 2, 1)
	s.expect("PUT", "/kv/a", "x", 200, "")
	if _, err := s.rollout(2); err != nil {
		t.Fatal(err)
	}
	body := s.expect("GET", "/metrics", "", 200, "").body
	for _, want := range []string{
		`kvstore_http_requests_total{code="200"`,
		`kvstore_http_duration_seconds_bucket{`,
		`molt_updates_total{`,
		`molt_actors{molt_kind="kvshard",molt_version="2"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}

// TestRunStopsWhenCancelled: run serves until its context ends, then shuts
// down and returns nil.
func TestRunStopsWhenCancelled(t *testing.T) {
	out := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, Config{Addr: "127.0.0.1:0", Shards: 2, Version: 1, Timeout: 5 * time.Second, UpdateDeadline: time.Second}, out)
	}()
	deadline := time.Now().Add(patience)
	for !strings.Contains(out.String(), "listening on http://127.0.0.1:") {
		if time.Now().After(deadline) {
			t.Fatalf("run did not say where it listens within %v; it wrote:\n%s", patience, out)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(patience):
		t.Fatalf("run did not return within %v of its context ending", patience)
	}
}

func TestConfigRefused(t *testing.T) {
	base := Config{Addr: "127.0.0.1:0", Shards: 2, Version: 1, Timeout: 5 * time.Second, UpdateDeadline: time.Second}
	for name, mutate := range map[string]func(*Config){
		"no shards":            func(c *Config) { c.Shards = 0 },
		"version 3":            func(c *Config) { c.Version = 3 },
		"timeout under update": func(c *Config) { c.Timeout = c.UpdateDeadline },
	} {
		c := base
		mutate(&c)
		if _, err := start(c, io.Discard); err == nil {
			t.Errorf("%s: started, want an error", name)
		}
	}
}
