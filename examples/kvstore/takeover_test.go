package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestTakeoverUnderLoad runs README.md's takeover with real processes: the
// current release serves under load, the next release (built with -tags
// kvstore_next) takes every shard over from it (-takeover) and then
// serves on the same port. Then:
//
//   - the new process reports 16 of 16 shards moved, batch by batch, and
//     `molt takeover` on it says so;
//   - the old process hands over (store closed, listener closed) and
//     exits 0 by itself;
//   - the load generator failed no request, saw versions 1 and 3 answer,
//     and read back every acknowledged write from the new process;
//   - every shard runs version 3, by /debug/shards and by `molt ls`.
func TestTakeoverUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("builds four binaries and runs them for seconds")
	}
	bins := buildAll(t)
	next := buildNext(t)
	data := t.TempDir()

	old := startProcess(t, bins.kvstore, "-addr", "127.0.0.1:0", "-remote", "127.0.0.1:0", "-data", data)
	oldNode := old.waitFor(t, regexp.MustCompile(`molt admin on (127\.0\.0\.1:\d+)`), "the old process to say where its admin listens")[1]
	url := old.waitFor(t, regexp.MustCompile(`listening on (http://(127\.0\.0\.1:\d+))`), "the old process to say where it listens")
	kv := newHTTPClient(t, url[1])

	// The load runs before, during and after the takeover: both versions
	// must answer it.
	load := startProcess(t, bins.load, "-target", url[1], "-duration", "5s", "-concurrency", "16", "-keys", "4000")
	kv.waitForKeys(t, "load/", "the load generator's first acknowledged write")

	nu := startProcess(t, next, "-addr", url[2], "-remote", "127.0.0.1:0", "-data", data, "-takeover", oldNode, "-takeover-batch", "4")
	newNode := nu.waitFor(t, regexp.MustCompile(`molt admin on (127\.0\.0\.1:\d+)`), "the new process to say where its admin listens")[1]
	took := nu.waitFor(t, regexp.MustCompile(`took over (\d+) of (\d+) shards from \S+ in (\S+)ms, (\d+) failed; pause per shard p50 (\S+)ms p99 (\S+)ms max (\S+)ms`),
		"the new process to report the takeover")
	t.Logf("takeover: %s", took[0])
	if took[1] != "16" || took[2] != "16" || took[4] != "0" {
		t.Fatalf("the takeover moved %s of %s shards, %s failed; want all 16:\n%s", took[1], took[2], took[4], nu.out)
	}
	// The progress, batch by batch: 4 batches of 4.
	for _, n := range []string{"4", "8", "12", "16"} {
		if !regexp.MustCompile(`takeover \S+: ` + n + ` of 16 shards moved, 0 failed`).MatchString(nu.out.String()) {
			t.Errorf("the new process printed no progress line for %s shards moved:\n%s", n, nu.out)
		}
	}
	nu.waitFor(t, regexp.MustCompile(`listening on http://`+regexp.QuoteMeta(url[2])), "the new process to listen on the old one's port")

	// The old process hands over and exits by itself.
	for _, re := range []string{
		`taken over by 127\.0\.0\.1:\d+: 16 shards moved, 0 stayed here`,
		`store closed, for the new process to open`,
		`stopped listening, requests in flight answered`,
		`handed over; exiting`,
	} {
		old.waitFor(t, regexp.MustCompile(re), "the old process to say "+re)
	}
	old.wait(t, "the old process to exit after handing over")
	if old.err != nil {
		t.Errorf("the old process exited with %v:\n%s", old.err, old.out)
	}

	report := load.wait(t, "the load generator to end")
	if load.err != nil {
		t.Fatalf("the load generator failed (%v):\n%s\nthe old process wrote:\n%s\nthe new one:\n%s", load.err, report, old.out, nu.out)
	}
	for _, want := range []string{"failed requests: 0; stale reads: 0", " 0 not holding their last acknowledged value", "OK:"} {
		if !strings.Contains(report, want) {
			t.Errorf("the load report lacks %q:\n%s", want, report)
		}
	}
	if v := regexp.MustCompile(`answered by shard version: v1 \d+, v3 \d+\n`).FindString(report); v == "" {
		t.Errorf("the load was not answered by both versions 1 and 3: the takeover did not happen under it\n%s", report)
	}
	t.Logf("load:\n%s", report)

	// Every shard on version 3, by the shards themselves and by the node.
	for _, s := range getShards(t, url[1]) {
		if s.Version != 3 {
			t.Errorf("%s runs version %d after the takeover, want 3", s.Name, s.Version)
		}
	}
	molt := &moltCLI{t: t, bin: bins.molt, node: newNode}
	molt.allOn(3)
	status := molt.run(0, "takeover").stdout
	for _, re := range []string{`(?m)^role\s+requester$`, `(?m)^done\s+yes$`, `(?m)^moved\s+16$`, `(?m)^failed\s+0$`} {
		if !regexp.MustCompile(re).MatchString(status) {
			t.Errorf("molt takeover does not match %s:\n%s", re, status)
		}
	}

	nu.interrupt(t)
}

