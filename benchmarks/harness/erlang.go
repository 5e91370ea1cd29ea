package harness

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/molt-go/molt/benchmarks/erlang"
)

// ErrNoErlang is wrapped by NewErlangPeer's error when erl or erlc is not
// on PATH: the runner then skips the Erlang peer with a note, and fails
// nothing.
var ErrNoErlang = errors.New("not on PATH (apt-get install erlang-base)")

// The Erlang peer's modes, the first argument of molt_peer:main.
const (
	erlangLatency = "latency"
	erlangFleet   = "fleet"
)

// ErlangPeer runs molt's Erlang/OTP peer, benchmarks/erlang/molt_peer.erl:
// a gen_server updated with sys:suspend, sys:change_code and sys:resume,
// measured by an erl process of its own beside molt, in the same run.
// NewErlangPeer compiles the module once; each measurement starts a fresh
// erl. Close removes the compiled module.
type ErlangPeer struct {
	erl string
	dir string // the source and the compiled module
}

// NewErlangPeer finds erl and erlc on PATH and compiles the peer's module
// into a temporary directory. It returns an error wrapping ErrNoErlang if
// either program is missing, and a clear error if the module does not
// compile.
func NewErlangPeer(ctx context.Context) (*ErlangPeer, error) {
	erl, err := exec.LookPath("erl")
	if err != nil {
		return nil, fmt.Errorf("erl %w", ErrNoErlang)
	}
	erlc, err := exec.LookPath("erlc")
	if err != nil {
		return nil, fmt.Errorf("erlc %w", ErrNoErlang)
	}
	dir, err := os.MkdirTemp("", "molt-erlang-")
	if err != nil {
		return nil, fmt.Errorf("erlang peer: %w", err)
	}
	p := &ErlangPeer{erl: erl, dir: dir}
	src := filepath.Join(dir, erlang.Module+".erl")
	if err := os.WriteFile(src, erlang.Source, 0o644); err != nil {
		return nil, errors.Join(fmt.Errorf("erlang peer: %w", err), p.Close())
	}
	// A compile takes about a second; a minute means erlc is stuck.
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, erlc, "-o", dir, src)
	cmd.Dir = dir
	killGroup(cmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if cctx.Err() != nil {
			err = fmt.Errorf("no result within a minute (%w)", cctx.Err())
		}
		return nil, errors.Join(fmt.Errorf("erlang peer: erlc %s: %w: %s", src, err, bytes.TrimSpace(out)), p.Close())
	}
	return p, nil
}

// Close removes the compiled module.
func (p *ErlangPeer) Close() error { return os.RemoveAll(p.dir) }

// Latency measures one gen_server updated back and forth, up and down, as
// the update-latency scenario measures a molt actor: it warms up for cfg's
// warm-up, then measures for cfg's duration, or exactly cfg.Count updates.
// The report's Latencies are the round trips of sys:suspend,
// sys:change_code and sys:resume, one sample per update.
func (p *ErlangPeer) Latency(ctx context.Context, cfg Config) (*ErlangReport, error) {
	timeout := time.Minute + cfg.warmup() + 2*cfg.duration() + time.Duration(cfg.Count)*time.Millisecond
	rep, err := p.run(ctx, timeout, 0, erlangLatency, cfg.erlangBudget())
	if err != nil {
		return nil, err
	}
	if len(rep.Latencies) == 0 {
		return nil, errors.New("erlang peer (latency): no latency samples in its output")
	}
	return rep, nil
}

// ErlangFleetMinPasses is how many passes the Erlang peer's fleet measures
// at least (unless Config.Count sets them). Every process gets the same
// messages, so their heaps fill at the same pace and all of them
// garbage-collect in the same pass, every second to fourth pass (20,000
// GCs in such a pass of 20,000 processes, about 350 in the others), which
// makes that pass two to four times as long as the others; six passes,
// three there and back, average over that cycle where two would land on
// it or miss it.
const ErlangFleetMinPasses = 6

// Fleet spawns size gen_servers and updates them from one coordinator,
// one process after the other, in passes of the whole fleet, up and down:
// at least two unmeasured passes and cfg's warm-up, then passes for cfg's
// duration and at least ErlangFleetMinPasses, or exactly cfg.Count passes.
func (p *ErlangPeer) Fleet(ctx context.Context, cfg Config, size int) (*ErlangReport, error) {
	if size < 1 {
		return nil, fmt.Errorf("erlang peer: a fleet needs at least one process, got %d", size)
	}
	passes := max(cfg.Count, ErlangFleetMinPasses) + 2
	// A generous bound: 50 µs per process per pass (a quiet machine takes
	// about 5) and the spawn.
	timeout := 2*time.Minute + cfg.warmup() + 2*cfg.duration() + time.Duration(size*(passes+1))*50*time.Microsecond
	args := append(cfg.erlangBudget(), "size="+strconv.Itoa(size), "min_passes="+strconv.Itoa(ErlangFleetMinPasses))
	rep, err := p.run(ctx, timeout, size, erlangFleet, args)
	if err != nil {
		return nil, err
	}
	if len(rep.Passes) == 0 {
		return nil, errors.New("erlang peer (fleet): no pass in its output")
	}
	for i, ps := range rep.Passes {
		if ps.Size != size || ps.Updated != size {
			return nil, fmt.Errorf("erlang peer (fleet): pass %d updated %d of %d processes, want all %d", i+1, ps.Updated, ps.Size, size)
		}
	}
	return rep, nil
}

