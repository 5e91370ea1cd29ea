package harness_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/molt-go/molt/benchmarks/harness"
)

// erlangInstalled reports whether the Erlang peer can run here: erl and
// erlc on PATH (Debian's erlang-base). CI does not install them.
func erlangInstalled() bool {
	_, erl := exec.LookPath("erl")
	_, erlc := exec.LookPath("erlc")
	return erl == nil && erlc == nil
}

// needErlang skips t, saying why, unless the Erlang peer can run.
func needErlang(t *testing.T) {
	t.Helper()
	if !erlangInstalled() {
		t.Skip("erl or erlc not on PATH: the Erlang peer's end-to-end test needs erlang-base (apt-get install erlang-base)")
	}
}

const erlangHeader = "molt_peer 1 otp=25 schedulers=2\n"

// TestParseErlangOutput reads the peer's two kinds of output and rejects
// malformed ones with an error that names what is wrong.
func TestParseErlangOutput(t *testing.T) {
	for _, c := range []struct {
		name, out string
		check     func(t *testing.T, r *harness.ErlangReport)
		err       string // a part of the error; none if empty
	}{
		{
			name: "latency",
			out:  erlangHeader + "latency_ns 4100 3900 5000\nlatency_ns 12000\ndone ops=4\n",
			check: func(t *testing.T, r *harness.ErlangReport) {
				if r.OTP != "25" || r.Schedulers != 2 || !slices.Equal(r.Latencies, []int64{4100, 3900, 5000, 12000}) || len(r.Passes) != 0 {
					t.Errorf("got %+v", r)
				}
			},
		},
		{
			name: "fleet",
			out: erlangHeader + "spawn size=1000 ns=2000000\nready\n" +
				"pass size=1000 updated=1000 ns=4000000\npass size=1000 updated=1000 ns=6000000\ndone passes=2\n",
			check: func(t *testing.T, r *harness.ErlangReport) {
				if r.Spawned != 1000 || r.Spawn != 2*time.Millisecond || len(r.Passes) != 2 || r.Passes[1].Elapsed != 6*time.Millisecond {
					t.Errorf("got %+v", r)
				}
				// 2,000 updates in 10 ms.
				if got := r.UpdatesPerSecond(); got != 200_000 {
					t.Errorf("UpdatesPerSecond = %v, want 200000", got)
				}
			},
		},
		{name: "CRLF line ends", out: strings.ReplaceAll(erlangHeader+"latency_ns 1\ndone ops=1\n", "\n", "\r\n")},
		{name: "empty", out: "", err: "the peer printed nothing"},
		{name: "no header", out: "latency_ns 1\ndone ops=1\n", err: `line 1: want the header "molt_peer 1`},
		{name: "other version", out: "molt_peer 2 otp=25 schedulers=2\ndone ops=0\n", err: `format version "2"`},
		{name: "header without schedulers", out: "molt_peer 1 otp=25\ndone ops=0\n", err: "line 1 (header): no schedulers= field"},
		{name: "header with zero schedulers", out: "molt_peer 1 otp=25 schedulers=0\ndone ops=0\n", err: `schedulers="0" is not a positive number`},
		{name: "peer error", out: erlangHeader + "error error:{bad_size,0}\n", err: "the peer failed: error:{bad_size,0}"},
		{name: "peer error before the header", out: "error error:badarg\n", err: "the peer failed: error:badarg"},
		{name: "sample not a number", out: erlangHeader + "latency_ns 12 x3\ndone ops=2\n", err: `line 2: latency_ns: "x3" is not a positive number`},
		{name: "sample zero", out: erlangHeader + "latency_ns 0\ndone ops=1\n", err: `line 2: latency_ns: "0"`},
		{name: "unknown record", out: erlangHeader + "hello world\n", err: `line 2: unknown record "hello world"`},
		{name: "pass without ns", out: erlangHeader + "pass size=10 updated=10\ndone passes=1\n", err: "line 2 (pass): no ns= field"},
		{name: "pass with a bad count", out: erlangHeader + "pass size=10 updated=ten ns=5\ndone passes=1\n", err: `line 2 (pass): updated="ten"`},
		{name: "field not key=value", out: erlangHeader + "spawn size=10 ns\n", err: `line 2 (spawn): field "ns" is not key=value`},
		{name: "ready with fields", out: erlangHeader + "ready now\ndone passes=0\n", err: `line 2: "ready now", want ready alone`},
		{name: "done miscounts", out: erlangHeader + "latency_ns 5 6\ndone ops=3\n", err: "line 3: done says ops=3, the output holds 2"},
		{name: "done unknown", out: erlangHeader + "done items=1\n", err: "done: want ops=N or passes=N"},
		{name: "done bad count", out: erlangHeader + "done ops=many\n", err: `done: ops="many" is not a count`},
		{name: "after done", out: erlangHeader + "done ops=0\nlatency_ns 5\n", err: `line 3: "latency_ns 5" after the done line`},
		{name: "cut short", out: erlangHeader + "latency_ns 5 6\n", err: "without its done line: the peer was cut short"},
		{name: "line too long", out: erlangHeader + "latency_ns " + strings.Repeat("1234567 ", 200_000) + "\n", err: "line 2: bufio.Scanner: token too long"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := harness.ParseErlangOutput(strings.NewReader(c.out))
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.err != "" && err == nil:
				t.Fatalf("parsed %+v, want an error saying %q", r, c.err)
			case c.err != "" && !strings.Contains(err.Error(), c.err):
				t.Fatalf("error %q, want it to say %q", err, c.err)
			case c.err == "" && c.check != nil:
				c.check(t, r)
			}
		})
	}
}

