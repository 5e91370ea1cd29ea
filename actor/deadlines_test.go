package actor

import (
	"fmt"
	"strings"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/types/known/durationpb"
	"pgregory.net/rapid"
)

// rung is one deadline sent by a test's clock.
type rung struct {
	pid *pa.PID
	at  time.Time
}

func testDeadlines() (*clock, chan rung) {
	sent := make(chan rung, 100)
	d := &clock{send: func(pid *pa.PID, _ *deadline) { sent <- rung{pid, time.Now()} }}
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
	d.set(&alarms[2], start.Add(30*time.Millisecond), time.Second, pids[2], deadline{})
	d.set(&alarms[0], start.Add(10*time.Millisecond), time.Second, pids[0], deadline{})
	d.set(&alarms[3], start.Add(60*time.Millisecond), 2*time.Second, pids[3], deadline{})
	d.set(&alarms[1], start.Add(20*time.Millisecond), 3*time.Second, pids[1], deadline{})
	d.cancel(&alarms[1])
	d.set(&alarms[3], start.Add(25*time.Millisecond), 4*time.Second, pids[3], deadline{})
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
	left := d.linkedLocked()
	d.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d alarms left after every set one rang", left)
	}
	// The cancelled alarm: set again, it rings once.
	d.set(&alarms[1], time.Now(), time.Second, pids[1], deadline{})
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
	d.set(&a, time.Now().Add(time.Hour), time.Hour, pa.NewPID("a", "1"), deadline{})
	d.stop()
	d.set(&b, time.Now(), time.Hour, pa.NewPID("a", "2"), deadline{})
	d.cancel(&a) // after stop: a no-op, not a panic
	if a.in != nil || b.in != nil || len(d.lanes) != 0 {
		t.Fatalf("after stop: alarms in lanes %p and %p, %d lanes kept; want none", a.in, b.in, len(d.lanes))
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
// with its span, no empty lane is kept but
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
				d.set(&alarms[i], when, span, pa.NewPID("a", fmt.Sprint(i)), deadline{})
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
func (d *clock) check(alarms []alarm, spans []time.Duration) error {
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

// never is a behaviour that never reaches its stable state: its updates
// wait in preparation until their deadline.
type never struct{}

func (*never) Stable() bool         { return false }
func (*never) Receive(_ pa.Context) {}

// TestDeadlineOfAnEarlierUpdateIsIgnored: an Update serves one update after
// another (protocol.Release), so a deadline message names its update by
// pointer and epoch; one that names the same pointer with an earlier
// epoch, as a deadline of an update that has ended does, leaves the update
// in progress alone, and the current epoch's deadline aborts it.
func TestDeadlineOfAnEarlierUpdateIsIgnored(t *testing.T) {
	cat := registry.New()
	for _, err := range []error{
		registry.Register(cat, "never", 1, func() *never { return &never{} }),
		registry.Register(cat, "never", 2, func() *never { return &never{} }),
		registry.Migrate(cat, "never", 1, 2, func(o *never) (*never, error) { return &never{}, nil }),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	node := NewNode(cat)
	defer node.Shutdown()
	pid, err := node.Spawn("never", 1)
	if err != nil {
		t.Fatal(err)
	}
	root := node.system.Root
	// Sent from this goroutine, the update and the CommitUpdates after it
	// keep their order in the control lane; each refusal of a CommitUpdate
	// tells whether the update is still in progress.
	result := root.RequestFuture(pid, &update.UpdateActor{ToVersion: 2, UpdateId: "u1", Deadline: durationpb.New(time.Minute)}, 20*time.Second)
	inProgress := func(after string) {
		t.Helper()
		reply, err := root.RequestFuture(pid, &update.CommitUpdate{UpdateId: "u1"}, 10*time.Second).Result()
		if err != nil {
			t.Fatalf("%s: no answer to a CommitUpdate: %v", after, err)
		}
		if r, _ := reply.(*update.UpdateResult); !strings.Contains(r.GetReason(), "not staged yet") {
			t.Fatalf("%s: a CommitUpdate was answered %v, want a refusal saying the update is not staged yet (still in progress)", after, reply)
		}
	}
	inProgress("after the update was sent")
	// In progress, the update has its deadline set: the only alarm.
	var armed deadline
	for _, c := range node.deadlines.clocks {
		c.mu.Lock()
		for _, l := range c.lanes {
			if l.head != nil {
				armed = l.head.m
			}
		}
		c.mu.Unlock()
	}
	if armed.u == nil {
		t.Fatal("the update is in preparation but no deadline is set")
	}
	root.Send(pid, &deadline{armed.u, armed.epoch - 1})
	inProgress("after a deadline of an earlier epoch")
	root.Send(pid, &deadline{armed.u, armed.epoch})
	reply, err := result.Result()
	if err != nil {
		t.Fatalf("the update did not end after its own deadline: %v", err)
	}
	if res, _ := reply.(*update.UpdateResult); res.GetOutcome() != update.Outcome_OUTCOME_ABORTED || !strings.Contains(res.GetReason(), "deadline") {
		t.Fatalf("after its own deadline, the update ended %v, want aborted for its deadline", reply)
	}
}

// linkedLocked counts the alarms linked in d's lanes; d.mu is held.
func (d *clock) linkedLocked() int {
	n := 0
	for _, l := range d.lanes {
		for a := l.head; a != nil; a = a.next {
			n++
		}
	}
	return n
}

// TestAlarmMovesBetweenClocks asserts that an alarm set again from another
// P leaves the clock it was on: it is linked on one clock at most, and only
// that clock rings it.
func TestAlarmMovesBetweenClocks(t *testing.T) {
	first, firstSent := testDeadlines()
	second, secondSent := testDeadlines()
	d := &deadlines{clocks: []*clock{first, second}}
	defer d.stop()
	pid := pa.NewPID("nonhost", "mover")
	var a alarm
	setOn(first, &a, time.Now().Add(time.Hour), time.Hour, pid, deadline{})
	setOn(second, &a, time.Now().Add(time.Millisecond), time.Millisecond, pid, deadline{})
	first.mu.Lock()
	left := first.linkedLocked()
	first.mu.Unlock()
	if left != 0 {
		t.Fatalf("the alarm set again on the second clock is still linked on the first (%d alarms there)", left)
	}
	if got := nextRung(t, secondSent, "the alarm moved to the second clock"); got.pid != pid {
		t.Fatalf("the second clock rang %v, want %v", got.pid, pid)
	}
	// Set again on the first clock, then cancelled through the node's
	// deadlines: neither clock keeps it.
	setOn(first, &a, time.Now().Add(time.Hour), time.Hour, pid, deadline{})
	d.cancel(&a)
	for i, c := range d.clocks {
		c.mu.Lock()
		n := c.linkedLocked()
		c.mu.Unlock()
		if n != 0 {
			t.Errorf("clock %d keeps %d alarms after cancel", i, n)
		}
	}
	select {
	case r := <-firstSent:
		t.Fatalf("the first clock rang %v for an alarm that had moved off it", r.pid)
	default:
	}
}
