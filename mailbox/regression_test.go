package mailbox_test

// Regression tests for bugs found in review; each failed before its fix.

import (
	"runtime"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/mailbox"
)

// A Filter that panics must not lose the message it was examining: the
// message stays parked and EscalateFailure gets it.
func TestFilterPanicKeepsMessage(t *testing.T) {
	mb, rec := newSync()
	mb.PostUserMessage(&ctl{name: "hold", run: func() {
		mb.Hold(func(m any) bool {
			if m == "bad" {
				panic("filter failed")
			}
			return false
		})
	}})
	mb.PostUserMessage("bad")
	mb.PostUserMessage(&ctl{name: "release", run: mb.Release})
	mb.PostUserMessage("after")
	expectLog(t, rec.delivered(), "hold", "release", "bad", "after") // got [hold release after]
	if rec.escalated[0].message != "bad" {
		t.Fatalf("escalated with message %v, want the message the filter panicked on", rec.escalated[0].message)
	}
}

// The parking area must not keep every slot ever used when an actor holds
// again before the released messages have drained (an update arriving on
// the control lane while held messages are delivered). One or two messages
// are parked at any time; 1M cycles used to retain about 17 MB.
func TestParkingAreaStaysBounded(t *testing.T) {
	mb := mailbox.New()
	inv := &runInv{}
	mb.RegisterHandlers(inv, actor.NewSynchronizedDispatcher(300))
	release := &ctl{name: "release", run: mb.Release}
	rehold := &cmd{name: "rehold", run: func() { mb.Hold(nil) }}
	mb.PostUserMessage(&ctl{name: "hold", run: func() { mb.Hold(nil) }})
	mb.PostUserMessage(rehold)
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	for range 1_000_000 {
		mb.PostUserMessage(rehold)  // parked
		mb.PostUserMessage(release) // delivers the oldest parked rehold, which holds again
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if grew := int64(ms.HeapAlloc) - int64(before); grew > 1<<20 {
		t.Fatalf("heap grew by %d KB with at most 2 messages parked", grew/1024)
	}
	runtime.KeepAlive(mb)
}

type runInv struct{}

func (runInv) InvokeSystemMessage(any) {}
func (runInv) InvokeUserMessage(m any) {
	switch m := m.(type) {
	case *ctl:
		m.run()
	case *cmd:
		m.run()
	}
}
func (runInv) EscalateFailure(reason, _ any) { panic(reason) }

// Release (or Defer) followed by a panic in the same Receive must not strand
// the parked messages until something else is posted, even with an invoker
// whose EscalateFailure posts no system message (protoactor's actor context
// does post SuspendMailbox).
func TestReleaseThenPanicDeliversParked(t *testing.T) {
	mb, rec := newSync()
	mb.PostUserMessage(&ctl{name: "hold", run: func() { mb.Hold(nil) }})
	postAll(mb, "p1", "p2")
	mb.PostUserMessage(&ctl{name: "release", run: func() { mb.Release(); panic("after release") }})
	expectLog(t, rec.delivered(), "hold", "release", "p1", "p2") // got [hold release], Counts {Held:2}
}

// A strict hold (no filter) parks the system messages that run behaviour
// code (here sys, standing for a ReenterAfter continuation) and delivers
// them first on release; lifecycle system messages go through. While
// holding with a filter they are delivered, and AfterSystem is told.
func TestStrictHoldParksContinuations(t *testing.T) {
	mb, rec := newSync()
	after := 0
	mb.AfterSystem(func() { after++ })
	mb.PostUserMessage(&ctl{name: "hold", run: func() { mb.Hold(nil) }})
	mb.PostSystemMessage(sys("continuation"))
	mb.PostSystemMessage(&actor.Started{})
	mb.PostUserMessage("user")
	mb.PostUserMessage(&ctl{name: "release", run: mb.Release})
	expectLog(t, rec.delivered(), "hold", "sys:&{}", "release", "sys:continuation", "user")
	if after != 0 {
		t.Errorf("AfterSystem was called %d times; a strict hold runs no continuation", after)
	}

	mb.PostUserMessage(&ctl{name: "filter", run: func() { mb.Hold(func(any) bool { return false }) }})
	mb.PostSystemMessage(sys("during"))
	mb.PostUserMessage(&ctl{name: "release2", run: mb.Release})
	expectLog(t, rec.delivered()[5:], "filter", "sys:during", "release2")
	if after != 1 {
		t.Errorf("AfterSystem was called %d times, want once, after the continuation delivered while holding", after)
	}
}

// A user message posted after a control message must not be delivered
// before it. The consumer looked at the control lane, found it empty, and
// then took the user lane's messages: a control message and a user message
// posted in that window were delivered user first. An update sent before a
// message then did not hold it: TestDeadlineReleasesNeverStableActor and
// TestPanicWhileDrainingAbortsAndRestarts failed once in a few dozen
// loaded runs, each posting an update and a message just as the actor
// finished its first one. Each round does that on a fresh mailbox (whose
// control lane is made by the first control message): the sender waits
// until the first message is being delivered, then posts a control
// message and a user message, which must be delivered in that order.
func TestUserMessagePostedAfterAControlOneIsNotDeliveredFirst(t *testing.T) {
	const rounds = 20_000
	for r := range rounds {
		mb := mailbox.New()
		entered := make(chan struct{})
		order := make(chan string, 3)
		inv := &funcInvoker{user: func(m any) {
			switch m := m.(type) {
			case *ctl:
				order <- "control"
			case string:
				if m == "first" {
					close(entered)
				}
				order <- m
			}
		}}
		mb.RegisterHandlers(inv, actor.NewDefaultDispatcher(300))
		mb.Start()
		mb.PostUserMessage("first")
		<-entered // the consumer is delivering it, and looks for the next
		mb.PostUserMessage(&ctl{name: "c"})
		mb.PostUserMessage("second")
		var got []string
		for range 3 {
			select {
			case m := <-order:
				got = append(got, m)
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: delivered %v, then nothing for 10s", r, got)
			}
		}
		if got[1] != "control" {
			t.Fatalf("round %d: delivered %v; the control message must come before the user message posted after it", r, got)
		}
	}
}

// funcInvoker hands each user message to a function.
type funcInvoker struct{ user func(any) }

func (funcInvoker) InvokeSystemMessage(any)             {}
func (f *funcInvoker) InvokeUserMessage(m any)          { f.user(m) }
func (funcInvoker) EscalateFailure(reason, message any) { panic(reason) }
