package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestEndToEnd runs the service and the load generator as real processes,
// as an operator would: the load runs for a few seconds while the service
// moves every shard to version 2 (-rollout-after, until the molt CLI does
// it from outside), and then no request has failed, every acknowledged
// write is readable, and every shard runs version 2.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries and runs them for seconds")
	}
	dir := t.TempDir()
	kvstore := build(t, dir, "kvstore", ".")
	load := build(t, dir, "load", "./load")

	// The rollout starts 1s after the service does and the load runs for
	// 5s: the load generator has a second to start, which the versions it
	// reports check (both must have answered).
	svc := startProcess(t, kvstore, "-addr", "127.0.0.1:0", "-remote", "127.0.0.1:0", "-shards", "16", "-rollout-after", "1s", "-data", t.TempDir())
	url := svc.waitFor(t, regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`), "the service to say where it listens")[1]

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, load, "-target", url, "-duration", "5s", "-concurrency", "16", "-keys", "4000").CombinedOutput()
	t.Logf("load generator:\n%s", out)
	if err != nil {
		t.Fatalf("the load generator failed (%v); the service wrote:\n%s", err, svc.out)
	}
	report := string(out)
	for _, want := range []string{"failed requests: 0; stale reads: 0", " 0 not holding their last acknowledged value", "OK:"} {
		if !strings.Contains(report, want) {
			t.Errorf("the load report lacks %q", want)
		}
	}
	if v := regexp.MustCompile(`answered by shard version: (.*)`).FindStringSubmatch(report); v == nil ||
		!strings.Contains(v[1], "v1 ") || !strings.Contains(v[1], "v2 ") {
		t.Errorf("the load was not answered by both versions (%v): the rollout did not happen under load", v)
	}

	svc.waitFor(t, regexp.MustCompile(`package kvstore-v2-1: PACKAGE_OUTCOME_COMPLETED in \S+, 16 shards updated, 0 failed`), "the rollout to complete")
	shards := getShards(t, url)
	if len(shards) != 16 {
		t.Fatalf("GET /debug/shards lists %d shards, want 16", len(shards))
	}
	for _, s := range shards {
		if s.Version != 2 {
			t.Errorf("%s runs version %d after the rollout, want 2", s.Name, s.Version)
		}
	}

	svc.interrupt(t)
}

// build compiles the package at pkg (relative to this one) into dir.
func build(t *testing.T, dir, name, pkg string) string {
	t.Helper()
	bin := filepath.Join(dir, name)
	goBuild(t, bin, pkg)
	return bin
}

// goBuild runs go build -o out pkgs...: out is a file for one package, a
// directory (ending in a separator) for several. Flags (-tags) may come
// before the packages.
func goBuild(t *testing.T, out string, pkgs ...string) {
	t.Helper()
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		if goTool, err = exec.LookPath("go"); err != nil {
			t.Skipf("no go command to build %v with: %v", pkgs, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if b, err := exec.CommandContext(ctx, goTool, append([]string{"build", "-o", out}, pkgs...)...).CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", pkgs, err, b)
	}
}

// process is a child process, killed and waited for when the test ends.
type process struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{} // closed once it has exited, and err set
	err    error
}

func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), out: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		// Kill is harmless if it has exited already; then wait, bounded,
		// so that its output's copying goroutines end with the test.
		_ = p.cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(patience):
			t.Errorf("%s did not exit within %v of being killed", bin, patience)
		}
	})
	return p
}

// waitFor waits until the process's output matches re, and returns the
// match; it fails the test, saying what, if that does not happen within
// patience or the process exits first.
func (p *process) waitFor(t *testing.T, re *regexp.Regexp, what string) []string {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		if m := re.FindStringSubmatch(p.out.String()); m != nil {
			return m
		}
		select {
		case <-p.exited:
			t.Fatalf("waiting for %s, the process exited (%v); it wrote:\n%s", what, p.err, p.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; the process wrote:\n%s", patience, what, p.out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func getShards(t *testing.T, url string) []ShardStatus {
	t.Helper()
	transport := &http.Transport{}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: patience}
	resp, err := client.Get(url + "/debug/shards")
	if err != nil {
		t.Fatalf("GET /debug/shards: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /debug/shards: %s %v: %s", resp.Status, err, body)
	}
	var out []ShardStatus
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("GET /debug/shards: %v in %s", err, body)
	}
	return out
}