// erlangBudget returns the peer's arguments for cfg's warm-up, duration
// and count.
func (c Config) erlangBudget() []string {
	return []string{
		"warmup_ns=" + strconv.FormatInt(int64(c.warmup()), 10),
		"duration_ns=" + strconv.FormatInt(int64(c.duration()), 10),
		"count=" + strconv.Itoa(max(c.Count, 0)),
	}
}

// run starts erl on the peer's main in mode with args and parses what it
// prints, within timeout; on timeout or cancellation erl (and anything it
// started) is killed. processes, if above erl's default limit, raises it.
func (p *ErlangPeer) run(ctx context.Context, timeout time.Duration, processes int, mode string, args []string) (*ErlangReport, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// As many schedulers as molt has Ps, so that both sides get the same
	// cores.
	procs := runtime.GOMAXPROCS(0)
	argv := []string{"-noshell", "-pa", p.dir, "+S", fmt.Sprintf("%d:%d", procs, procs)}
	if processes > 200_000 {
		// erl's default limit is 262,144 processes.
		argv = append(argv, "+P", strconv.Itoa(2*processes))
	}
	argv = append(argv, "-run", erlang.Module, "main", mode)
	argv = append(argv, args...)
	argv = append(argv, "-s", "init", "stop")
	cmd := exec.CommandContext(ctx, p.erl, argv...)
	// A crash dump, should the emulator write one, lands in the temporary
	// directory, not in the caller's.
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "ERL_CRASH_DUMP="+filepath.Join(p.dir, "erl_crash.dump"))
	killGroup(cmd)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &tailWriter{buf: &stderr, max: 4096}
	runErr := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("erlang peer (%s): no result within %v, killed (%w); stderr: %s", mode, timeout, ctx.Err(), quoteTail(stderr.Bytes()))
	}
	rep, err := ParseErlangOutput(&stdout)
	if err != nil {
		if runErr != nil {
			err = fmt.Errorf("%w (erl: %v)", err, runErr)
		}
		return nil, fmt.Errorf("erlang peer (%s): %w; stderr: %s", mode, err, quoteTail(stderr.Bytes()))
	}
	if runErr != nil {
		return nil, fmt.Errorf("erlang peer (%s): erl: %w; stderr: %s", mode, runErr, quoteTail(stderr.Bytes()))
	}
	return rep, nil
}

// tailWriter keeps about the last max bytes written to it.
type tailWriter struct {
	buf *bytes.Buffer
	max int
}

func (w *tailWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	if extra := w.buf.Len() - w.max; extra > 0 {
		w.buf.Next(extra)
	}
	return len(b), nil
}

func quoteTail(b []byte) string {
	if len(bytes.TrimSpace(b)) == 0 {
		return "(none)"
	}
	return strconv.Quote(string(bytes.TrimSpace(b)))
}

// ErlangReport is what one run of the Erlang peer printed.
type ErlangReport struct {
	// OTP is the OTP release, such as "25"; Schedulers the emulator's
	// schedulers online.
	OTP        string
	Schedulers int
	// Latencies are the round trips of the latency mode, in nanoseconds,
	// one per update, in order.
	Latencies []int64
	// Spawned and Spawn are the fleet mode's processes and the time it
	// took to spawn them.
	Spawned int
	Spawn   time.Duration
	// Passes are the fleet mode's measured passes, in order.
	Passes []ErlangPass
}

// ErlangPass is one measured pass of the fleet mode: every process
// updated once, one after the other.
type ErlangPass struct {
	Size, Updated int
	Elapsed       time.Duration
}

// UpdatesPerSecond returns the processes updated per second over all the
// passes' time, as the fleet-update scenario counts molt's.
func (r *ErlangReport) UpdatesPerSecond() float64 {
	var updated int
	var elapsed time.Duration
	for _, p := range r.Passes {
		updated += p.Updated
		elapsed += p.Elapsed
	}
	if elapsed <= 0 {
		return 0
	}
	return float64(updated) / elapsed.Seconds()
}

