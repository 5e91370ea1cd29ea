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
// Schedule queues the run and makes sure a worker is on its way to it: it
// wakes an idle worker, or starts one, unless one woken earlier has not
// taken a run yet (that one will, and wakes the next if runs remain). So a
// run never waits for another to finish: an actor that blocks in Receive
// blocks only itself, as with protoactor's dispatcher. A worker that ends
// a run takes a queued run (its own P's oldest first, see below) before it
// parks: when an actor's Receive sends to an idle actor, the same worker
// runs that actor next, without a hand-off to another goroutine, unless
// the worker woken for it got there first. With one message bouncing
// between two actors, a hand-off per message was most of the cost (CPU
// profile of BenchmarkThroughputMolt: runtime.selectgo, park and ready,
// the scheduler), and whether the two goroutines shared a core decided the
// rate.
//
// The pool grows with the number of mailboxes running at once; beyond keep
// workers, those that stayed idle for a whole period of the reaper (between
// idle and twice idle) exit. Workers exit when the node shuts down.
//
// The queue is kept per P (the Go scheduler's processor, see proc.go): a
// run goes to the queue of the P that scheduled it, and a worker takes from
// the queue of the P it runs on, then from the others. Two actors that
// exchange messages thus stay on one core, and a worker that finds its own
// queue empty takes the work of another core rather than sharing its
// queue: with one queue for all, the runs of 4 pairs of actors with 32
// messages in flight each crossed between the two cores at every message,
// and the rate fell to 8-10 M/s in most runs (0.6-0.8 x plain protoactor,
// whose goroutines Go's scheduler keeps on the P that made them), against
// 17-19 M/s with a queue per P.
//
// Waking a parked worker readies a goroutine, and the runtime then wakes
// an idle P's thread too (wakep), though the worker runs on the waker's P:
// on a 2-vCPU VM that thread's sleeping and waking costs 10 us or more
// about once in thirty updates, the tail of an update's round trip
// (docs/benchmarks.md, issue 12, fourth pass).
//
// An idle worker waits on a channel of its own, on a stack of idle workers
// that a wake-up pops, the most recently idle first (its stack and caches are
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

	mu sync.Mutex
	// local holds the runs that no worker has taken yet, one queue per P:
	// a run goes to the queue of the P it was scheduled on, and a worker
	// takes from its own P's queue first, so that two actors exchanging
	// messages stay on one core.
	local  []runQueue
	queued int // runs in every queue
	// waking is set while a worker woken or started for the queues has
	// not taken a run yet. Whenever a run is queued, waking is set: every
	// queued run has a worker on its way that no other run holds up.
	waking bool
	parked []*worker // idle workers, the most recently idle last
	// epoch counts the reaper's rounds; a parked worker with an older
	// epoch than the current one has been idle for a whole round.
	epoch   uint64
	reaper  *time.Timer // armed while more than keep workers live
	reaping bool
	stopped bool
}

// worker is an idle worker's wake-up line: Schedule takes the worker off
// the stack before it sends, so the buffer of one is always free and the
// send never blocks. true wakes the worker to take a queued run; false
// tells it to exit.
type worker struct {
	wake  chan bool
	epoch uint64 // the reaper's round in which it last parked
}

func newWorkers(throughput int) *workers {
	return &workers{
		local:      make([]runQueue, runtime.GOMAXPROCS(0)),
		throughput: throughput,
		keep:       int32(8 * runtime.GOMAXPROCS(0)),
		idle:       time.Second,
	}
}

func (w *workers) Schedule(fn func()) {
	p := procID()
	w.mu.Lock()
	if w.stopped {
		// No worker parks any more: this run gets a goroutine of its own.
		w.live.Add(1)
		w.mu.Unlock()
		go w.work(fn)
		return
	}
	w.local[p%len(w.local)].push(fn)
	w.queued++
	var wk *worker
	if !w.waking {
		wk = w.wakeOne()
	}
	w.mu.Unlock()
	if wk != nil {
		wk.wake <- true
	}
}

func (w *workers) Throughput() int { return w.throughput }

