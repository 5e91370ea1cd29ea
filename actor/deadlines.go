package actor

import (
	"runtime"
	"sync"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
)

// deadlines is a node's clock for the deadlines of the updates in flight
// on its actors: a clock per P (see clock), each with one timer for all its
// alarms, set for the earliest. A timer
// per update (time.AfterFunc, then Stop when the update ended in time, as
// nearly all do) was 6 % of the CPU of a group update of 16
// (BenchmarkGroupUpdate, -cpuprofile): each made a timer, a closure, and
// two trips through the runtime's timer heap.
//
// The alarms are kept in lanes, one per span (the deadline's distance from
// the update's start), each a list in order of time. Updates given one
// span are set in nearly the order of their times, so an alarm joins its
// lane at the tail or a few places before it, and leaves it, as nearly all
// do when their update ends in time, by unlinking itself. A heap of every
// alarm (the clock's first form) made each of those a walk of its height
// under the lock: 13 % of the CPU of a group update of 256.
//
// When an alarm's time comes, its actor is sent a deadline message, as
// its own timer did: the host checks there that the update it names is
// still the one in progress.
type deadlines struct {
	clocks []*clock
}

// clock holds the alarms set on one P: the updates that run on a P set
// their alarms on its clock, so that the clock's lock and lanes stay in
// that core's cache. With one clock for the node, set and cancel were
// 6.1 % of the CPU of a group update of 256 on two cores against 3.1 % on
// one (GOMAXPROCS=1), the difference the clock's cache lines crossing
// between the cores; with a clock per P, 3.3 %.
type clock struct {
	send func(pid *pa.PID, m *deadline)

	mu      sync.Mutex
	lanes   map[time.Duration]*lane // made with the first alarm
	last    *lane                   // the lane last set in: most sets go to it
	timer   *time.Timer             // made with the first alarm
	next    time.Time               // when the timer fires; zero: it is not set
	stopped bool
}

// lane holds the alarms set with one span, the earliest first.
type lane struct {
	span       time.Duration
	head, tail *alarm
}

// alarm is one update's deadline. The zero alarm is not set. A host keeps
// its alarm, so that setting one allocates nothing.
type alarm struct {
	when       time.Time
	pid        *pa.PID
	m          deadline // what pid is sent
	in         *lane    // nil: not set
	on         *clock   // the clock it was last set on; nil: never set
	prev, next *alarm
}

func newDeadlines(root *pa.RootContext) *deadlines {
	send := func(pid *pa.PID, m *deadline) { root.Send(pid, m) }
	d := &deadlines{clocks: make([]*clock, runtime.GOMAXPROCS(0))}
	for i := range d.clocks {
		d.clocks[i] = &clock{send: send}
	}
	return d
}

// set sets a on the clock of the P it runs on, and takes it off the clock
// it was set on before, if another (see clock.set). The host that owns a
// is the only one to set or cancel it, from its own runs, so a.on needs no
// lock of its own.
func (d *deadlines) set(a *alarm, when time.Time, span time.Duration, pid *pa.PID, m deadline) {
	setOn(d.clocks[procID()%len(d.clocks)], a, when, span, pid, m)
}

// setOn is set on clock c.
func setOn(c *clock, a *alarm, when time.Time, span time.Duration, pid *pa.PID, m deadline) {
	if a.on != nil && a.on != c {
		a.on.cancel(a)
	}
	a.on = c
	c.set(a, when, span, pid, m)
}

// cancel takes a off the clock it was set on, if it is still there.
func (d *deadlines) cancel(a *alarm) {
	if a.on != nil {
		a.on.cancel(a)
	}
}

// stop drops every alarm of every clock: the node is shutting down.
func (d *deadlines) stop() {
	for _, c := range d.clocks {
		c.stop()
	}
}