// TestErlangSkippedWithoutErl runs the scenarios that have the Erlang peer
// with a PATH that holds no erl: they measure molt and the protoactor
// floor, leave a note that says why Erlang was skipped, and fail nothing.
func TestErlangSkippedWithoutErl(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if _, err := harness.NewErlangPeer(context.Background()); !errors.Is(err, harness.ErrNoErlang) || err.Error() != "erl not on PATH (apt-get install erlang-base)" {
		t.Fatalf("NewErlangPeer without erl: %v, want %q wrapping ErrNoErlang", err, "erl not on PATH (apt-get install erlang-base)")
	}
	const note = "erlang: skipped, erl not on PATH (apt-get install erlang-base)"

	cfg := tiny
	cfg.FleetSizes = []int{10}
	for _, name := range []string{"update-latency", "fleet-update"} {
		s, _ := harness.Lookup(name)
		progressed := 0
		cfg.Progress = func(string, string) { progressed++ }
		res, err := s.Measure(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s without erl: %v", name, err)
		}
		if !slices.Contains(res.Notes, note) {
			t.Errorf("%s: notes %q, want %q", name, res.Notes, note)
		}
		if progressed != s.CaseCount(cfg) {
			t.Errorf("%s: reported progress %d times, announced %d cases", name, progressed, s.CaseCount(cfg))
		}
		for _, c := range res.Cases {
			if strings.Contains(c.Name, "erlang") || hasFigure(c, "vs_erlang") {
				t.Errorf("%s/%s: an Erlang case or ratio without erl: %+v", name, c.Name, c)
			}
		}
	}
}

// hasFigure reports whether c has a figure whose name starts with prefix.
func hasFigure(c *harness.Case, prefix string) bool {
	for _, f := range c.Figures {
		if strings.HasPrefix(f.Name, prefix) {
			return true
		}
	}
	return false
}

