package mailbox

import (
	"sync"
	"sync/atomic"
)

// maxIdleCapacity bounds the buffer a drained queue keeps for reuse, so that
// one burst does not pin its peak memory for the life of the actor.
const maxIdleCapacity = 4096

// queue is a multi-producer, single-consumer FIFO. Producers append to in
// under a lock; the consumer drains out without one and swaps the two buffers
// when out runs dry, so the lock is taken once per push and once per batch
// popped, and steady traffic allocates nothing.
type queue struct {
	mu   sync.Mutex
	in   []any
	out  []any // consumer only
	head int   // consumer only: next index of out to pop
	n    atomic.Int64
}

func (q *queue) push(v any) {
	q.mu.Lock()
	q.in = append(q.in, v)
	q.n.Add(1) // under the lock, so that n never counts less than a swap takes
	q.mu.Unlock()
}

// pop returns the oldest message, or nil when the queue is empty. Only the
// consumer may call it.
func (q *queue) pop() any {
	if q.head == len(q.out) {
		if q.n.Load() == 0 {
			return nil
		}
		spent := q.out[:0]
		if cap(spent) > maxIdleCapacity {
			spent = nil
		}
		q.mu.Lock()
		q.out, q.in = q.in, spent
		q.mu.Unlock()
		q.head = 0
		if len(q.out) == 0 {
			return nil
		}
	}
	v := q.out[q.head]
	q.out[q.head] = nil
	q.head++
	q.n.Add(-1)
	return v
}

// len is the number of messages pushed and not yet popped. Any goroutine may
// call it.
func (q *queue) len() int { return int(q.n.Load()) }

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
	if f.head == len(f.items) {
		f.head = 0
		f.items = f.items[:0]
		if cap(f.items) > maxIdleCapacity {
			f.items = nil
		}
	}
	return v
}

func (f *fifo) len() int { return len(f.items) - f.head }