// ParseErlangOutput reads the Erlang peer's output (its format is in
// molt_peer.erl's header): a header line, records, and a done line that
// counts them. It returns an error naming the line and what is wrong with
// it for anything else: no output, a missing or unknown header, an
// unknown record, a field missing or not a number, a count in done that
// does not match, anything after done, or no done at all (the peer was
// cut short). An error line from the peer is returned as the error.
func ParseErlangOutput(r io.Reader) (*ErlangReport, error) {
	sc := bufio.NewScanner(r)
	// A latency line holds up to 1,000 samples of up to 20 digits.
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	rep := &ErlangReport{}
	line, done := 0, false
	for sc.Scan() {
		line++
		text := strings.TrimRight(sc.Text(), "\r")
		if done {
			return nil, fmt.Errorf("erlang output line %d: %q after the done line", line, clip(text))
		}
		word, rest, _ := strings.Cut(text, " ")
		if word == "error" {
			return nil, fmt.Errorf("the peer failed: %s", rest)
		}
		if line == 1 {
			if word != "molt_peer" {
				return nil, fmt.Errorf("erlang output line 1: want the header \"molt_peer 1 otp=… schedulers=…\", got %q", clip(text))
			}
			version, fields, _ := strings.Cut(rest, " ")
			if version != "1" {
				return nil, fmt.Errorf("erlang output line 1: format version %q, this runner reads version 1", version)
			}
			kv, err := keyValues(fields, "otp", "schedulers")
			if err != nil {
				return nil, fmt.Errorf("erlang output line 1 (header): %w", err)
			}
			rep.OTP = kv["otp"]
			if rep.Schedulers, err = positive(kv, "schedulers"); err != nil {
				return nil, fmt.Errorf("erlang output line 1 (header): %w", err)
			}
			continue
		}
		switch word {
		case "latency_ns":
			for _, f := range strings.Fields(rest) {
				ns, err := strconv.ParseInt(f, 10, 64)
				if err != nil || ns <= 0 {
					return nil, fmt.Errorf("erlang output line %d: latency_ns: %q is not a positive number of nanoseconds", line, clip(f))
				}
				rep.Latencies = append(rep.Latencies, ns)
			}
		case "spawn":
			kv, err := keyValues(rest, "size", "ns")
			if err != nil {
				return nil, fmt.Errorf("erlang output line %d (spawn): %w", line, err)
			}
			ns, err2 := positive(kv, "ns")
			if rep.Spawned, err = positive(kv, "size"); err != nil || err2 != nil {
				return nil, fmt.Errorf("erlang output line %d (spawn): %w", line, errors.Join(err, err2))
			}
			rep.Spawn = time.Duration(ns)
		case "pass":
			kv, err := keyValues(rest, "size", "updated", "ns")
			if err != nil {
				return nil, fmt.Errorf("erlang output line %d (pass): %w", line, err)
			}
			var p ErlangPass
			var errs [3]error
			var ns int
			p.Size, errs[0] = positive(kv, "size")
			p.Updated, errs[1] = positive(kv, "updated")
			ns, errs[2] = positive(kv, "ns")
			if err := errors.Join(errs[:]...); err != nil {
				return nil, fmt.Errorf("erlang output line %d (pass): %w", line, err)
			}
			p.Elapsed = time.Duration(ns)
			rep.Passes = append(rep.Passes, p)
		case "done":
			key, value, _ := strings.Cut(rest, "=")
			n, err := strconv.Atoi(value)
			var have int
			switch key {
			case "ops":
				have = len(rep.Latencies)
			case "passes":
				have = len(rep.Passes)
			default:
				return nil, fmt.Errorf("erlang output line %d: done: want ops=N or passes=N, got %q", line, clip(rest))
			}
			if err != nil || n < 0 {
				return nil, fmt.Errorf("erlang output line %d: done: %s=%q is not a count", line, key, clip(value))
			}
			if n != have {
				return nil, fmt.Errorf("erlang output line %d: done says %s=%d, the output holds %d", line, key, n, have)
			}
			done = true
		default:
			return nil, fmt.Errorf("erlang output line %d: unknown record %q", line, clip(text))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("erlang output line %d: %w", line+1, err)
	}
	switch {
	case line == 0:
		return nil, errors.New("erlang output is empty: the peer printed nothing")
	case !done:
		return nil, fmt.Errorf("erlang output ends after %d lines without its done line: the peer was cut short", line)
	}
	return rep, nil
}

// keyValues reads space-separated key=value fields and checks that each
// of want is there.
func keyValues(s string, want ...string) (map[string]string, error) {
	kv := map[string]string{}
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("field %q is not key=value", clip(f))
		}
		kv[k] = v
	}
	for _, k := range want {
		if _, ok := kv[k]; !ok {
			return nil, fmt.Errorf("no %s= field in %q", k, clip(s))
		}
	}
	return kv, nil
}

// positive returns kv[key] as a positive int.
func positive(kv map[string]string, key string) (int, error) {
	n, err := strconv.Atoi(kv[key])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q is not a positive number", key, clip(kv[key]))
	}
	return n, nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// waitDelay bounds how long a killed erl's output pipes are waited for,
// should a child it started hold them open.
const waitDelay = 5 * time.Second
