package actor

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// workers is the dispatcher of a node's actors: a pool of goroutines that
// stay alive between mailbox runs. protoactor's default dispatcher starts a
// new goroutine each time a mailbox wakes up; a new goroutine starts on a
// small stack and grows it again on the first deep call (a codec, a
// migration), which measured as half of an update's CPU time. A worker keeps
// the stack it grew.
//
// Schedule hands the run to an idle worker if there is one, and otherwise
// starts a worker, so a run never waits for another to finish: an actor
// that blocks in Receive blocks only itself, as with protoactor's
// dispatcher. The pool grows with the number of mailboxes running at once;
// beyond keep workers, one idle for a second exits. Workers exit when the
// node shuts down.
//
// An idle worker waits on a channel of its own, on a stack of idle workers
// that Schedule pops, the most recently idle first (its stack and caches are
// the warmest): a wake-up is one receive on one channel, where a select on a
// shared hand-off and a quit channel locked and queued on both each time.
type workers struct {
	throughput int
	keep       int32         // workers that never exit for being idle
	idle       time.Duration // how long a worker beyond keep waits for a run
	live       atomic.Int32

	mu      sync.Mutex
	parked  []*worker // idle workers, the most recently idle last
	stopped bool
}

// worker is an idle worker's mailbox: Schedule takes the worker off the
// stack before it sends, so the buffer of one is always free and the send
// never blocks. A nil run tells the worker to exit.
type worker struct{ run chan func() }

func newWorkers(throughput int) *workers {
	return &workers{
		throughput: throughput,
		keep:       int32(8 * runtime.GOMAXPROCS(0)),
		idle:       time.Second,
	}
}

func (w *workers) Schedule(fn func()) {
	w.mu.Lock()
	if n := len(w.parked); n > 0 {
		wk := w.parked[n-1]
		w.parked[n-1] = nil
		w.parked = w.parked[:n-1]
		w.mu.Unlock()
		wk.run <- fn
		return
	}
	w.mu.Unlock()
	w.live.Add(1)
	go w.work(fn)
}

func (w *workers) Throughput() int { return w.throughput }

func (w *workers) work(fn func()) {
	defer w.live.Add(-1)
	wk := &worker{run: make(chan func(), 1)}
	var idle *time.Timer // made when first needed: most workers never need it
	for fn != nil {
		fn()
		if !w.park(wk) {
			return
		}
		if w.live.Load() <= w.keep {
			// One of the keep: wait as long as it takes, at no cost.
			fn = <-wk.run
			continue
		}
		if idle == nil {
			idle = time.NewTimer(w.idle)
		} else {
			idle.Reset(w.idle)
		}
		select {
		case fn = <-wk.run:
		case <-idle.C:
			if w.retire(wk) {
				return
			}
			fn = <-wk.run
		}
	}
}

// park puts wk on the stack of idle workers, unless the pool has stopped.
func (w *workers) park(wk *worker) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return false
	}
	w.parked = append(w.parked, wk)
	return true
}

// retire takes wk, idle for w.idle, off the stack if the pool has more than
// keep workers and no run is on its way to it: it then exits.
func (w *workers) retire(wk *worker) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := slices.Index(w.parked, wk)
	if i < 0 || w.live.Load() <= w.keep {
		return false // a run is on its way, or it is one of the keep now
	}
	w.parked = slices.Delete(w.parked, i, i+1)
	return true
}

// stop lets idle workers exit, and busy ones once their run is over.
func (w *workers) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	for _, wk := range w.parked {
		wk.run <- nil
	}
	w.parked = nil
}
