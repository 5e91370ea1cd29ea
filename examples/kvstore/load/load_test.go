package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeStore is a kvstore's API in a map, with faults to switch on: the
// load generator must notice each one.
type fakeStore struct {
	mu   sync.Mutex
	data map[string]string
	// loseWrites acknowledges PUTs without storing them.
	loseWrites atomic.Bool
	// failEvery makes every nth request answer 503.
	failEvery atomic.Int64
	n         atomic.Int64
}

func (f *fakeStore) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if n := f.failEvery.Load(); n > 0 && f.n.Add(1)%n == 0 {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	key := strings.TrimPrefix(r.URL.Path, "/kv/")
	w.Header().Set("X-Shard-Version", "1")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch r.Method {
	case http.MethodPut:
		body, _ := io.ReadAll(r.Body)
		if !f.loseWrites.Load() {
			f.data[key] = string(body)
		}
		io.WriteString(w, "OK\n")
	case http.MethodGet:
		v, ok := f.data[key]
		if !ok {
			http.Error(w, "no such key", http.StatusNotFound)
			return
		}
		io.WriteString(w, v)
	}
}

func runAgainst(t *testing.T, f *fakeStore) (*Report, string) {
	t.Helper()
	srv := httptest.NewServer(f)
	defer srv.Close()
	var out strings.Builder
	rep, err := run(context.Background(), Config{
		Target: srv.URL, Duration: 200 * time.Millisecond, Concurrency: 4, Keys: 40,
		WriteRatio: 0.5, Prefix: "t/", Timeout: 5 * time.Second,
	}, &out)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return rep, out.String()
}

func TestHealthyStore(t *testing.T) {
	rep, out := runAgainst(t, &fakeStore{data: map[string]string{}})
	if !rep.OK() || rep.Requests == 0 || rep.Writes == 0 || rep.Reads == 0 || rep.Checked == 0 {
		t.Fatalf("a healthy store: %+v\n%s", rep, out)
	}
	for _, want := range []string{"requests/s", "p50", "p90", "p99", "max", "answered by shard version: v1 ", "OK:"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}

func TestLostWritesAreFound(t *testing.T) {
	f := &fakeStore{data: map[string]string{}}
	f.loseWrites.Store(true)
	rep, out := runAgainst(t, f)
	// Every key with an acknowledged write is read back wrong. A key
	// whose only writes were cut off by the end of the run (no answer
	// came) may rightly be absent, so Mismatches may be below Checked.
	if rep.OK() || rep.Mismatches == 0 {
		t.Fatalf("a store that loses every write: %d of %d keys mismatched, OK %v\n%s", rep.Mismatches, rep.Checked, rep.OK(), out)
	}
	if rep.Failed != 0 {
		t.Errorf("lost writes are not failed requests, yet %d failed", rep.Failed)
	}
	if !strings.Contains(out, "FAILED") || !strings.Contains(out, "was acknowledged") {
		t.Errorf("the report does not say what was lost:\n%s", out)
	}
}

func TestFailedRequestsCount(t *testing.T) {
	f := &fakeStore{data: map[string]string{}}
	f.failEvery.Store(7)
	rep, out := runAgainst(t, f)
	if rep.OK() || rep.Failed == 0 {
		t.Fatalf("a store that answers 503 to every 7th request: %d failed, OK %v\n%s", rep.Failed, rep.OK(), out)
	}
	if !strings.Contains(out, "503") {
		t.Errorf("the report does not quote a failure:\n%s", out)
	}
}

func TestFlagsRefused(t *testing.T) {
	for _, args := range [][]string{
		{"-duration", "0s"},
		{"-concurrency", "0"},
		{"-keys", "3", "-concurrency", "4"},
		{"-write-ratio", "1.5"},
		{"-target", "127.0.0.1:8080"},
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("%v accepted, want an error", args)
		}
	}
}
