package actor

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"
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

// waitGroup fails t unless wg is done within 10s. t is a *testing.T or, in
// a property, a *rapid.T, so that rapid shrinks a failing case.
func waitGroup(t interface {
	Helper()
	Fatalf(format string, args ...any)
}, wg *sync.WaitGroup, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("waited 10s for %s", what)
	}
}

// TestWorkersRunQueuedBehindABlockedRun: a run scheduled from inside a run
// that then blocks is not held up by it. The worker that ends a run takes
// the queued run next, but the queue never relies on that: a worker is
// always on its way to a queued run.
func TestWorkersRunQueuedBehindABlockedRun(t *testing.T) {
	w := newWorkers(300)
	defer w.stop()
	block, done := make(chan struct{}), make(chan struct{})
	defer close(block)
	w.Schedule(func() {
		w.Schedule(func() { close(done) })
		<-block
	})
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a run scheduled from a run that then blocked did not run within 10s")
	}
}

// TestWorkersRunEveryRunOnce schedules trees of runs, each run scheduling
// its children from inside, some of them blocking until every other run
// is over, some scheduled after the pool stopped: every run runs exactly
// once, and the blocked runs hold up nothing.
func TestWorkersRunEveryRunOnce(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		w := newWorkers(300)
		w.keep = int32(rapid.IntRange(1, 4).Draw(rt, "keep"))
		w.idle = time.Millisecond
		defer w.stop()

		n := rapid.IntRange(1, 200).Draw(rt, "runs")
		parent := make([]int, n) // parent[i] < i; run 0 and the roots have -1
		blocks := make([]bool, n)
		for i := range n {
			parent[i] = -1
			if i > 0 && rapid.Bool().Draw(rt, "nested") {
				parent[i] = rapid.IntRange(0, i-1).Draw(rt, "parent")
			}
			blocks[i] = rapid.IntRange(0, 9).Draw(rt, "blocks") == 0
		}
		stopAfter := rapid.IntRange(0, n).Draw(rt, "stopAfter") // roots scheduled before stop

		children := make([][]int, n)
		for i, p := range parent {
			if p >= 0 {
				children[p] = append(children[p], i)
			}
		}
		ran := make([]atomic.Int32, n)
		var free, blocked sync.WaitGroup
		for i := range n {
			if blocks[i] {
				blocked.Add(1)
			} else {
				free.Add(1)
			}
		}
		gate := make(chan struct{})
		var run func(i int) func()
		run = func(i int) func() {
			return func() {
				ran[i].Add(1)
				for _, c := range children[i] {
					w.Schedule(run(c))
				}
				if blocks[i] {
					<-gate
					blocked.Done()
					return
				}
				free.Done()
			}
		}
		roots := 0
		for i, p := range parent {
			if p >= 0 {
				continue
			}
			if roots == stopAfter {
				w.stop()
			}
			roots++
			w.Schedule(run(i))
		}
		waitGroup(rt, &free, "every run that does not block, while the others block")
		close(gate)
		waitGroup(rt, &blocked, "every blocked run, once released")
		for i := range ran {
			if got := ran[i].Load(); got != 1 {
				rt.Fatalf("run %d ran %d times, want once", i, got)
			}
		}
	})
}

// TestRunQueueIsFIFO checks the workers' ring against a slice.
func TestRunQueueIsFIFO(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var q runQueue
		var model []int
		popped := -1 // set by the run popped last
		for i := range rapid.IntRange(0, 300).Draw(rt, "ops") {
			if rapid.IntRange(0, 2).Draw(rt, "pop") == 0 {
				fn, ok := q.pop()
				if ok != (len(model) > 0) {
					rt.Fatalf("pop ok %v with %d queued", ok, len(model))
				}
				if !ok {
					continue
				}
				fn()
				if popped != model[0] {
					rt.Fatalf("popped run %d, want %d (the oldest)", popped, model[0])
				}
				model = model[1:]
			} else {
				q.push(func() { popped = i })
				model = append(model, i)
			}
			if q.len() != len(model) {
				rt.Fatalf("len %d, want %d", q.len(), len(model))
			}
			if q.len() == 0 && len(q.ring) > keptRing {
				rt.Fatalf("an empty queue keeps a ring of %d runs, over keptRing (%d)", len(q.ring), keptRing)
			}
		}
	})
}

// TestRunQueueDropsABurstsRing: a ring grown past keptRing by a burst is
// dropped once the queue runs empty; a smaller one is kept.
func TestRunQueueDropsABurstsRing(t *testing.T) {
	for _, burst := range []int{keptRing / 2, 5 * keptRing} {
		var q runQueue
		for range burst {
			q.push(func() {})
		}
		grown := len(q.ring)
		for range burst {
			if _, ok := q.pop(); !ok {
				t.Fatalf("burst of %d: the queue ran empty early", burst)
			}
		}
		switch kept := len(q.ring); {
		case grown > keptRing && kept != 0:
			t.Errorf("burst of %d: the empty queue keeps its ring of %d runs, over keptRing (%d)", burst, kept, keptRing)
		case grown <= keptRing && kept != grown:
			t.Errorf("burst of %d: the empty queue kept %d of its %d-run ring, want all of it", burst, kept, grown)
		}
	}
}

// TestWorkersTakeTheirPsRunsFirst: a worker takes the oldest run of its own
// P's queue, and only when that is empty the oldest of the next queue that
// has one; P ids beyond the queues share them, and no run is lost or taken
// twice.
func TestWorkersTakeTheirPsRunsFirst(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		w := &workers{local: make([]runQueue, rapid.IntRange(1, 4).Draw(rt, "queues"))}
		model := make([][]int, len(w.local))
		popped := -1 // set by the run popped last
		for i := range rapid.IntRange(0, 200).Draw(rt, "ops") {
			p := rapid.IntRange(0, 2*len(w.local)).Draw(rt, "p")
			if rapid.IntRange(0, 2).Draw(rt, "pop") == 0 {
				want := -1
				for j := range model {
					if q := (p + j) % len(model); len(model[q]) > 0 {
						want = model[q][0]
						model[q] = model[q][1:]
						break
					}
				}
				fn, ok := w.pop(p)
				if ok != (want >= 0) {
					rt.Fatalf("P %d: pop ok %v, want %v", p, ok, want >= 0)
				}
				if !ok {
					continue
				}
				fn()
				if popped != want {
					rt.Fatalf("P %d took run %d, want %d", p, popped, want)
				}
			} else {
				w.local[p%len(w.local)].push(func() { popped = i })
				w.queued++
				model[p%len(model)] = append(model[p%len(model)], i)
			}
			n := 0
			for _, q := range model {
				n += len(q)
			}
			if w.queued != n {
				rt.Fatalf("queued %d, want %d", w.queued, n)
			}
		}
	})
}
