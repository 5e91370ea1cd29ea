package actor

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// TestWorkersReuseIdleGoroutines: a run scheduled while a worker is idle
// goes to that worker, so the pool does not grow with the number of runs.
func TestWorkersReuseIdleGoroutines(t *testing.T) {
	w := newWorkers(300)
	defer w.stop()
	for i := 0; i < 1000; i++ {
		done := make(chan struct{})
		w.Schedule(func() { close(done) })
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("run %d was not executed within 10s", i)
		}
	}
	// Runs were sequential: a worker went idle before the next one, except
	// when the scheduler had not parked it yet, so only a few ever started.
	if live := w.live.Load(); live > w.keep || live < 1 {
		t.Fatalf("%d workers alive after 1000 sequential runs, want between 1 and %d", live, w.keep)
	}
	if w.Throughput() != 300 {
		t.Errorf("throughput %d, want 300", w.Throughput())
	}
}

// TestWorkersGrowAndShrink: with every worker busy, a run still starts at
// once, on a new worker; once idle, the workers beyond keep exit.
func TestWorkersGrowAndShrink(t *testing.T) {
	w := newWorkers(300)
	w.idle = time.Millisecond
	defer w.stop()
	block := make(chan struct{})
	var started, finished sync.WaitGroup
	n := int(w.keep) + 5
	started.Add(n)
	finished.Add(n)
	for i := 0; i < n; i++ {
		w.Schedule(func() {
			started.Done()
			<-block
			finished.Done()
		})
	}
	waitGroup(t, &started, "every run to start while every worker is busy")
	if live := w.live.Load(); live != int32(n) {
		t.Errorf("%d workers alive, want %d", live, n)
	}
	close(block)
	waitGroup(t, &finished, "every run to finish")
	deadline := time.Now().Add(10 * time.Second)
	for w.live.Load() > w.keep {
		if time.Now().After(deadline) {
			t.Fatalf("%d workers still alive 10s after the runs ended, want at most %d", w.live.Load(), w.keep)
		}
		runtime.Gosched()
	}
}

// TestWorkersStop: stopped workers exit, and a run scheduled after stop
// still runs (goleak in TestMain checks that nothing is left).
func TestWorkersStop(t *testing.T) {
	w := newWorkers(300)
	var wg sync.WaitGroup
	wg.Add(1)
	w.Schedule(wg.Done)
	waitGroup(t, &wg, "the first run")
	w.stop()
	wg.Add(1)
	w.Schedule(wg.Done)
	waitGroup(t, &wg, "a run scheduled after stop")
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("waited 10s for %s", what)
	}
}
