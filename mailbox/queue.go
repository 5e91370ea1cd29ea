package mailbox

import (
	"sync"
	"sync/atomic"
)

// maxIdleCapacity bounds the buffer a queue keeps for reuse once traffic
// has calmed down, so that one burst does not pin its peak memory for the
// life of the actor.
const maxIdleCapacity = 4096

// cacheLine keeps what producers write and what the consumer writes on
// different cache lines, so that neither side's writes evict the other's.
const cacheLine = 64

// queue is a multi-producer, single-consumer FIFO. Producers append to in
// under a lock; the consumer drains out without one and swaps the two buffers
// when out runs dry, so the lock is taken once per push and once per batch
// popped, and steady traffic allocates nothing.
type queue struct {
	mu     sync.Mutex
	in     []any
	pushed atomic.Int64 // written under mu
	_      [cacheLine]byte

	out    []any // consumer only
	head   int   // consumer only: next index of out to pop
	popped atomic.Int64
	_      [cacheLine]byte
}

func (q *queue) push(v any) {
	q.mu.Lock()
	q.in = append(q.in, v)
	q.pushed.Add(1) // under the lock: a swap never takes more than pushed counts
	q.mu.Unlock()
}

// pop returns the oldest message, or nil when the queue is empty. Only the
// consumer may call it.
func (q *queue) pop() any {
	if q.head == len(q.out) {
		if q.pushed.Load() == q.popped.Load() {
			return nil
		}
		spent := q.out[:0]
		q.mu.Lock()
		if cap(spent) > maxIdleCapacity && len(q.in) < cap(spent)/4 {
			// The burst that grew it is over: let it go.
			spent = nil
		}
		q.out, q.in = q.in, spent
		q.mu.Unlock()
		q.head = 0
	}
	v := q.out[q.head]
	q.out[q.head] = nil
	q.head++
	q.popped.Store(q.popped.Load() + 1)
	return v
}

// len is the number of messages pushed and not yet popped. Any goroutine may
// call it.
func (q *queue) len() int {
	popped := q.popped.Load() // first, so that the difference is never negative
	return int(q.pushed.Load() - popped)
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
