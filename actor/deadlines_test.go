package actor

import (
	"fmt"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/internal/protocol"
	"pgregory.net/rapid"
)

// rung is one deadline sent by a test's deadlines.
type rung struct {
	pid *pa.PID
	at  time.Time
}

func testDeadlines() (*deadlines, chan rung) {
	sent := make(chan rung, 100)
	d := &deadlines{send: func(pid *pa.PID, _ *protocol.Update) { sent <- rung{pid, time.Now()} }}
	return d, sent
}

func nextRung(t *testing.T, sent chan rung, what string) rung {
	t.Helper()
	select {
	case r := <-sent:
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("no deadline was sent within 10s: want %s", what)
		return rung{}
	}
}

// TestDeadlinesRingInOrderAndNotBefore: alarms ring in the order of their
// times, each at its time or after, whatever the order they were set in;
// a cancelled alarm never rings, and a moved one rings at its new time.
func TestDeadlinesRingInOrderAndNotBefore(t *testing.T) {
	d, sent := testDeadlines()
	defer d.stop()
	start := time.Now()
	pids := []*pa.PID{pa.NewPID("a", "1"), pa.NewPID("a", "2"), pa.NewPID("a", "3"), pa.NewPID("a", "4")}
	var alarms [4]alarm
	// Set out of order: 3rd, 1st, 4th, 2nd (the 2nd is cancelled), then
	// the 4th moved before the 3rd.
	// The 1st and 3rd share a lane, set out of order in it; the 4th moves
	// to another lane.
	d.set(&alarms[2], start.Add(30*time.Millisecond), time.Second, pids[2], nil)
	d.set(&alarms[0], start.Add(10*time.Millisecond), time.Second, pids[0], nil)
	d.set(&alarms[3], start.Add(60*time.Millisecond), 2*time.Second, pids[3], nil)
	d.set(&alarms[1], start.Add(20*time.Millisecond), 3*time.Second, pids[1], nil)
	d.cancel(&alarms[1])
	d.set(&alarms[3], start.Add(25*time.Millisecond), 4*time.Second, pids[3], nil)
	for _, want := range []struct {
		pid   *pa.PID
		after time.Duration
	}{{pids[0], 10 * time.Millisecond}, {pids[3], 25 * time.Millisecond}, {pids[2], 30 * time.Millisecond}} {
		r := nextRung(t, sent, want.pid.Id)
		if r.pid != want.pid {
			t.Fatalf("deadline of %s rang, want %s's next", r.pid.Id, want.pid.Id)
		}
		if r.at.Sub(start) < want.after {
			t.Fatalf("deadline of %s rang %v after the start, before its time (%v)", r.pid.Id, r.at.Sub(start), want.after)
		}
	}
	d.mu.Lock()
	left := d.count
	d.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d alarms left after every set one rang", left)
	}
	// The cancelled alarm: set again, it rings once.
	d.set(&alarms[1], time.Now(), time.Second, pids[1], nil)
	if r := nextRung(t, sent, "the alarm set again"); r.pid != pids[1] {
		t.Fatalf("deadline of %s rang, want %s", r.pid.Id, pids[1].Id)
	}
	select {
	case r := <-sent:
		t.Fatalf("deadline of %s rang once more", r.pid.Id)
	default:
	}
}

// TestDeadlinesStop: a stopped clock drops its alarms and takes no more.
func TestDeadlinesStop(t *testing.T) {
	d, sent := testDeadlines()
	var a, b alarm
	d.set(&a, time.Now().Add(time.Hour), time.Hour, pa.NewPID("a", "1"), nil)
	d.stop()
	d.set(&b, time.Now(), time.Hour, pa.NewPID("a", "2"), nil)
	d.cancel(&a) // after stop: a no-op, not a panic
	if a.in != nil || b.in != nil || d.count != 0 || len(d.lanes) != 0 {
		t.Fatalf("after stop: alarms in lanes %p and %p, %d set in %d lanes; want none", a.in, b.in, d.count, len(d.lanes))
	}
	select {
	case r := <-sent:
		t.Fatalf("a stopped clock sent the deadline of %s", r.pid.Id)
	default:
	}
}

