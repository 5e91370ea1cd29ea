package mailbox

import (
	"sync"
	"sync/atomic"
)

// maxIdleCapacity bounds the buffer a queue keeps for reuse once traffic
// has calmed down, so that one burst does not pin its peak memory for the
// life of the actor.
const maxIdleCapacity = 4096

// A queue is a multi-producer, single-consumer FIFO in two halves: an inbox
// that producers append to under the mailbox's lock, and an outbox the
// consumer drains without one. When the outbox runs dry the consumer swaps
// the two buffers, so the lock is taken once per push and once per batch
// popped, and steady traffic allocates nothing. The halves are separate
// fields of the Mailbox, laid out so that what producers write and what the
// consumer writes are not on the same cache line.
type inbox struct {
	in     []any
	pushed atomic.Int64 // written under the lock
}

type outbox struct {
	out    []any // consumer only
	head   int   // consumer only: next index of out to pop
	popped atomic.Int64
}

func (q *inbox) push(mu *sync.Mutex, v any) {
	mu.Lock()
	q.in = append(q.in, v)
	q.pushed.Add(1) // under the lock: a swap never takes more than pushed counts
	mu.Unlock()
}

// pop returns the oldest message of the queue made of in and o, or nil when
// it is empty. Only the consumer may call it. With keep false, a drained
// buffer is dropped instead of kept for the next messages: for a lane that
// is rarely used, so that an idle actor holds no buffer for it.
func (o *outbox) pop(mu *sync.Mutex, in *inbox, keep bool) any {
	if o.head == len(o.out) {
		if in.pushed.Load() == o.popped.Load() {
			return nil
		}
		spent := o.out[:0]
		if !keep {
			spent = nil
		}
		mu.Lock()
		if cap(spent) > maxIdleCapacity && len(in.in) < cap(spent)/4 {
			// The burst that grew it is over: let it go.
			spent = nil
		}
		o.out, in.in = in.in, spent
		mu.Unlock()
		o.head = 0
	}
	v := o.out[o.head]
	o.out[o.head] = nil
	o.head++
	o.popped.Store(o.popped.Load() + 1)
	if !keep && o.head == len(o.out) {
		o.out, o.head = nil, 0
	}
	return v
}

// unpop puts v, just popped, back as the next message to pop: the consumer
// found a message it must deliver first. Only the consumer may call it, with
// nothing popped since v.
func (o *outbox) unpop(v any) {
	o.head--
	o.out[o.head] = v
	o.popped.Store(o.popped.Load() - 1)
}

// length is the number of messages pushed and not yet popped. Any goroutine
// may call it.
func length(in *inbox, o *outbox) int {
	popped := o.popped.Load() // first, so that the difference is never negative
	return int(in.pushed.Load() - popped)
}

// fifo is a consumer-only FIFO: the parking area for held messages.
type fifo struct {
	items []any
	head  int
}

func (f *fifo) push(v any) { f.items = append(f.items, v) }

func (f *fifo) pop() any {
	if f.head == len(f.items) {
		return nil
	}
	v := f.items[f.head]
	f.items[f.head] = nil
	f.head++
	switch {
	case f.head == len(f.items):
		f.head = 0
		f.items = f.items[:0]
		if cap(f.items) > maxIdleCapacity {
			f.items = nil
		}
	case f.head > maxIdleCapacity && 2*f.head >= len(f.items):
		// Parking again before the area drained would otherwise keep
		// every slot ever used: move the rest to the front.
		n := copy(f.items, f.items[f.head:])
		clear(f.items[n:])
		f.items = f.items[:n]
		f.head = 0
	}
	return v
}

func (f *fifo) len() int { return len(f.items) - f.head }
