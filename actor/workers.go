package actor

import (
	"runtime"
	"sync/atomic"
)

// workers is the dispatcher of a node's actors: a pool of goroutines that
// stay alive between mailbox runs. protoactor's default dispatcher starts a
// new goroutine each time a mailbox wakes up; a new goroutine starts on a
// small stack and grows it again on the first deep call (a codec, a
// migration), which measured as half of an update's CPU time. A worker keeps
// the stack it grew.
//
// Schedule hands the run to an idle worker if there is one, starts a worker
// while fewer than max are alive, and otherwise runs it on a new goroutine,
// as protoactor does. Workers exit when the node shuts down.
type workers struct {
	throughput int
	max        int32
	live       atomic.Int32
	handoff    chan func() // unbuffered: a send succeeds only to an idle worker
	quit       chan struct{}
}

func newWorkers(throughput int) *workers {
	return &workers{
		throughput: throughput,
		max:        int32(8 * runtime.GOMAXPROCS(0)),
		handoff:    make(chan func()),
		quit:       make(chan struct{}),
	}
}

func (w *workers) Schedule(fn func()) {
	select {
	case w.handoff <- fn:
		return
	default:
	}
	if w.live.Add(1) <= w.max {
		go w.work(fn)
		return
	}
	w.live.Add(-1)
	go fn()
}

func (w *workers) Throughput() int { return w.throughput }

func (w *workers) work(fn func()) {
	defer w.live.Add(-1)
	for {
		fn()
		select {
		case fn = <-w.handoff:
		case <-w.quit:
			return
		}
	}
}

// stop lets idle workers exit, and busy ones once their run is over.
func (w *workers) stop() { close(w.quit) }
