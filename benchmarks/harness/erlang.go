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
	rep, err := p.run(ctx, timeout, erlangLatency, cfg.erlangBudget())
	if err != nil {
		return nil, err
	}
	if len(rep.Latencies) == 0 {
		return nil, errors.New("erlang peer (latency): no latency samples in its output")
	}
	return rep, nil
}

// ErlangFleetMinPasses is how many passes of the Erlang peer's fleet are
// measured at least (unless Config.Count sets them), here and in the
// fleet-update scenario. Every process gets the same messages, so their
// heaps fill at the same pace and all of them garbage-collect in the same
// pass, every second to fourth pass (20,000 GCs in such a pass of 20,000
// processes, about 350 in the others), which makes that pass two to four
// times as long as the others; six passes, three there and back, average
// over that cycle where two would land on it or miss it.
const ErlangFleetMinPasses = 6

// Fleet measures a fleet of size processes on its own: StartFleet, then
// passes for cfg's duration and at least ErlangFleetMinPasses, or exactly
// cfg.Count passes, then Close. The report holds the spawn and every
// measured pass.
func (p *ErlangPeer) Fleet(ctx context.Context, cfg Config, size int) (*ErlangReport, error) {
	f, err := p.StartFleet(ctx, cfg, size)
	if err != nil {
		return nil, err
	}
	_, _, err = cfg.measure(ctx, ErlangFleetMinPasses, func() error { _, err := f.Pass(); return err })
	rep, cerr := f.Close()
	if err != nil {
		return nil, err
	}
	return rep, cerr
}

// ErlangFleet is a fleet of the Erlang peer's gen_servers in an erl of its
// own, spawned and warmed up by StartFleet, then updated one measured pass
// at a time by Pass, so that the fleet-update scenario can alternate its
// passes with molt's packages. Close ends it. It is not safe for
// concurrent use.
type ErlangFleet struct {
	size     int
	cmd      *exec.Cmd
	kill     context.CancelFunc
	stdin    io.WriteCloser
	lines    chan string   // erl's output, line by line; closed at its end
	out      bytes.Buffer  // the lines read so far, for the final parse
	stderr   bytes.Buffer  // the end of erl's stderr, to read after Wait
	passWait time.Duration // how long a pass may take
	ctx      context.Context
	err      error // set once the fleet failed and erl was killed
}

// StartFleet starts erl with size gen_servers, and returns once they are
// spawned and warmed up: at least two passes, there and back, and cfg's
// warm-up. A fleet that is not up within a bound that grows with its size
// (a quiet machine takes about 15 µs per process for the spawn and the two
// passes; the bound allows 200) is killed, and so is erl whenever ctx ends.
func (p *ErlangPeer) StartFleet(ctx context.Context, cfg Config, size int) (*ErlangFleet, error) {
	if size < 1 {
		return nil, fmt.Errorf("erlang peer: a fleet needs at least one process, got %d", size)
	}
	kctx, kill := context.WithCancel(ctx)
	cmd := p.command(kctx, size, erlangFleet, append(cfg.erlangBudget(), "size="+strconv.Itoa(size)))
	f := &ErlangFleet{
		size:     size,
		cmd:      cmd,
		kill:     kill,
		lines:    make(chan string, 16),
		passWait: time.Minute + time.Duration(size)*100*time.Microsecond,
		ctx:      kctx,
	}
	cmd.Stderr = &tailWriter{buf: &f.stderr, max: 4096}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		kill()
		return nil, fmt.Errorf("erlang peer (fleet): %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		kill()
		return nil, fmt.Errorf("erlang peer (fleet): %w", err)
	}
	f.stdin = stdin
	if err := cmd.Start(); err != nil {
		kill()
		return nil, fmt.Errorf("erlang peer (fleet): starting erl: %w", err)
	}
	go func() {
		defer close(f.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f.lines <- sc.Text()
		}
	}()
	startWait := 2*time.Minute + cfg.warmup() + time.Duration(size)*200*time.Microsecond
	for {
		line, err := f.next(startWait, "the fleet spawned and warmed up (a ready line)")
		if err != nil {
			return nil, f.fail(err)
		}
		if line == "ready" {
			return f, nil
		}
		if word, rest, _ := strings.Cut(line, " "); word == "error" {
			return nil, f.fail(fmt.Errorf("the peer failed: %s", rest))
		}
	}
}

// next returns erl's next line of output, and keeps it for the final
// parse. It fails if none comes within wait (what says what was awaited),
// if erl's output ends, or if the fleet's context ends.
func (f *ErlangFleet) next(wait time.Duration, what string) (string, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case line, ok := <-f.lines:
		if !ok {
			return "", fmt.Errorf("erl's output ended while waiting for %s", what)
		}
		f.out.WriteString(line)
		f.out.WriteByte('\n')
		return strings.TrimRight(line, "\r"), nil
	case <-timer.C:
		return "", fmt.Errorf("no %s within %v, killed", what, wait)
	case <-f.ctx.Done():
		return "", fmt.Errorf("waiting for %s: %w, killed", what, f.ctx.Err())
	}
}