// set sets a, or moves it if it is set, to send pid m at when, to tell it
// that m's update may have run out of time. span is when's distance from
// the update's start: alarms of one span are set in nearly the order of
// their times.
func (d *clock) set(a *alarm, when time.Time, span time.Duration, pid *pa.PID, m deadline) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	if a.in != nil {
		d.unlink(a)
	}
	a.when, a.pid, a.m = when, pid, m
	d.laneOf(span).insert(a)
	if d.next.IsZero() || when.Before(d.next) {
		d.wake(when)
	}
}

// laneOf returns the lane of span, made if there is none; d.mu is held.
// The lane it was last asked for is kept while empty, so that alarms of
// one span do not make and drop their lane by turns; it is dropped, if
// empty, when another is asked for.
func (d *clock) laneOf(span time.Duration) *lane {
	last := d.last
	if last != nil && last.span == span {
		return last
	}
	if last != nil && last.head == nil {
		delete(d.lanes, last.span)
	}
	l := d.lanes[span]
	if l == nil {
		if d.lanes == nil {
			d.lanes = make(map[time.Duration]*lane)
		}
		l = &lane{span: span}
		d.lanes[span] = l
	}
	d.last = l
	return l
}

// insert links a into l after the last alarm not later than it: from the
// tail, where nearly every alarm goes.
func (l *lane) insert(a *alarm) {
	a.in = l
	after := l.tail
	for after != nil && a.when.Before(after.when) {
		after = after.prev
	}
	a.prev = after
	if after == nil {
		a.next, l.head = l.head, a
	} else {
		a.next, after.next = after.next, a
	}
	if a.next == nil {
		l.tail = a
	} else {
		a.next.prev = a
	}
}

// unlink takes a out of its lane, and drops the lane if it is left empty
// and is not the one most sets go to; d.mu is held.
func (d *clock) unlink(a *alarm) {
	l := a.in
	if a.prev == nil {
		l.head = a.next
	} else {
		a.prev.next = a.next
	}
	if a.next == nil {
		l.tail = a.prev
	} else {
		a.next.prev = a.prev
	}
	a.in, a.prev, a.next = nil, nil, nil
	if l.head == nil && l != d.last {
		delete(d.lanes, l.span)
	}
}

// cancel takes a out of its lane if it is still there. The timer stays as
// it is: if a was the earliest, the timer finds nothing due and moves on.
func (d *clock) cancel(a *alarm) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if a.in != nil {
		d.unlink(a)
	}
	a.pid, a.m = nil, deadline{}
}

// wake sets the timer for when; d.mu is held.
func (d *clock) wake(when time.Time) {
	d.next = when
	wait := max(time.Until(when), 0)
	if d.timer == nil {
		d.timer = time.AfterFunc(wait, d.ring)
		return
	}
	d.timer.Reset(wait)
}

// ring sends the deadlines that are due, and sets the timer for the next.
func (d *clock) ring() {
	type due struct {
		pid *pa.PID
		m   *deadline
	}
	var ready []due
	d.mu.Lock()
	d.next = time.Time{}
	now := time.Now()
	var earliest time.Time
	for _, l := range d.lanes {
		for l.head != nil && !l.head.when.After(now) {
			a := l.head
			m := a.m
			ready = append(ready, due{a.pid, &m})
			d.unlink(a)
			a.pid, a.m = nil, deadline{}
		}
		if l.head != nil && (earliest.IsZero() || l.head.when.Before(earliest)) {
			earliest = l.head.when
		}
	}
	if !earliest.IsZero() && !d.stopped {
		d.wake(earliest)
	}
	d.mu.Unlock()
	// Sent without the lock: a send may run a mailbox's scheduling.
	for _, r := range ready {
		d.send(r.pid, r.m)
	}
}

// stop drops every alarm: the node is shutting down.
func (d *clock) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	if d.timer != nil {
		d.timer.Stop()
	}
	for _, l := range d.lanes {
		for a := l.head; a != nil; {
			next := a.next
			a.in, a.prev, a.next, a.pid, a.m = nil, nil, nil, nil, deadline{}
			a = next
		}
	}
	d.lanes, d.last = nil, nil
}