// wakeOne sets waking and returns the idle worker the caller must wake once
// it has let go of w.mu, or starts a new worker and returns nil. w.mu is
// held.
func (w *workers) wakeOne() *worker {
	w.waking = true
	if n := len(w.parked); n > 0 {
		wk := w.parked[n-1]
		w.parked[n-1] = nil
		w.parked = w.parked[:n-1]
		return wk
	}
	if w.live.Add(1) > w.keep && !w.reaping && !w.stopped {
		w.armReaper()
	}
	go w.work(nil)
	return nil
}

// work runs fn, if any, then queued runs, parking whenever the queue is
// empty, until it is told to exit. A worker started or woken for the queue
// starts with a nil fn.
func (w *workers) work(fn func()) {
	defer w.live.Add(-1)
	var floor [stackFloor]byte
	holdStack(floor[:])
	wk := &worker{wake: make(chan bool, 1)}
	woken := fn == nil
	for {
		if fn != nil {
			fn()
		}
		var exit bool
		if fn, exit = w.next(wk, woken); exit {
			return
		}
		woken = fn == nil
		if woken && !<-wk.wake {
			return
		}
	}
}

// next takes a queued run (see pop), or parks wk and returns nil, or says
// the worker is to exit: the pool has stopped and nothing is queued. woken
// tells that the worker was woken for the queue (and has not taken a run
// since).
func (w *workers) next(wk *worker, woken bool) (fn func(), exit bool) {
	w.mu.Lock()
	if woken {
		w.waking = false
	}
	if fn, ok := w.pop(procID()); ok {
		var other *worker
		if w.queued > 0 && !w.waking {
			// The runs left behind this one get a worker of their own.
			other = w.wakeOne()
		}
		w.mu.Unlock()
		if other != nil {
			other.wake <- true
		}
		return fn, false
	}
	defer w.mu.Unlock()
	if w.stopped {
		return nil, true
	}
	wk.epoch = w.epoch
	w.parked = append(w.parked, wk)
	return nil, false
}

// pop takes the oldest run of P p's queue, or else the oldest of the next
// queue after p's that has one; w.mu is held. P ids beyond the queues (the
// program raised GOMAXPROCS) share them.
func (w *workers) pop(p int) (func(), bool) {
	if w.queued == 0 {
		return nil, false
	}
	for i := range w.local {
		if fn, ok := w.local[(p+i)%len(w.local)].pop(); ok {
			w.queued--
			return fn, true
		}
	}
	return nil, false
}

// runQueue is a FIFO of runs on a ring that grows, and keeps its size up
// to keptRing runs: pushing and popping allocate nothing once it is large
// enough. A larger ring, grown by a burst (a fleet's update schedules
// every actor at once), is dropped once it runs empty.
type runQueue struct {
	ring       []func()
	head, size int
}

func (q *runQueue) len() int { return q.size }

func (q *runQueue) push(fn func()) {
	if q.size == len(q.ring) {
		grown := make([]func(), max(8, 2*len(q.ring)))
		n := copy(grown, q.ring[q.head:])
		copy(grown[n:], q.ring[:q.head])
		q.ring, q.head = grown, 0
	}
	q.ring[(q.head+q.size)%len(q.ring)] = fn
	q.size++
}

func (q *runQueue) pop() (func(), bool) {
	if q.size == 0 {
		return nil, false
	}
	fn := q.ring[q.head]
	q.ring[q.head] = nil
	q.head = (q.head + 1) % len(q.ring)
	q.size--
	if q.size == 0 && len(q.ring) > keptRing {
		q.ring, q.head = nil, 0
	}
	return fn, true
}

// keptRing is the largest ring a runQueue keeps once empty: 8 KiB of runs.
const keptRing = 1024

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
		w.parked[n].wake <- false
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

// stop lets idle workers exit, and busy ones once their run and the runs
// queued are over.
func (w *workers) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.reaper != nil {
		w.reaper.Stop()
	}
	for _, wk := range w.parked {
		wk.wake <- false
	}
	w.parked = nil
}
