package actor

import (
	"container/heap"
	"sync"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/internal/protocol"
)

// deadlines is a node's clock for the deadlines of the updates in flight
// on its actors: one timer for all of them, set for the earliest. A timer
// per update (time.AfterFunc, then Stop when the update ended in time, as
// nearly all do) was 6 % of the CPU of a group update of 16
// (BenchmarkGroupUpdate, -cpuprofile): each made a timer, a closure, and
// two trips through the runtime's timer heap. Setting and cancelling an
// alarm here takes the lock and moves the alarm in a heap of the updates
// in flight; the timer is reset only for an alarm earlier than every other.
//
// When an alarm's time comes, its actor is sent a deadline message, as
// its own timer did: the host checks there that the update it names is
// still the one in progress.
type deadlines struct {
	send func(pid *pa.PID, u *protocol.Update)

	mu      sync.Mutex
	alarms  alarmHeap
	timer   *time.Timer // made with the first alarm
	next    time.Time   // when the timer fires; zero: it is not set
	stopped bool
}

// alarm is one update's deadline. The zero alarm is not set. A host keeps
// its alarm, so that setting one allocates nothing.
type alarm struct {
	when time.Time
	pid  *pa.PID
	u    *protocol.Update
	at   int // its index in the heap plus one; 0: not in it
}

func newDeadlines(root *pa.RootContext) *deadlines {
	return &deadlines{send: func(pid *pa.PID, u *protocol.Update) { root.Send(pid, &deadline{u}) }}
}

// set sets a, or moves it if it is set, to tell pid at when that u may
// have run out of time.
func (d *deadlines) set(a *alarm, when time.Time, pid *pa.PID, u *protocol.Update) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	a.when, a.pid, a.u = when, pid, u
	if a.at > 0 {
		heap.Fix(&d.alarms, a.at-1)
	} else {
		heap.Push(&d.alarms, a)
	}
	if d.next.IsZero() || when.Before(d.next) {
		d.wake(when)
	}
}

// cancel takes a out of the heap if it is still there. The timer stays as
// it is: if a was the earliest, the timer finds nothing due and moves on.
func (d *deadlines) cancel(a *alarm) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if a.at > 0 {
		heap.Remove(&d.alarms, a.at-1)
	}
	a.pid, a.u = nil, nil
}

// wake sets the timer for when; d.mu is held.
func (d *deadlines) wake(when time.Time) {
	d.next = when
	wait := max(time.Until(when), 0)
	if d.timer == nil {
		d.timer = time.AfterFunc(wait, d.ring)
		return
	}
	d.timer.Reset(wait)
}

// ring sends the deadlines that are due, and sets the timer for the next.
func (d *deadlines) ring() {
	type due struct {
		pid *pa.PID
		u   *protocol.Update
	}
	var ready []due
	d.mu.Lock()
	d.next = time.Time{}
	now := time.Now()
	for len(d.alarms) > 0 && !d.alarms[0].when.After(now) {
		a := heap.Pop(&d.alarms).(*alarm)
		ready = append(ready, due{a.pid, a.u})
		a.pid, a.u = nil, nil
	}
	if len(d.alarms) > 0 && !d.stopped {
		d.wake(d.alarms[0].when)
	}
	d.mu.Unlock()
	// Sent without the lock: a send may run a mailbox's scheduling.
	for _, r := range ready {
		d.send(r.pid, r.u)
	}
}

// stop drops every alarm: the node is shutting down.
func (d *deadlines) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	if d.timer != nil {
		d.timer.Stop()
	}
	for _, a := range d.alarms {
		a.at, a.pid, a.u = 0, nil, nil
	}
	d.alarms = nil
}

// alarmHeap orders alarms by time, the earliest first (container/heap).
type alarmHeap []*alarm

func (h alarmHeap) Len() int           { return len(h) }
func (h alarmHeap) Less(i, j int) bool { return h[i].when.Before(h[j].when) }
func (h alarmHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].at, h[j].at = i+1, j+1
}
func (h *alarmHeap) Push(x any) {
	a := x.(*alarm)
	a.at = len(*h) + 1
	*h = append(*h, a)
}
func (h *alarmHeap) Pop() any {
	old := *h
	a := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	a.at = 0
	return a
}
