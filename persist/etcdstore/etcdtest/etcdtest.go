// Package etcdtest starts a throwaway one-member etcd for a test: on
// loopback ports, its data in the test's temporary directory, stopped when
// the test ends. Tests of persist/etcdstore and of examples/cluster use
// it; a test that needs etcd skips, saying so, when the etcd binary is not
// installed (Debian: apt-get install etcd-server).
package etcdtest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Etcd is an etcd server started by Start.
type Etcd struct {
	// Endpoint is its client URL, http://127.0.0.1:port.
	Endpoint string
	out      *syncBuffer
}

// Output returns what the server has written so far (it logs errors only).
func (e *Etcd) Output() string { return e.out.String() }

// Start runs etcd, waits until it reports itself healthy (at most 15 s,
// or the test fails saying so), and stops it (SIGKILL: its data is
// thrown away) when the test ends. It skips the test when no etcd binary
// is on the PATH.
func Start(t testing.TB) *Etcd {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd is not installed (Debian: apt-get install etcd-server; .ci/run installs it): this test needs a real etcd")
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin,
		"--name", "molt-test",
		"--data-dir", t.TempDir(),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "molt-test="+peer,
		"--log-level", "error")
	e := &Etcd{Endpoint: client, out: &syncBuffer{}}
	cmd.Stdout, cmd.Stderr = e.out, e.out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start etcd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cancel() // kills it
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("etcd (pid %d) did not exit within 10 s of being killed", cmd.Process.Pid)
		}
	})
	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("etcd exited before it was healthy: %s", e.out)
		default:
		}
		if healthy(hc, client) {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd at %s was not healthy within 15 s; it wrote: %s", client, e.out)
		}
		time.Sleep(20 * time.Millisecond) // polling its health endpoint
	}
}

func healthy(hc *http.Client, client string) bool {
	res, err := hc.Get(client + "/health")
	if err != nil {
		return false
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return strings.Contains(string(b), `"health":"true"`)
}

// freePort returns a loopback port nothing listens on at the moment.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