// TestErlangPeer runs the real peer small: a few updates of one process,
// and a fleet of 100 processes; every figure must be positive.
func TestErlangPeer(t *testing.T) {
	needErlang(t)
	ctx := context.Background()
	p, err := harness.NewErlangPeer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	}()

	lat, err := p.Latency(ctx, harness.Config{Count: 20, Warmup: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(lat.Latencies) != 20 || lat.OTP == "" || lat.Schedulers != runtime.GOMAXPROCS(0) {
		t.Errorf("latency: %d samples, OTP %q, %d schedulers; want 20, a release, %d schedulers (GOMAXPROCS)",
			len(lat.Latencies), lat.OTP, lat.Schedulers, runtime.GOMAXPROCS(0))
	}
	for i, ns := range lat.Latencies {
		if ns <= 0 {
			t.Errorf("latency sample %d is %d ns, want positive", i, ns)
		}
	}

	fleet, err := p.Fleet(ctx, harness.Config{Count: 2, Warmup: time.Nanosecond}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(fleet.Passes) != 2 || fleet.Spawned != 100 || fleet.Spawn <= 0 || fleet.UpdatesPerSecond() <= 0 {
		t.Errorf("fleet: %+v, want 2 passes of 100 processes, a spawn time and a positive rate", fleet)
	}
	if _, err := p.Fleet(ctx, harness.Config{Count: 1}, 0); err == nil {
		t.Error("a fleet of 0 processes succeeded, want an error")
	}
}

// TestErlangPeerKilledOnTimeout checks that erl is killed when the
// context ends first, and that the error says so.
func TestErlangPeerKilledOnTimeout(t *testing.T) {
	needErlang(t)
	p, err := harness.NewErlangPeer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	// A minute's measurement, cut short.
	_, err = p.Latency(ctx, harness.Config{Duration: time.Minute, Warmup: time.Nanosecond})
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Fatalf("Latency under a 500 ms context: %v, want an error saying erl was killed", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Latency returned %v after the context ended, want within seconds", d)
	}
}

// TestErlangPeerBadOutput runs stand-ins for erl and erlc (shell scripts)
// that print what the real peer never does: the runner fails with an
// error that names it, with or without Erlang installed.
func TestErlangPeerBadOutput(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the stand-ins for erl and erlc are shell scripts")
	}
	for _, c := range []struct{ name, script, err string }{
		{"garbage", "echo hello", `erlang peer (latency): erlang output line 1: want the header "molt_peer 1 otp=… schedulers=…", got "hello"`},
		{"peer error", "echo 'molt_peer 1 otp=25 schedulers=2'; echo 'error error:boom'; exit 3", "erlang peer (latency): the peer failed: error:boom (erl: exit status 3)"},
		{"cut short", "echo 'molt_peer 1 otp=25 schedulers=2'; echo 'latency_ns 5'; echo crashed >&2; exit 1", `the peer was cut short (erl: exit status 1); stderr: "crashed"`},
		{"exit status after done", "echo 'molt_peer 1 otp=25 schedulers=2'; echo 'latency_ns 5'; echo 'done ops=1'; exit 2", "erlang peer (latency): erl: exit status 2"},
		{"no samples", "echo 'molt_peer 1 otp=25 schedulers=2'; echo 'done ops=0'", "erlang peer (latency): no latency samples in its output"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bin := t.TempDir()
			for name, body := range map[string]string{"erl": c.script, "erlc": "exit 0"} {
				if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			p, err := harness.NewErlangPeer(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			_, err = p.Latency(context.Background(), harness.Config{Count: 1, Warmup: time.Nanosecond})
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("Latency: %v, want an error saying %q", err, c.err)
			}
		})
	}
}

// TestErlangFleetBadOutput drives stand-ins for erl (shell scripts) through
// the fleet's protocol: whatever goes wrong, from the start to the close,
// Fleet fails with an error that names it, and a stand-in that hangs is
// killed when the context ends.
func TestErlangFleetBadOutput(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the stand-ins for erl and erlc are shell scripts")
	}
	const head = "echo 'molt_peer 1 otp=25 schedulers=2'; echo 'spawn size=10 ns=1000'; "
	for _, c := range []struct{ name, script, err string }{
		{"never ready", head + "exit 1", "erlang peer (fleet): erl's output ended while waiting for the fleet spawned and warmed up (a ready line)"},
		{"error at start", head + "echo 'error error:{bad_size,0}'; exit 3", "erlang peer (fleet): the peer failed: error:{bad_size,0}"},
		{"garbage pass", head + "echo ready; read cmd; echo nonsense; read cmd", `erlang peer (fleet): want a pass line, got "nonsense"`},
		{"short pass", head + "echo ready; read cmd; echo 'pass size=10 updated=3 ns=5'; read cmd", "a pass updated 3 of 10 processes, want all 10"},
		{"bad pass", head + "echo ready; read cmd; echo 'pass size=10 updated=10'; read cmd", `"pass size=10 updated=10": no ns= field`},
		{"miscount at close", head + "echo ready; read cmd; echo 'pass size=10 updated=10 ns=5'; read cmd; echo 'done passes=2'", "done says passes=2, the output holds 1"},
		{"hangs", head + "read cmd", "waiting for the fleet spawned and warmed up (a ready line): context deadline exceeded, killed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			bin := t.TempDir()
			for name, body := range map[string]string{"erl": c.script, "erlc": "exit 0"} {
				if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			p, err := harness.NewErlangPeer(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			start := time.Now()
			_, err = p.Fleet(ctx, harness.Config{Count: 1, Warmup: time.Nanosecond}, 10)
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("Fleet: %v, want an error saying %q", err, c.err)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("Fleet returned after %v: the stand-in was not killed", d)
			}
		})
	}
}
