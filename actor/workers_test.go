package actor

import (
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
	if live := w.live.Load(); live > w.max || live < 1 {
		t.Fatalf("%d workers alive after 1000 sequential runs, want between 1 and %d", live, w.max)
	}
	if w.Throughput() != 300 {
		t.Errorf("throughput %d, want 300", w.Throughput())
	}
}

// TestWorkersOverflowToNewGoroutines: with every worker busy, a run still
// starts at once, on a goroutine of its own.
func TestWorkersOverflowToNewGoroutines(t *testing.T) {
	w := newWorkers(300)
	defer w.stop()
	block := make(chan struct{})
	var started, finished sync.WaitGroup
	n := int(w.max) + 5
	started.Add(n)
	finished.Add(n)
	for i := 0; i < n; i++ {
		w.Schedule(func() {
			started.Done()
			<-block
			finished.Done()
		})
	}
	waitGroup(t, &started, "every run to start while the pool is full")
	if live := w.live.Load(); live != w.max {
		t.Errorf("%d workers alive, want the maximum %d", live, w.max)
	}
	close(block)
	waitGroup(t, &finished, "every run to finish")
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
