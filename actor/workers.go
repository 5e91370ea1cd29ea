package actor

import (
	"runtime"
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
type workers struct {
	throughput int
	keep       int32         // workers that never exit for being idle
	idle       time.Duration // how long a worker beyond keep waits for a run
	live       atomic.Int32
	handoff    chan func() // unbuffered: a send succeeds only to an idle worker
	quit       chan struct{}
}

func newWorkers(throughput int) *workers {
	return &workers{
		throughput: throughput,
		keep:       int32(8 * runtime.GOMAXPROCS(0)),
		idle:       time.Second,
		handoff:    make(chan func()),
		quit:       make(chan struct{}),
	}
}

func (w *workers) Schedule(fn func()) {
	select {
	case w.handoff <- fn:
	default:
		w.live.Add(1)
		go w.work(fn)
	}
}

func (w *workers) Throughput() int { return w.throughput }

func (w *workers) work(fn func()) {
	var idle *time.Timer // made when first needed: most workers never need it
	for {
		fn()
		if w.live.Load() <= w.keep {
			// One of the keep: wait as long as it takes, at no cost.
			select {
			case fn = <-w.handoff:
				continue
			case <-w.quit:
				w.live.Add(-1)
				return
			}
		}
		if idle == nil {
			idle = time.NewTimer(w.idle)
		} else {
			idle.Reset(w.idle)
		}
		select {
		case fn = <-w.handoff:
		case <-w.quit:
			w.live.Add(-1)
			return
		case <-idle.C:
			if n := w.live.Load(); n > w.keep && w.live.CompareAndSwap(n, n-1) {
				return
			}
			select {
			case fn = <-w.handoff:
			case <-w.quit:
				w.live.Add(-1)
				return
			}
		}
	}
}

// stop lets idle workers exit, and busy ones once their run is over.
func (w *workers) stop() { close(w.quit) }
