// Command load puts a kvstore under load for a bounded time, then checks
// that every acknowledged write is readable.
//
// Each worker owns its own keys (key i belongs to worker i mod
// concurrency) and sends one request at a time, so the last value a worker
// saw acknowledged for a key is the value the store must hold: no other
// client writes it. A read of an own key must return that value too. At
// the end every key written is read back.
//
// It reports requests per second, latency percentiles, failed requests
// (transport errors, timeouts, any status but 200, and 404 for a key never
// written), the shard versions that answered, and mismatches; it exits 1 if
// any request failed or any acknowledged write is not readable.
//
//	go run ./examples/kvstore/load -target http://127.0.0.1:8080 -duration 10s
//
// It is resilient the way a real client is, so that a service that hands
// its port over to a new process (a takeover) is seen to fail no request:
// a PUT carries an Idempotency-Key header, which makes Go's http.Transport
// send it again on a kept-alive connection the server closed before
// answering (as it does a GET); and a request whose connection was refused
// or reset before any answer is sent again, at most -retries times, and
// counted. The keys of a run start with a prefix of their own, so that a
// run is not misled by what an earlier one left in a persistent store.
//
// With -acked-log FILE it appends, for each PUT, a line "put KEY VALUE"
// before sending it and "ack KEY VALUE" once it was acknowledged: what a
// store that is killed (kill -9) and restarted must still hold.
//
//	go run ./examples/kvstore/load -verify FILE -target URL
//
// reads such a log back and checks that every key holds its last
// acknowledged value (or a later one whose answer never came).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	// An interrupt ends the load early; the check at the end still runs.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.Verify != "" {
		ok, err := verify(cfg, os.Stdout)
		if err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(1)
		}
		if !ok {
			os.Exit(1)
		}
		return
	}
	rep, err := run(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	if !rep.OK() {
		os.Exit(1)
	}
}

// Config is what the flags set.
type Config struct {
	Target      string
	Duration    time.Duration
	Concurrency int
	Keys        int
	WriteRatio  float64
	// Prefix starts every key, so that runs against one store can be told
	// apart (GET /kv?prefix=). Empty: "load/" and a part of the run's own.
	Prefix string
	// Timeout bounds each request.
	Timeout time.Duration
	// Retries is how many times a request whose connection was refused or
	// reset before an answer is sent again.
	Retries int
	// AckedLog, if set, is a file the PUTs and their acknowledgements are
	// appended to.
	AckedLog string
	// Verify, if set, is such a file to check against the store, instead
	// of sending load.
	Verify string
}

func parseFlags(args []string, errOut io.Writer) (Config, error) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var c Config
	fs.StringVar(&c.Target, "target", "http://127.0.0.1:8080", "base URL of the kvstore")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "how long to send load")
	fs.IntVar(&c.Concurrency, "concurrency", 32, "concurrent clients, each one request at a time")
	fs.IntVar(&c.Keys, "keys", 10000, "distinct keys")
	fs.Float64Var(&c.WriteRatio, "write-ratio", 0.5, "share of requests that are writes, 0 to 1")
	fs.StringVar(&c.Prefix, "prefix", "", `prefix of every key (default "load/" and a part of the run's own)`)
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "bound on each request")
	fs.IntVar(&c.Retries, "retries", 3, "times a request whose connection was refused or reset before an answer is sent again")
	fs.StringVar(&c.AckedLog, "acked-log", "", "append each PUT and its acknowledgement to this file")
	fs.StringVar(&c.Verify, "verify", "", "check the store against this -acked-log file instead of sending load")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected arguments: %v", fs.Args())
		fmt.Fprintln(errOut, err)
		return c, err
	}
	if err := c.validate(); err != nil {
		fmt.Fprintln(errOut, err)
		return c, err
	}
	return c, nil
}