// TestKillAndRestart kills the service with SIGKILL while the load
// generator writes, and restarts it on the same data directory: no write
// the load generator saw acknowledged (its -acked-log) is lost. First the
// current release (version 1) is killed and the next release (version 3)
// restarts from its snapshots, migrated; then the next release is killed
// and restarts from its own. Every shard runs version 3 at the end.
func TestKillAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three binaries and runs them for seconds")
	}
	bins := buildAll(t)
	next := buildNext(t)
	data := t.TempDir()
	acked := t.TempDir() + string(os.PathSeparator) + "acked.log"

	for round, bin := range []string{bins.kvstore, next, next} {
		svc := startProcess(t, bin, "-addr", "127.0.0.1:0", "-remote", "", "-data", data)
		url := svc.waitFor(t, regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+) \(16 shards of kind kvshard at version (\d)\)`), "the service to listen")
		if round > 0 {
			// What every earlier round acknowledged is there.
			verify := runLoad(t, bins.load, "-verify", acked, "-target", url[1])
			t.Logf("round %d, after the restart: %s", round, strings.TrimSpace(verify))
			if !strings.Contains(verify, " 0 keys not holding their last acknowledged value") {
				t.Fatalf("after the kill -9, acknowledged writes are lost:\n%s\nthe service wrote:\n%s", verify, svc.out)
			}
			for _, s := range getShards(t, url[1]) {
				if s.Version != 3 || s.Keys == 0 {
					t.Errorf("after the restart %s runs version %d with %d keys; want version 3, migrated from the snapshots, with keys", s.Name, s.Version, s.Keys)
				}
			}
		}
		if round == 2 {
			svc.interrupt(t)
			break
		}
		// Writes, then a kill -9 in the middle of them.
		load := startProcess(t, bins.load, "-target", url[1], "-duration", "30s", "-concurrency", "8", "-keys", "2000", "-write-ratio", "0.9", "-acked-log", acked)
		waitForAcks(t, acked, 300*(round+1))
		svc.kill9(t)
		load.kill9(t)
	}
}

// buildNext builds the next release of the service: the same package,
// -tags kvstore_next.
func buildNext(t *testing.T) string {
	t.Helper()
	bin := t.TempDir() + string(os.PathSeparator) + "kvstore-next"
	goBuild(t, bin, "-tags", "kvstore_next", ".")
	return bin
}

// runLoad runs the load generator to its end and returns its output.
func runLoad(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*patience)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("load %v did not end within %v:\n%s", args, 2*patience, out)
	}
	if err != nil {
		t.Fatalf("load %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// waitForAcks waits until the acked log holds n acknowledged writes.
func waitForAcks(t *testing.T, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		got := 0
		if f, err := os.Open(path); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "ack ") {
					got++
				}
			}
			f.Close()
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %d acknowledged writes in %s; there are %d", patience, n, path, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// kill9 kills the process with SIGKILL and waits, bounded, until it is
// gone.
func (p *process) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill -9: %v", err)
	}
	p.wait(t, "the process to die of SIGKILL")
}
