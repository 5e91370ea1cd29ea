//go:build unix

package boltstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/molt-go/molt/internal/proctest"
	"github.com/molt-go/molt/persist"
	"github.com/molt-go/molt/persist/boltstore"
	"github.com/molt-go/molt/persist/storetest"
)

// killWait bounds every wait of TestKill.
const killWait = 15 * time.Second

// TestKill kills with SIGKILL, at a random moment, a process that saves
// snapshots of several names as fast as it can, and checks that every
// snapshot it acknowledged survived: for each name, Load after reopening
// returns a whole envelope whose sequence is the last one acknowledged or
// the one being saved when the process died. MOLT_KILL_TRIALS sets the
// number of trials (4 unless set); MOLT_KILL_SEED replays a run.
func TestKill(t *testing.T) {
	trials := 4
	if v := os.Getenv("MOLT_KILL_TRIALS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("MOLT_KILL_TRIALS=%q: want a positive number", v)
		}
		trials = n
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("MOLT_KILL_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("MOLT_KILL_SEED=%q: %v", v, err)
		}
	}
	t.Logf("%d trials, MOLT_KILL_SEED=%d", trials, seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	bin := proctest.Build(t, "github.com/molt-go/molt/persist/boltstore/internal/crasher")
	dir := t.TempDir()
	var total int
	for i := range trials {
		// Up to 150 ms after the first acknowledged Save: tens of commits.
		delay := time.Duration(rng.Int64N(int64(150 * time.Millisecond)))
		path := filepath.Join(dir, fmt.Sprintf("trial-%d.db", i))
		total += killTrial(t, bin, path, delay, i == 0)
	}
	t.Logf("%d trials: %d acknowledged Saves, none lost", trials, total)
}

// killTrial runs one trial and returns the number of Saves the process
// acknowledged.
func killTrial(t *testing.T, bin, path string, delay time.Duration, checkLock bool) int {
	const names = 8
	cmd := exec.Command(bin, "-path", path, "-names", fmt.Sprint(names), "-max", killWait.String())
	stdin, err := cmd.StdinPipe() // the process exits when the test's end closes it
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	var (
		mu    sync.Mutex
		acked = make(map[string]uint64)
		count int
	)
	ready, first := make(chan struct{}), make(chan struct{})
	go func() {
		// Every whole line is a Save that returned nil; a line cut by the
		// kill (none should be: each is one write) is not counted.
		r := bufio.NewReader(stdout)
		var readyOnce, firstOnce sync.Once
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				break
			}
			line = strings.TrimSuffix(line, "\n")
			if line == "ready" {
				readyOnce.Do(func() { close(ready) })
				continue
			}
			name, seqText, ok := strings.Cut(line, " ")
			seq, perr := strconv.ParseUint(seqText, 10, 64)
			if !ok || perr != nil {
				t.Errorf("the process printed %q", line)
				continue
			}
			mu.Lock()
			if seq <= acked[name] {
				t.Errorf("%s acknowledged %d after %d", name, seq, acked[name])
			}
			acked[name] = seq
			count++
			mu.Unlock()
			firstOnce.Do(func() { close(first) })
		}
		_, _ = io.Copy(io.Discard, r)
		exited <- cmd.Wait()
	}()
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	wait := func(c <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-c:
		case err := <-exited:
			killed = true
			t.Fatalf("the process exited (%v) before %s; stderr:\n%s", err, what, stderr.String())
		case <-time.After(killWait):
			t.Fatalf("no %s within %v; stderr:\n%s", what, killWait, stderr.String())
		}
	}
	wait(ready, "ready line")
	if checkLock {
		// A second process's Open must fail, not hang, while this one holds the file.
		start := time.Now()
		if s, err := boltstore.Open(path, boltstore.WithOpenTimeout(100*time.Millisecond)); !errors.Is(err, boltstore.ErrLocked) {
			if err == nil {
				s.Close()
			}
			t.Errorf("Open of a file another process holds: %v, want ErrLocked", err)
		} else if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Open of a file another process holds took %v with a timeout of 100ms", d)
		}
	}
	wait(first, "acknowledged Save")
	select {
	case <-time.After(delay):
	case err := <-exited:
		killed = true
		t.Fatalf("the process exited (%v) before it was killed; stderr:\n%s", err, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed = true
	select {
	case err = <-exited:
	case <-time.After(killWait):
		t.Fatalf("the process did not exit within %v of SIGKILL", killWait)
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the process ended with %v, not by SIGKILL; stderr:\n%s", err, stderr.String())
	}

	s, err := boltstore.Open(path, boltstore.WithOpenTimeout(killWait))
	if err != nil {
		t.Fatalf("reopening after kill -9: %v", err)
	}
	defer s.Close()
	mu.Lock()
	defer mu.Unlock()
	for i := range names {
		name := fmt.Sprint("actor-", i)
		last := acked[name]
		e, err := s.Load(context.Background(), name)
		switch {
		case errors.Is(err, persist.ErrNotFound) && last == 0:
			continue
		case err != nil:
			t.Errorf("after kill -9 %v in: Load %s (last acknowledged %d): %v", delay, name, last, err)
			continue
		}
		if err := storetest.CheckSnapshot(e, name); err != nil {
			t.Errorf("after kill -9: %s: %v", name, err)
		}
		// The process saves each name's sequences in order, one at a time:
		// the file holds the last acknowledged one or the next.
		if seq := e.GetSequence(); seq < last || seq > last+1 {
			t.Errorf("after kill -9 %v in: %s has sequence %d, the last acknowledged was %d", delay, name, seq, last)
		}
	}
	t.Logf("killed %v after the first acknowledged Save: %d acknowledged, all there", delay, count)
	return count
}