// TestDeadlinesKeepTheirLanesInOrder: whatever the alarms set, moved and
// cancelled, in whatever order of time and over whatever spans, every lane
// is a well-linked list in order of time holding exactly the alarms set
// with its span, the count is the number set, no empty lane is kept but
// the last one set in, and the earliest alarm of all is at a lane's head.
func TestDeadlinesKeepTheirLanesInOrder(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		d, _ := testDeadlines()
		defer d.stop()
		// Far in the future: nothing rings while the test runs.
		base := time.Now().Add(time.Hour)
		alarms := make([]alarm, rapid.IntRange(1, 12).Draw(rt, "alarms"))
		spans := make([]time.Duration, len(alarms)) // 0: not set
		for range rapid.IntRange(0, 80).Draw(rt, "steps") {
			i := rapid.IntRange(0, len(alarms)-1).Draw(rt, "alarm")
			if rapid.IntRange(0, 3).Draw(rt, "cancel") == 0 {
				d.cancel(&alarms[i])
				spans[i] = 0
			} else {
				span := time.Duration(rapid.IntRange(1, 3).Draw(rt, "span")) * time.Second
				when := base.Add(time.Duration(rapid.IntRange(0, 20).Draw(rt, "when")) * time.Millisecond)
				d.set(&alarms[i], when, span, pa.NewPID("a", fmt.Sprint(i)), nil)
				spans[i] = span
			}
			if err := d.check(alarms, spans); err != nil {
				rt.Fatal(err)
			}
		}
	})
}

// check returns what is wrong with d, in which alarms[i] is set with
// spans[i], or not set if that is 0.
func (d *deadlines) check(alarms []alarm, spans []time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	linked := map[*alarm]bool{}
	var earliest *alarm
	for span, l := range d.lanes {
		if l.span != span {
			return fmt.Errorf("lane of %v kept under %v", l.span, span)
		}
		if l.head == nil && l != d.last {
			return fmt.Errorf("empty lane of %v kept; the last set in is %v", span, d.last.span)
		}
		var prev *alarm
		for a := l.head; a != nil; prev, a = a, a.next {
			switch {
			case a.in != l:
				return fmt.Errorf("an alarm in the lane of %v says it is in %p", span, a.in)
			case a.prev != prev:
				return fmt.Errorf("lane of %v: an alarm's prev is not the alarm before it", span)
			case prev != nil && a.when.Before(prev.when):
				return fmt.Errorf("lane of %v: an alarm at %v after one at %v", span, a.when, prev.when)
			}
			linked[a] = true
		}
		if l.tail != prev {
			return fmt.Errorf("lane of %v: the tail is not its last alarm", span)
		}
		if l.head != nil && (earliest == nil || l.head.when.Before(earliest.when)) {
			earliest = l.head
		}
	}
	if len(linked) != d.count {
		return fmt.Errorf("%d alarms linked, count %d", len(linked), d.count)
	}
	for i := range alarms {
		a := &alarms[i]
		switch set := spans[i] != 0; {
		case set != linked[a]:
			return fmt.Errorf("alarm %d: set %v, linked %v", i, set, linked[a])
		case set && a.in.span != spans[i]:
			return fmt.Errorf("alarm %d set with span %v is in the lane of %v", i, spans[i], a.in.span)
		case !set && (a.in != nil || a.prev != nil || a.next != nil):
			return fmt.Errorf("alarm %d is not set but keeps its links", i)
		}
	}
	if earliest != nil && d.next.After(earliest.when) {
		return fmt.Errorf("the timer is set for %v, after the earliest alarm at %v", d.next, earliest.when)
	}
	return nil
}
