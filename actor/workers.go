package actor

import (
	"runtime"
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
// beyond keep workers, those that stayed idle for a whole period of the
// reaper (between idle and twice idle) exit. Workers exit when the node
// shuts down.
//
// An idle worker waits on a channel of its own, on a stack of idle workers
// that Schedule pops, the most recently idle first (its stack and caches are
// the warmest): a wake-up is one receive on one channel. Idleness is told
// by one timer for the pool, not one per worker: a worker that armed its
// own timer each time it parked spent a tenth of a group update's CPU in
// select and timer resets (profile of BenchmarkGroupUpdate/16), since a
// group wakes more workers than keep.
type workers struct {
	throughput int
	keep       int32         // workers that never exit for being idle
	idle       time.Duration // the reaper's period
	live       atomic.Int32

	mu     sync.Mutex
	parked []*worker // idle workers, the most recently idle last
	// epoch counts the reaper's rounds; a parked worker with an older
	// epoch than the current one has been idle for a whole round.
	epoch   uint64
	reaper  *time.Timer // armed while more than keep workers live
	reaping bool
	stopped bool
}

// worker is an idle worker's mailbox: Schedule takes the worker off the
// stack before it sends, so the buffer of one is always free and the send
// never blocks. A nil run tells the worker to exit.
type worker struct {
	run   chan func()
	epoch uint64 // the reaper's round in which it last parked
}

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
	if w.live.Add(1) > w.keep && !w.reaping && !w.stopped {
		w.armReaper()
	}
	w.mu.Unlock()
	go w.work(fn)
}

func (w *workers) Throughput() int { return w.throughput }

func (w *workers) work(fn func()) {
	defer w.live.Add(-1)
	var floor [stackFloor]byte
	holdStack(floor[:])
	wk := &worker{run: make(chan func(), 1)}
	for fn != nil {
		fn()
		if !w.park(wk) {
			return
		}
		fn = <-wk.run
	}
}

// stackFloor is the stack a worker keeps in use while it is parked. The
// garbage collector halves the stack of a goroutine that uses less than a
// quarter of it, and a parked worker, waiting at the top of its stack,
// uses almost none: every cycle shrank the workers' stacks, and the next
// update grew them again, copying the stack each time (7 % of the CPU of
// BenchmarkGroupUpdate/256, in runtime.copystack under an update's
// msgpack copy). Held in work's frame, stackFloor keeps a stack of up to
// four times its size whole.
const stackFloor = 8 << 10

// holdStack keeps its argument, an array in the caller's frame, on the
// stack: the compiler drops an array that nothing uses.
//
//go:noinline
func holdStack(b []byte) { b[len(b)-1] = 1 }

// park puts wk on the stack of idle workers, unless the pool has stopped.
func (w *workers) park(wk *worker) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return false
	}
	wk.epoch = w.epoch
	w.parked = append(w.parked, wk)
	return true
}

// armReaper starts the reaper's next round; w.mu is held.
func (w *workers) armReaper() {
	w.reaping = true
	if w.reaper == nil {
		w.reaper = time.AfterFunc(w.idle, w.reap)
		return
	}
	w.reaper.Reset(w.idle)
}

// reap ends a round of the reaper: the workers beyond keep that stayed
// parked through the whole round exit, the least recently idle first. The
// reaper runs again while more than keep workers live.
func (w *workers) reap() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reaping = false
	if w.stopped {
		return
	}
	excess := int(w.live.Load() - w.keep)
	// The stack is ordered by the time of parking, so the workers idle
	// for the whole round are at its bottom.
	n := 0
	for n < len(w.parked) && n < excess && w.parked[n].epoch < w.epoch {
		w.parked[n].run <- nil
		n++
	}
	if n > 0 {
		w.parked = append(w.parked[:0], w.parked[n:]...)
		clear(w.parked[len(w.parked):cap(w.parked)])
	}
	w.epoch++
	if excess-n > 0 {
		w.armReaper()
	}
}

// stop lets idle workers exit, and busy ones once their run is over.
func (w *workers) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.reaper != nil {
		w.reaper.Stop()
	}
	for _, wk := range w.parked {
		wk.run <- nil
	}
	w.parked = nil
}