func (c Config) validate() error {
	switch {
	case c.Duration <= 0 || c.Duration > time.Hour:
		return fmt.Errorf("-duration %v: want more than 0, at most 1h", c.Duration)
	case c.Concurrency < 1 || c.Concurrency > 10000:
		return fmt.Errorf("-concurrency %d: want 1 to 10000", c.Concurrency)
	case c.Keys < c.Concurrency:
		return fmt.Errorf("-keys %d: want at least -concurrency (%d), as each client owns its keys", c.Keys, c.Concurrency)
	case c.WriteRatio < 0 || c.WriteRatio > 1:
		return fmt.Errorf("-write-ratio %v: want 0 to 1", c.WriteRatio)
	case c.Timeout <= 0:
		return fmt.Errorf("-timeout %v: want a positive duration", c.Timeout)
	case c.Retries < 0 || c.Retries > 100:
		return fmt.Errorf("-retries %d: want 0 to 100", c.Retries)
	case !strings.HasPrefix(c.Target, "http://") && !strings.HasPrefix(c.Target, "https://"):
		return fmt.Errorf("-target %q: want an http:// or https:// URL", c.Target)
	}
	return nil
}

// Report is what a run measured.
type Report struct {
	Requests, Reads, Writes int64
	Failed                  int64
	// Retried counts the requests sent again after their connection was
	// refused or reset before an answer (each counted once in Requests).
	Retried int64
	Elapsed time.Duration
	// Latency in microseconds, of every request of the load phase.
	Latency *hdrhistogram.Histogram
	// Versions counts the answers by the X-Shard-Version that served them.
	Versions map[string]int64
	// StaleReads are reads of an own key that did not return its last
	// acknowledged value.
	StaleReads int64
	// Checked is the keys read back at the end; Mismatches those that did
	// not hold their last acknowledged value.
	Checked, Mismatches int
	Errors              []string // the first few failures and mismatches
}

// OK says whether every request succeeded and every acknowledged write was
// readable.
func (r *Report) OK() bool {
	return r.Failed == 0 && r.StaleReads == 0 && r.Mismatches == 0
}

// maxErrors is how many failures a report quotes; the rest are counted.
const maxErrors = 10

// worker is one client's own keys and what it knows of them.
type worker struct {
	id      int
	keys    []string
	acked   map[string]string   // key → last acknowledged value
	maybe   map[string][]string // key → writes since the last acknowledged one whose answer never came: applied or not, nobody knows
	seq     int
	hist    *hdrhistogram.Histogram
	log     *ackedLog
	retries int
	reads   int64
	writes  int64
	failed  int64
	retried int64
	stale   int64
	vers    map[string]int64
	errs    []string
}

func (w *worker) fail(format string, args ...any) {
	w.failed++
	w.note(format, args...)
}

func (w *worker) note(format string, args ...any) {
	if len(w.errs) < maxErrors {
		w.errs = append(w.errs, fmt.Sprintf(format, args...))
	}
}

// run sends load until cfg.Duration has passed or ctx ends, then reads back
// every key written, and prints the report to out.
func run(ctx context.Context, cfg Config, out io.Writer) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	transport := &http.Transport{
		MaxIdleConns:        cfg.Concurrency,
		MaxIdleConnsPerHost: cfg.Concurrency, // one kept-alive connection per client, no churn of ports
		IdleConnTimeout:     30 * time.Second,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: cfg.Timeout}
	if cfg.Prefix == "" {
		cfg.Prefix = "load/" + strconv.FormatInt(time.Now().UnixNano(), 36) + "/"
	}
	var log *ackedLog
	if cfg.AckedLog != "" {
		f, err := os.OpenFile(cfg.AckedLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("-acked-log: %w", err)
		}
		defer f.Close()
		log = &ackedLog{f: f}
	}

	workers := make([]*worker, cfg.Concurrency)
	for i := range workers {
		w := &worker{id: i, acked: map[string]string{}, maybe: map[string][]string{}, vers: map[string]int64{},
			hist: hdrhistogram.New(1, int64(cfg.Timeout/time.Microsecond)+1, 3), log: log, retries: cfg.Retries}
		for k := i; k < cfg.Keys; k += cfg.Concurrency {
			w.keys = append(w.keys, fmt.Sprintf("%sk%06d", cfg.Prefix, k))
		}
		workers[i] = w
	}

	fmt.Fprintf(out, "load: %d clients, %d keys (prefix %s), %.0f%% writes, for %v against %s\n",
		cfg.Concurrency, cfg.Keys, cfg.Prefix, cfg.WriteRatio*100, cfg.Duration, cfg.Target)
	loadCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.load(loadCtx, client, cfg)
		}()
	}
	wg.Wait()
	rep := &Report{Elapsed: time.Since(start), Versions: map[string]int64{},
		Latency: hdrhistogram.New(1, int64(cfg.Timeout/time.Microsecond)+1, 3)}
	for _, w := range workers {
		rep.Reads += w.reads
		rep.Writes += w.writes
		rep.Failed += w.failed
		rep.Retried += w.retried
		rep.StaleReads += w.stale
		rep.Latency.Merge(w.hist)
		for v, n := range w.vers {
			rep.Versions[v] += n
		}
		for _, e := range w.errs {
			if len(rep.Errors) < maxErrors {
				rep.Errors = append(rep.Errors, e)
			}
		}
	}
	rep.Requests = rep.Reads + rep.Writes

	// The check runs even if ctx ended: what was acknowledged must be
	// there, however the load stopped. Its requests have their own bound.
	check(client, cfg, workers, rep)
	rep.print(out)
	return rep, nil
}

