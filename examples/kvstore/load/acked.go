package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
)

// ackedLog is the file of -acked-log: one line per event, "put KEY VALUE"
// before a PUT is sent and "ack KEY VALUE" once it was acknowledged, each
// written with one write call (no buffer in this process), so that what
// was logged survives this process being killed too. Keys and values hold
// no spaces or newlines (the generator makes them).
type ackedLog struct {
	mu sync.Mutex
	f  *os.File
}

func (l *ackedLog) write(event, key, value string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// An error here shows in -verify as a write missing from the log.
	_, _ = l.f.WriteString(event + " " + key + " " + value + "\n")
}

// expectation is what a key must hold according to a log: its last
// acknowledged value, or one of the values put after it whose answer
// never came (applied or not, nobody knows).
type expectation struct {
	acked    string
	hasAcked bool
	maybe    []string
}

func (e *expectation) accepts(got string, found bool) bool {
	if !found {
		return !e.hasAcked
	}
	return (e.hasAcked && got == e.acked) || slices.Contains(e.maybe, got)
}

// readLog reads an acked log. A last line without its newline (the writer
// was killed in the middle of it) is ignored: it was never a complete
// event.
func readLog(r io.Reader) (map[string]*expectation, int, error) {
	keys := map[string]*expectation{}
	acks := 0
	br := bufio.NewReader(r)
	for {
		line, err := br.ReadString('\n')
		if err == io.EOF {
			return keys, acks, nil
		}
		if err != nil {
			return nil, 0, err
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, 0, fmt.Errorf("acked log: malformed line %q", line)
		}
		e := keys[f[1]]
		if e == nil {
			e = &expectation{}
			keys[f[1]] = e
		}
		switch f[0] {
		case "put":
			e.maybe = append(e.maybe, f[2])
		case "ack":
			acks++
			e.acked, e.hasAcked, e.maybe = f[2], true, nil
		default:
			return nil, 0, fmt.Errorf("acked log: unknown event in %q", line)
		}
	}
}

// verify checks the store at cfg.Target against the log cfg.Verify: every
// key must hold its last acknowledged value (or a later one whose answer
// never came), and a key never acknowledged may be absent. It prints what
// it found and reports whether every key did.
func verify(cfg Config, out io.Writer) (bool, error) {
	f, err := os.Open(cfg.Verify)
	if err != nil {
		return false, fmt.Errorf("-verify: %w", err)
	}
	defer f.Close()
	keys, acks, err := readLog(f)
	if err != nil {
		return false, err
	}
	transport := &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: cfg.Timeout}
	w := &worker{retries: cfg.Retries}

	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	slices.Sort(names)
	var (
		mu    sync.Mutex
		bad   []string
		lost  int
		wg    sync.WaitGroup
		queue = make(chan string)
	)
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{retries: w.retries}
			for k := range queue {
				problem := check1(client, cfg, w, k, keys[k])
				if problem == "" {
					continue
				}
				mu.Lock()
				lost++
				if len(bad) < maxErrors {
					bad = append(bad, problem)
				}
				mu.Unlock()
			}
		}()
	}
	for _, k := range names {
		queue <- k
	}
	close(queue)
	wg.Wait()
	// Tests read this line: keep its form.
	fmt.Fprintf(out, "verify: %d keys in the log, %d acknowledged writes; %d keys not holding their last acknowledged value\n", len(keys), acks, lost)
	for _, b := range bad {
		fmt.Fprintf(out, "  %s\n", b)
	}
	if lost == 0 {
		fmt.Fprintln(out, "OK: every acknowledged write is readable")
	} else {
		fmt.Fprintln(out, "FAILED")
	}
	return lost == 0, nil
}

// check1 reads key and says what is wrong with its value, if anything.
func check1(client *http.Client, cfg Config, w *worker, key string, e *expectation) string {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Target+"/kv/"+key, nil)
	resp, err := w.do(client, req)
	if err != nil {
		return fmt.Sprintf("%s: %v", key, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNotFound:
		if !e.accepts(string(body), resp.StatusCode == http.StatusOK) {
			got := fmt.Sprintf("%q", body)
			if resp.StatusCode == http.StatusNotFound {
				got = "404"
			}
			return fmt.Sprintf("%s: %s, but %q was acknowledged (later puts without an answer: %q)", key, got, e.acked, e.maybe)
		}
		return ""
	default:
		return fmt.Sprintf("%s: %s: %s", key, resp.Status, strings.TrimSpace(string(body)))
	}
}
