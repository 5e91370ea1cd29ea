package main

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// startWith starts a kvstore in process with cfg on a free port, closed
// when the test ends.
func startWith(t *testing.T, cfg Config) *testService {
	t.Helper()
	cfg.Addr, cfg.Timeout, cfg.UpdateDeadline, cfg.OpenTimeout = "127.0.0.1:0", 5*time.Second, time.Second, patience
	if cfg.Shards == 0 {
		cfg.Shards = 4
	}
	out := &syncBuffer{}
	svc, err := start(cfg, out)
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

// TestRestartFromSnapshots writes through the current release, closes it,
// and starts the next release on the same data directory: every write is
// there, at version 3, and a write of version 3 answers Last-Modified.
func TestRestartFromSnapshots(t *testing.T) {
	data := t.TempDir()
	v1 := startWith(t, Config{Version: 1, Data: data})
	v1.expect("PUT", "/kv/a", "1", 200, "OK")
	v1.expect("PUT", "/kv/b", "2", 200, "OK")
	v1.expect("PUT", "/kv/c", "3", 200, "OK")
	v1.expect("DELETE", "/kv/c", "", 200, "OK")
	if err := v1.svc.Close(); err != nil {
		t.Fatal(err)
	}

	v3 := startWith(t, Config{Next: true, Version: 3, Data: data})
	v3.allOn(3)
	if r := v3.expect("GET", "/kv/a", "", 200, "1"); r.version != "3" {
		t.Errorf("GET /kv/a answered by version %q, want 3", r.version)
	}
	v3.expect("GET", "/kv/b", "", 200, "2")
	v3.expect("GET", "/kv/c", "", 404, "")
	v3.expect("PUT", "/kv/a", "one", 200, "OK")
	req, _ := http.NewRequest("GET", v3.svc.URL()+"/kv/a", nil)
	resp, err := v3.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err != nil || time.Since(lm) > time.Minute {
		t.Errorf("GET /kv/a after a write on version 3: Last-Modified %q (%v), want about now", resp.Header.Get("Last-Modified"), err)
	}
}

// TestStoreHeldElsewhere: a second service on the same data directory
// waits for the file and then refuses to start, saying the file is held.
func TestStoreHeldElsewhere(t *testing.T) {
	data := t.TempDir()
	startWith(t, Config{Version: 1, Data: data})
	cfg := Config{Version: 1, Data: data, Addr: "127.0.0.1:0", Shards: 4, Timeout: 5 * time.Second, UpdateDeadline: time.Second, OpenTimeout: 100 * time.Millisecond}
	svc, err := start(cfg, &syncBuffer{})
	if err == nil {
		svc.Close()
		t.Fatal("a second service opened a data directory in use")
	}
	if !strings.Contains(err.Error(), "held by another process") {
		t.Errorf("the refusal does not say the file is held: %v", err)
	}
}

// TestUnsharedPort: without -takeover, a port in use is refused, even by
// a kvstore that shares its own (SO_REUSEPORT), so that two services never
// split one port's clients by accident.
func TestUnsharedPort(t *testing.T) {
	first := startWith(t, Config{Version: 1})
	addr := strings.TrimPrefix(first.svc.URL(), "http://")
	cfg := Config{Version: 1, Addr: addr, Shards: 4, Timeout: 5 * time.Second, UpdateDeadline: time.Second}
	svc, err := start(cfg, &syncBuffer{})
	if err == nil {
		svc.Close()
		t.Fatalf("a second service listens on %s too", addr)
	}
}
