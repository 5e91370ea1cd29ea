package actor

import (
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/internal/protocol"
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
	d.set(&alarms[2], start.Add(30*time.Millisecond), pids[2], nil)
	d.set(&alarms[0], start.Add(10*time.Millisecond), pids[0], nil)
	d.set(&alarms[3], start.Add(60*time.Millisecond), pids[3], nil)
	d.set(&alarms[1], start.Add(20*time.Millisecond), pids[1], nil)
	d.cancel(&alarms[1])
	d.set(&alarms[3], start.Add(25*time.Millisecond), pids[3], nil)
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
	left := len(d.alarms)
	d.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d alarms left after every set one rang", left)
	}
	// The cancelled alarm: set again, it rings once.
	d.set(&alarms[1], time.Now(), pids[1], nil)
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
	d.set(&a, time.Now().Add(time.Hour), pa.NewPID("a", "1"), nil)
	d.stop()
	d.set(&b, time.Now(), pa.NewPID("a", "2"), nil)
	d.cancel(&a) // after stop: a no-op, not a panic
	if a.at != 0 || b.at != 0 || len(d.alarms) != 0 {
		t.Fatalf("after stop: alarms at %d and %d, %d in the heap; want none", a.at, b.at, len(d.alarms))
	}
	select {
	case r := <-sent:
		t.Fatalf("a stopped clock sent the deadline of %s", r.pid.Id)
	default:
	}
}