// load sends requests until ctx ends.
func (w *worker) load(ctx context.Context, client *http.Client, cfg Config) {
	rng := rand.New(rand.NewPCG(uint64(w.id), uint64(time.Now().UnixNano())))
	for ctx.Err() == nil {
		key := w.keys[rng.IntN(len(w.keys))]
		if rng.Float64() < cfg.WriteRatio {
			w.put(ctx, client, cfg.Target, key)
		} else {
			w.get(ctx, client, cfg.Target, key)
		}
	}
}

func (w *worker) put(ctx context.Context, client *http.Client, target, key string) {
	w.seq++
	value := fmt.Sprintf("c%d-%d", w.id, w.seq)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, target+"/kv/"+key, strings.NewReader(value))
	// PUT is idempotent in this API (the same value again changes
	// nothing); the header tells http.Transport so, which then sends it
	// again on a kept-alive connection that the server closed before
	// answering, as it does a GET.
	req.Header.Set("Idempotency-Key", value)
	w.log.write("put", key, value)
	start := time.Now()
	resp, err := w.do(client, req)
	if ctx.Err() != nil && err != nil {
		// The load phase ended during the request: it is not a failure of
		// the store, but the write may or may not have been applied.
		w.maybe[key] = append(w.maybe[key], value)
		return
	}
	w.writes++
	w.record(start)
	if err != nil {
		w.maybe[key] = append(w.maybe[key], value)
		w.fail("PUT %s: %v", key, err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	w.vers["v"+resp.Header.Get("X-Shard-Version")]++
	if resp.StatusCode != http.StatusOK {
		w.maybe[key] = append(w.maybe[key], value)
		w.fail("PUT %s: %s: %s", key, resp.Status, strings.TrimSpace(string(body)))
		return
	}
	w.acked[key] = value
	delete(w.maybe, key)
	w.log.write("ack", key, value)
}

// do sends req, and sends it again, at most w.retries times, if its
// connection was refused or reset before any answer came: nothing was
// answered, and the request is idempotent (a GET, or a PUT with an
// Idempotency-Key), so sending it again is what a real client does.
func (w *worker) do(client *http.Client, req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := client.Do(req)
		if err == nil || attempt >= w.retries || !retryable(err) || req.Context().Err() != nil {
			return resp, err
		}
		w.retried++
		if req.GetBody != nil {
			body, berr := req.GetBody()
			if berr != nil {
				return nil, err
			}
			req.Body = body
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
}

// retryable says whether err means the request got no answer because its
// connection was refused, reset or closed: the server is restarting or
// handing its port over.
func retryable(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func (w *worker) get(ctx context.Context, client *http.Client, target, key string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target+"/kv/"+key, nil)
	start := time.Now()
	resp, err := w.do(client, req)
	if ctx.Err() != nil && err != nil {
		return
	}
	w.reads++
	w.record(start)
	if err != nil {
		w.fail("GET %s: %v", key, err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	w.vers["v"+resp.Header.Get("X-Shard-Version")]++
	switch {
	case resp.StatusCode == http.StatusNotFound:
		if want, ok := w.acked[key]; ok {
			w.stale++
			w.note("GET %s: 404, but %q was acknowledged", key, want)
		}
	case resp.StatusCode != http.StatusOK:
		w.fail("GET %s: %s: %s", key, resp.Status, strings.TrimSpace(string(body)))
	default:
		if !w.accepts(key, string(body)) {
			w.stale++
			w.note("GET %s: %q, but %q was acknowledged", key, body, w.acked[key])
		}
	}
}

// accepts says whether got may be key's value: its last acknowledged one,
// or a later write whose answer never came.
func (w *worker) accepts(key, got string) bool {
	if want, ok := w.acked[key]; ok && got == want {
		return true
	}
	return slices.Contains(w.maybe[key], got)
}

func (w *worker) record(start time.Time) {
	// A value beyond the histogram's range is clamped to it rather than
	// dropped, so that max still says "at least the timeout".
	us := max(time.Since(start).Microseconds(), 1)
	if err := w.hist.RecordValue(min(us, w.hist.HighestTrackableValue())); err != nil {
		w.fail("recording a latency of %dµs: %v", us, err)
	}
}

// check reads back every key a worker wrote, in parallel.
func check(client *http.Client, cfg Config, workers []*worker, rep *Report) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys := make([]string, 0, len(w.acked)+len(w.maybe))
			for k := range w.acked {
				keys = append(keys, k)
			}
			for k := range w.maybe {
				if _, ok := w.acked[k]; !ok {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			var bad []string
			for _, k := range keys {
				if problem := w.readBack(client, cfg, k); problem != "" {
					bad = append(bad, problem)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			rep.Checked += len(keys)
			rep.Mismatches += len(bad)
			for _, b := range bad {
				if len(rep.Errors) < 2*maxErrors {
					rep.Errors = append(rep.Errors, b)
				}
			}
		}()
	}
	wg.Wait()
}

// readBack reads key and says what is wrong with its value, if anything.
func (w *worker) readBack(client *http.Client, cfg Config, key string) string {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Target+"/kv/"+key, nil)
	resp, err := w.do(client, req)
	if err != nil {
		return fmt.Sprintf("read back %s: %v", key, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		if !w.accepts(key, string(body)) {
			return fmt.Sprintf("read back %s: %q, but %q was acknowledged", key, body, w.acked[key])
		}
	case http.StatusNotFound:
		if _, ok := w.acked[key]; ok {
			return fmt.Sprintf("read back %s: 404, but %q was acknowledged", key, w.acked[key])
		}
	default:
		return fmt.Sprintf("read back %s: %s: %s", key, resp.Status, strings.TrimSpace(string(body)))
	}
	return ""
}

func (r *Report) print(out io.Writer) {
	ms := func(us int64) string { return fmt.Sprintf("%.2fms", float64(us)/1000) }
	h := r.Latency
	fmt.Fprintf(out, "requests: %d in %v (%d reads, %d writes): %.0f requests/s\n",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.Reads, r.Writes, float64(r.Requests)/r.Elapsed.Seconds())
	fmt.Fprintf(out, "latency: p50 %s  p90 %s  p99 %s  max %s\n",
		ms(h.ValueAtQuantile(50)), ms(h.ValueAtQuantile(90)), ms(h.ValueAtQuantile(99)), ms(h.Max()))
	vs := make([]string, 0, len(r.Versions))
	for v, n := range r.Versions {
		vs = append(vs, fmt.Sprintf("%s %d", v, n))
	}
	slices.Sort(vs)
	fmt.Fprintf(out, "answered by shard version: %s\n", strings.Join(vs, ", "))
	fmt.Fprintf(out, "failed requests: %d; stale reads: %d; sent again after a refused or reset connection: %d\n", r.Failed, r.StaleReads, r.Retried)
	fmt.Fprintf(out, "read back: %d keys written, %d not holding their last acknowledged value\n", r.Checked, r.Mismatches)
	for _, e := range r.Errors {
		fmt.Fprintf(out, "  %s\n", e)
	}
	if r.OK() {
		fmt.Fprintln(out, "OK: no request failed, every acknowledged write is readable")
	} else {
		fmt.Fprintln(out, "FAILED")
	}
}