// Pass updates every process of the fleet once, in the direction after
// the last pass's, and returns the pass as erl timed it.
func (f *ErlangFleet) Pass() (ErlangPass, error) {
	if f.err != nil {
		return ErlangPass{}, f.err
	}
	if _, err := io.WriteString(f.stdin, "pass\n"); err != nil {
		return ErlangPass{}, f.fail(fmt.Errorf("asking for a pass: %w", err))
	}
	line, err := f.next(f.passWait, "a pass line")
	if err != nil {
		return ErlangPass{}, f.fail(err)
	}
	word, rest, _ := strings.Cut(line, " ")
	switch word {
	case "pass":
		p, err := parsePass(rest)
		if err != nil {
			return ErlangPass{}, f.fail(fmt.Errorf("%q: %w", clip(line), err))
		}
		if p.Size != f.size || p.Updated != f.size {
			return ErlangPass{}, f.fail(fmt.Errorf("a pass updated %d of %d processes, want all %d", p.Updated, p.Size, f.size))
		}
		return p, nil
	case "error":
		return ErlangPass{}, f.fail(fmt.Errorf("the peer failed: %s", rest))
	}
	return ErlangPass{}, f.fail(fmt.Errorf("want a pass line, got %q", clip(line)))
}

// fail kills erl, waits for it, and returns err, with the end of erl's
// stderr; every later call returns it too.
func (f *ErlangFleet) fail(err error) error {
	f.kill()
	f.drain(waitDelay)
	_ = f.cmd.Wait()
	f.err = fmt.Errorf("erlang peer (fleet): %w; stderr: %s", err, quoteTail(f.stderr.Bytes()))
	return f.err
}

// drain reads erl's output to its end, within wait, keeping it for the
// final parse. The reading goroutine has then ended, which cmd.Wait
// requires before it closes the pipe.
func (f *ErlangFleet) drain(wait time.Duration) bool {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-f.lines:
			if !ok {
				return true
			}
			f.out.WriteString(line)
			f.out.WriteByte('\n')
		case <-timer.C:
			return false
		}
	}
}

// Close tells erl to stop, waits for it to check every process's state
// and end, and returns the report of its whole output: the spawn and
// every pass. It returns the fleet's error if it failed before.
func (f *ErlangFleet) Close() (*ErlangReport, error) {
	if f.err != nil {
		return nil, f.err
	}
	_, werr := io.WriteString(f.stdin, "stop\n")
	cerr := f.stdin.Close()
	// Checking the processes' states takes a few µs each.
	if !f.drain(time.Minute + time.Duration(f.size)*50*time.Microsecond) {
		return nil, f.fail(errors.New("erl did not end after stop"))
	}
	runErr := f.cmd.Wait()
	f.kill()
	rep, err := ParseErlangOutput(&f.out)
	switch {
	case err != nil && runErr != nil:
		err = fmt.Errorf("%w (erl: %v)", err, runErr)
	case err == nil && runErr != nil:
		err = fmt.Errorf("erl: %w", runErr)
	case err == nil && errors.Join(werr, cerr) != nil:
		err = fmt.Errorf("telling erl to stop: %w", errors.Join(werr, cerr))
	}
	if err != nil {
		f.err = fmt.Errorf("erlang peer (fleet): %w; stderr: %s", err, quoteTail(f.stderr.Bytes()))
		return nil, f.err
	}
	f.err = errors.New("erlang peer (fleet): closed")
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

// command returns the erl command that runs the peer's main in mode with
// args, killed with anything it started when ctx ends. processes, if above
// erl's default limit, raises it.
func (p *ErlangPeer) command(ctx context.Context, processes int, mode string, args []string) *exec.Cmd {
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
	return cmd
}

// run runs the peer's main in mode with args and parses what it prints,
// within timeout; on timeout or cancellation erl (and anything it
// started) is killed.
func (p *ErlangPeer) run(ctx context.Context, timeout time.Duration, mode string, args []string) (*ErlangReport, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := p.command(ctx, 0, mode, args)
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
		case "ready":
			if rest != "" {
				return nil, fmt.Errorf("erlang output line %d: %q, want ready alone", line, clip(text))
			}
		case "pass":
			p, err := parsePass(rest)
			if err != nil {
				return nil, fmt.Errorf("erlang output line %d (pass): %w", line, err)
			}
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

// parsePass reads the fields of a pass line.
func parsePass(fields string) (ErlangPass, error) {
	kv, err := keyValues(fields, "size", "updated", "ns")
	if err != nil {
		return ErlangPass{}, err
	}
	var p ErlangPass
	var errs [3]error
	var ns int
	p.Size, errs[0] = positive(kv, "size")
	p.Updated, errs[1] = positive(kv, "updated")
	ns, errs[2] = positive(kv, "ns")
	p.Elapsed = time.Duration(ns)
	return p, errors.Join(errs[:]...)
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
