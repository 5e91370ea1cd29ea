package mailbox_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/mailbox"
)

// waitLimit bounds every wait in these tests.
const waitLimit = 5 * time.Second

// ctl is a control-lane message. When it is delivered, the recorder calls
// run, if set, on the consumer goroutine.
type ctl struct {
	name string
	run  func()
}

func (*ctl) ControlLane()     {}
func (c *ctl) String() string { return c.name }

// inTurn is a control message that asks to wait its turn when queued is set.
type inTurn struct {
	ctl
	queued bool
}

func (m *inTurn) WaitsItsTurn() bool { return m.queued }

// cmd is a user message that runs a function on the consumer goroutine when
// it is delivered.
type cmd struct {
	name string
	run  func()
}

func (c *cmd) String() string { return c.name }

// boom is a user message whose delivery panics.
type boom string

// sys is a system message other than SuspendMailbox and ResumeMailbox.
type sys string

// batch is an actor.MessageBatch.
type batch struct {
	name     string
	messages []any
}

func (b *batch) GetMessages() []any { return b.messages }
func (b *batch) String() string     { return b.name }

type escalation struct {
	reason  any
	message any
}

// recorder is a fake actor.MessageInvoker: it records what is delivered,
// runs the functions carried by ctl and cmd messages and panics on boom.
type recorder struct {
	mu        sync.Mutex
	log       []string
	escalated []escalation
	changed   chan struct{}
}

func newRecorder() *recorder { return &recorder{changed: make(chan struct{}, 1)} }

func (r *recorder) record(entry string) {
	r.mu.Lock()
	r.log = append(r.log, entry)
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) InvokeSystemMessage(message any) { r.record("sys:" + name(message)) }

func (r *recorder) InvokeUserMessage(message any) {
	r.record(name(message))
	if env, ok := message.(*actor.MessageEnvelope); ok {
		message = env.Message
	}
	switch m := message.(type) {
	case *ctl:
		if m.run != nil {
			m.run()
		}
	case *cmd:
		if m.run != nil {
			m.run()
		}
	case boom:
		panic("boom: " + string(m))
	}
}

func (r *recorder) EscalateFailure(reason, message any) {
	r.mu.Lock()
	r.escalated = append(r.escalated, escalation{reason, message})
	r.mu.Unlock()
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// delivered returns a copy of what was delivered so far.
func (r *recorder) delivered() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

// waitFor waits until n messages have been delivered and returns them.
func (r *recorder) waitFor(t *testing.T, n int) []string {
	t.Helper()
	limit := time.After(waitLimit)
	for {
		if got := r.delivered(); len(got) >= n {
			return got
		}
		select {
		case <-r.changed:
		case <-limit:
			got := r.delivered()
			t.Fatalf("only %d of %d messages were delivered within %v: %v", len(got), n, waitLimit, got)
		}
	}
}

// name is how a message appears in a recorder's log.
func name(message any) string {
	switch m := message.(type) {
	case *actor.MessageEnvelope:
		return "env(" + name(m.Message) + ")"
	case *actor.SuspendMailbox:
		return "suspend"
	case *actor.ResumeMailbox:
		return "resume"
	}
	return fmt.Sprint(message)
}

// newSync returns a started mailbox on a synchronized dispatcher: a post
// returns once everything deliverable has been delivered, so a test can
// check what was not delivered without waiting.
func newSync(middlewares ...actor.MailboxMiddleware) (*mailbox.Mailbox, *recorder) {
	mb, rec := mailbox.New(middlewares...), newRecorder()
	mb.RegisterHandlers(rec, actor.NewSynchronizedDispatcher(300))
	mb.Start()
	return mb, rec
}

// newAsync returns a started mailbox on protoactor's default dispatcher.
func newAsync(throughput int) (*mailbox.Mailbox, *recorder) {
	mb, rec := mailbox.New(), newRecorder()
	mb.RegisterHandlers(rec, actor.NewDefaultDispatcher(throughput))
	mb.Start()
	return mb, rec
}

func postAll(mb actor.Mailbox, messages ...any) {
	for _, m := range messages {
		mb.PostUserMessage(m)
	}
}

func expectLog(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %v, want %v", got, want)
	}
}

func expectCounts(t *testing.T, mb *mailbox.Mailbox, want mailbox.Counts) {
	t.Helper()
	if got := mb.Counts(); got != want {
		t.Fatalf("Counts() = %+v, want %+v", got, want)
	}
}

// suspended queues messages behind a SuspendMailbox and resumes, so that
// they are all waiting when the mailbox runs again.
func suspended(mb *mailbox.Mailbox, post func()) {
	mb.PostSystemMessage(&actor.SuspendMailbox{})
	post()
	mb.PostSystemMessage(&actor.ResumeMailbox{})
}

// gate returns a user message that blocks the consumer until open is
// called, and a channel closed once the consumer is inside it.
func gate() (msg *cmd, entered <-chan struct{}, open func()) {
	in, release := make(chan struct{}), make(chan struct{})
	msg = &cmd{name: "gate", run: func() {
		close(in)
		<-release
	}}
	return msg, in, sync.OnceFunc(func() { close(release) })
}

func waitClosed(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(waitLimit):
		t.Fatalf("%s did not happen within %v", what, waitLimit)
	}
}

func TestSystemMessagesFirst(t *testing.T) {
	mb, rec := newAsync(300)
	g, entered, open := gate()
	defer open()
	mb.PostUserMessage(g)
	waitClosed(t, entered, "delivery of the gate message")

	postAll(mb, "u1", "u2")
	mb.PostSystemMessage(sys("s1"))
	mb.PostUserMessage("u3")
	mb.PostSystemMessage(sys("s2"))
	open()

	expectLog(t, rec.waitFor(t, 6), "gate", "sys:s1", "sys:s2", "u1", "u2", "u3")
}

// TestStartedComesFirst: protoactor posts Started at spawn, before any
// other system message; the mailbox keeps it apart from the system lane
// and must still deliver it before everything posted after it, and count
// it as waiting until then.
func TestStartedComesFirst(t *testing.T) {
	mb, rec := newAsync(300)
	g, entered, open := gate()
	defer open()
	mb.PostUserMessage(g)
	waitClosed(t, entered, "delivery of the gate message")

	postAll(mb, "u1")
	mb.PostSystemMessage(&actor.Started{})
	mb.PostUserMessage(&ctl{name: "c1"})
	mb.PostSystemMessage(sys("s1"))
	mb.PostSystemMessage(&actor.Started{}) // a second one queues as any system message
	if got := mb.Counts().Control; got != 1 {
		t.Fatalf("Counts().Control = %d with one control message waiting, want 1", got)
	}
	open()

	expectLog(t, rec.waitFor(t, 6), "gate", "sys:&{}", "sys:s1", "sys:&{}", "c1", "u1")
	expectCounts(t, mb, mailbox.Counts{})
}

func TestSuspendStopsUserMessagesNotSystemOnes(t *testing.T) {
	mb, rec := newSync()
	mb.PostSystemMessage(&actor.SuspendMailbox{})
	mb.PostUserMessage("u1")
	mb.PostUserMessage(&ctl{name: "c1"})
	expectLog(t, rec.delivered()) // nothing while suspended
	if n := mb.UserMessageCount(); n != 1 {
		t.Fatalf("UserMessageCount() while suspended = %d, want 1", n)
	}

	mb.PostSystemMessage(sys("s1"))
	expectLog(t, rec.delivered(), "sys:s1")

	mb.PostSystemMessage(&actor.ResumeMailbox{})
	// SuspendMailbox and ResumeMailbox are the mailbox's own: the invoker
	// never sees them.
	expectLog(t, rec.delivered(), "sys:s1", "c1", "u1")
	expectCounts(t, mb, mailbox.Counts{})
}

func TestSuspendResumeAsync(t *testing.T) {
	mb, rec := newAsync(300)
	g, entered, open := gate()
	defer open()
	mb.PostUserMessage(g)
	waitClosed(t, entered, "delivery of the gate message")

	mb.PostSystemMessage(&actor.SuspendMailbox{})
	postAll(mb, "u1", "u2")
	mb.PostSystemMessage(sys("s1"))
	open()
	rec.waitFor(t, 2)

	mb.PostSystemMessage(&actor.ResumeMailbox{})
	expectLog(t, rec.waitFor(t, 4), "gate", "sys:s1", "u1", "u2")
}

func TestPanicIsEscalatedWithItsMessage(t *testing.T) {
	mb, rec := newSync()
	bad := boom("b1")
	postAll(mb, "u1", bad)

	rec.mu.Lock()
	escalated := slices.Clone(rec.escalated)
	rec.mu.Unlock()
	if len(escalated) != 1 {
		t.Fatalf("EscalateFailure was called %d times, want once", len(escalated))
	}
	if escalated[0].message != any(bad) {
		t.Errorf("EscalateFailure got message %v, want %v", escalated[0].message, bad)
	}
	if escalated[0].reason != "boom: b1" {
		t.Errorf("EscalateFailure got reason %v, want the panic value %q", escalated[0].reason, "boom: b1")
	}

	// The mailbox keeps working after a panic.
	mb.PostUserMessage("u2")
	expectLog(t, rec.delivered(), "u1", "b1", "u2")
}

func TestPanicOfAControlMessageIsEscalated(t *testing.T) {
	mb, rec := newSync()
	c := &ctl{name: "c1", run: func() { panic("control failed") }}
	mb.PostUserMessage(c)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.escalated) != 1 || rec.escalated[0].message != any(c) || rec.escalated[0].reason != "control failed" {
		t.Fatalf("escalated %+v, want one failure with the control message", rec.escalated)
	}
}

func TestIsControl(t *testing.T) {
	for _, tc := range []struct {
		msg  any
		want bool
	}{
		{&ctl{}, true},
		{&actor.MessageEnvelope{Message: &ctl{}}, true},
		{"user", false},
		{&actor.MessageEnvelope{Message: "user"}, false},
		{nil, false},
		{&inTurn{}, true},
		{&inTurn{queued: true}, false},
		{&actor.MessageEnvelope{Message: &inTurn{queued: true}}, false},
	} {
		if got := mailbox.IsControl(tc.msg); got != tc.want {
			t.Errorf("IsControl(%s) = %v, want %v", name(tc.msg), got, tc.want)
		}
	}
}

func TestControlOvertakesQueuedUserMessages(t *testing.T) {
	mb, rec := newSync()
	suspended(mb, func() {
		postAll(mb, "u1", "u2", &ctl{name: "c1"}, "u3",
			&actor.MessageEnvelope{Message: &ctl{name: "c2"}}, "u4")
	})
	expectLog(t, rec.delivered(), "c1", "env(c2)", "u1", "u2", "u3", "u4")
}

func TestControlThatWaitsItsTurnKeepsArrivalOrder(t *testing.T) {
	mb, rec := newSync()
	suspended(mb, func() {
		postAll(mb, "u1", &inTurn{ctl: ctl{name: "q1"}, queued: true}, "u2",
			&inTurn{ctl: ctl{name: "c1"}}, "u3")
	})
	expectLog(t, rec.delivered(), "c1", "u1", "q1", "u2", "u3")
}

func TestControlOvertakesQueuedUserMessagesAsync(t *testing.T) {
	mb, rec := newAsync(300)
	g, entered, open := gate()
	defer open()
	mb.PostUserMessage(g)
	waitClosed(t, entered, "delivery of the gate message")
	postAll(mb, "u1", "u2", &ctl{name: "c1"}, "u3")
	open()
	expectLog(t, rec.waitFor(t, 5), "gate", "c1", "u1", "u2", "u3")
}

func TestControlIsDeliveredWhileHolding(t *testing.T) {
	mb, rec := newSync()
	mb.PostUserMessage(&cmd{name: "hold", run: func() { mb.Hold(nil) }})
	postAll(mb, "u1", "u2", &ctl{name: "c1"}, "u3")
	expectLog(t, rec.delivered(), "hold", "c1")
	expectCounts(t, mb, mailbox.Counts{Held: 3})

	mb.PostUserMessage(&ctl{name: "release", run: mb.Release})
	expectLog(t, rec.delivered(), "hold", "c1", "release", "u1", "u2", "u3")
}

func TestHoldingReportsHoldMode(t *testing.T) {
	mb, _ := newSync()
	var states []bool
	probe := func() { states = append(states, mb.Holding()) }
	postAll(mb,
		&cmd{name: "before", run: probe},
		&ctl{name: "hold", run: func() { mb.Hold(nil) }},
		&ctl{name: "during", run: probe},
		&ctl{name: "release", run: mb.Release},
		&cmd{name: "after", run: probe},
	)
	if want := []bool{false, true, false}; !slices.Equal(states, want) {
		t.Fatalf("Holding() reported %v, want %v", states, want)
	}
}

func TestHoldParksInArrivalOrder(t *testing.T) {
	mb, rec := newSync()
	mb.PostUserMessage(&ctl{name: "hold", run: func() { mb.Hold(nil) }})
	var want []string
	for i := range 100 {
		msg := fmt.Sprintf("u%d", i)
		if i%3 == 0 {
			mb.PostUserMessage(&actor.MessageEnvelope{Message: msg})
			msg = "env(" + msg + ")"
		} else {
			mb.PostUserMessage(msg)
		}
		want = append(want, msg)
	}
	expectLog(t, rec.delivered(), "hold")
	expectCounts(t, mb, mailbox.Counts{Held: 100})
	if n := mb.UserMessageCount(); n != 100 {
		t.Fatalf("UserMessageCount() = %d, want the 100 held messages", n)
	}

	mb.PostUserMessage(&ctl{name: "release", run: mb.Release})
	expectLog(t, rec.delivered(), append([]string{"hold", "release"}, want...)...)
	expectCounts(t, mb, mailbox.Counts{})
}

func TestFilterAdmits(t *testing.T) {
	mb, rec := newSync()
	var examined []string
	urgent := func(m any) bool {
		examined = append(examined, name(m))
		if env, ok := m.(*actor.MessageEnvelope); ok {
			m = env.Message
		}
		s, _ := m.(string)
		return strings.HasPrefix(s, "urgent")
	}
	mb.PostUserMessage(&ctl{name: "hold", run: func() { mb.Hold(urgent) }})
	postAll(mb, "a", "urgent1", "b", &actor.MessageEnvelope{Message: "urgent2"}, "c", &ctl{name: "c1"})
	expectLog(t, rec.delivered(), "hold", "urgent1", "env(urgent2)", "c1")
	// The filter sees each user message once, as posted; never a control.
	if want := []string{"a", "urgent1", "b", "env(urgent2)", "c"}; !slices.Equal(examined, want) {
		t.Fatalf("the filter examined %v, want %v", examined, want)
	}
	expectCounts(t, mb, mailbox.Counts{Held: 3})

	mb.PostUserMessage(&ctl{name: "release", run: mb.Release})
	expectLog(t, rec.delivered(), "hold", "urgent1", "env(urgent2)", "c1", "release", "a", "b", "c")
}

func TestHoldAgainReplacesTheFilterAndKeepsParked(t *testing.T) {
	mb, rec := newSync()
	only := func(want string) mailbox.Filter { return func(m any) bool { return m == want } }
	mb.PostUserMessage(&ctl{name: "hold", run: func() { mb.Hold(only("a")) }})
	postAll(mb, "a", "b")
	mb.PostUserMessage(&ctl{name: "rehold", run: func() { mb.Hold(only("b")) }})
	postAll(mb, "a", "b") // b was parked under the first filter and stays parked
	expectLog(t, rec.delivered(), "hold", "a", "rehold", "b")

	mb.PostUserMessage(&ctl{name: "release", run: mb.Release})
	expectLog(t, rec.delivered(), "hold", "a", "rehold", "b", "release", "b", "a")
}

func TestReleaseDeliversParkedBeforeNewerQueued(t *testing.T) {
	mb, rec := newSync()
	mb.PostUserMessage(&ctl{name: "hold", run: func() { mb.Hold(nil) }})
	postAll(mb, "p1", "p2")
	suspended(mb, func() {
		postAll(mb, "q1", "q2", &ctl{name: "release", run: mb.Release}, "q3")
		expectCounts(t, mb, mailbox.Counts{Queued: 3, Held: 2, Control: 1})
	})
	expectLog(t, rec.delivered(), "hold", "release", "p1", "p2", "q1", "q2", "q3")
}

func TestReleaseFromAnAdmittedMessage(t *testing.T) {
	mb, rec := newSync()
	mb.PostUserMessage(&ctl{name: "hold", run: func() {
		mb.Hold(func(m any) bool { _, ok := m.(*cmd); return ok })
	}})
	postAll(mb, "p1", "p2")
	suspended(mb, func() {
		postAll(mb, &cmd{name: "release", run: mb.Release}, "q1", "q2")
	})
	expectLog(t, rec.delivered(), "hold", "release", "p1", "p2", "q1", "q2")
}

func TestReleaseAsync(t *testing.T) {
	mb, rec := newAsync(3)
	mb.PostUserMessage(&ctl{name: "hold", run: func() { mb.Hold(nil) }})
	var want []string
	for i := range 50 {
		want = append(want, fmt.Sprint(i))
		mb.PostUserMessage(want[i])
	}
	rec.waitFor(t, 1)
	mb.PostUserMessage(&ctl{name: "release", run: mb.Release})
	for i := 50; i < 100; i++ {
		want = append(want, fmt.Sprint(i))
		mb.PostUserMessage(want[i])
	}
	got := rec.waitFor(t, 102)
	// Whatever was parked when the release arrived comes out first, then
	// the rest: every message once, in posting order.
	var users []string
	for _, s := range got {
		if s != "hold" && s != "release" {
			users = append(users, s)
		}
	}
	if !slices.Equal(users, want) {
		t.Fatalf("user messages delivered as %v, want %v", users, want)
	}
	if got[0] != "hold" {
		t.Fatalf("first delivery %q, want the hold control message", got[0])
	}
}

func TestControlOvertakesReleasedMessages(t *testing.T) {
	mb, rec := newSync()
	mb.PostUserMessage(&ctl{name: "hold", run: func() { mb.Hold(nil) }})
	postAll(mb,
		// Posted from inside Receive, c1 waits until p1 has been handled.
		&cmd{name: "p1", run: func() { mb.PostUserMessage(&ctl{name: "c1"}) }},
		"p2")
	mb.PostUserMessage(&ctl{name: "release", run: mb.Release})
	expectLog(t, rec.delivered(), "hold", "release", "p1", "c1", "p2")
}

func TestDeferWhileHolding(t *testing.T) {
	mb, rec := newSync()
	mb.PostUserMessage(&ctl{name: "hold", run: func() { mb.Hold(nil) }})
	postAll(mb, "p1", "p2")
	mb.PostUserMessage(&ctl{name: "defer", run: func() { mb.Defer("deferred") }})
	mb.PostUserMessage("p3")
	expectCounts(t, mb, mailbox.Counts{Held: 4})
	if n := mb.UserMessageCount(); n != 4 {
		t.Fatalf("UserMessageCount() = %d, want 4 (3 parked and 1 deferred)", n)
	}

	mb.PostUserMessage(&ctl{name: "release", run: mb.Release})
	expectLog(t, rec.delivered(), "hold", "defer", "release", "p1", "p2", "deferred", "p3")
	expectCounts(t, mb, mailbox.Counts{})
}

func TestDeferWithoutHoldComesBeforeQueued(t *testing.T) {
	mb, rec := newSync()
	suspended(mb, func() {
		postAll(mb, &cmd{name: "u1", run: func() {
			mb.Defer("d1")
			mb.Defer("d2")
		}}, "u2", "u3")
	})
	expectLog(t, rec.delivered(), "u1", "d1", "d2", "u2", "u3")
}

func TestDeferIsOvertakenByControl(t *testing.T) {
	mb, rec := newSync()
	suspended(mb, func() {
		postAll(mb, &cmd{name: "u1", run: func() { mb.Defer("d1") }}, "u2", &ctl{name: "c1"})
	})
	// c1 was queued before u1 ran: the control lane still comes first.
	expectLog(t, rec.delivered(), "c1", "u1", "d1", "u2")
}

func TestDeferredMessageIsNotFiltered(t *testing.T) {
	mb, rec := newSync()
	all := func(any) bool { return true }
	mb.PostUserMessage(&ctl{name: "hold", run: func() {
		mb.Hold(all)
		mb.Defer("d1")
	}})
	postAll(mb, "u1")
	// The filter admits everything queued, but a deferred message waits for
	// the release.
	expectLog(t, rec.delivered(), "hold", "u1")
	expectCounts(t, mb, mailbox.Counts{Held: 1})
	mb.PostUserMessage(&ctl{name: "release", run: mb.Release})
	expectLog(t, rec.delivered(), "hold", "u1", "release", "d1")
}

func TestCounts(t *testing.T) {
	mb, _ := newSync()
	expectCounts(t, mb, mailbox.Counts{})
	mb.PostUserMessage(&ctl{name: "hold", run: func() { mb.Hold(nil) }})

	mb.PostSystemMessage(&actor.SuspendMailbox{})
	postAll(mb, "u1", "u2", "u3", &ctl{name: "c1"}, &actor.MessageEnvelope{Message: &ctl{name: "c2"}})
	mb.PostSystemMessage(sys("s1")) // system messages are not counted
	expectCounts(t, mb, mailbox.Counts{Queued: 3, Control: 2})
	if n := mb.UserMessageCount(); n != 3 {
		t.Fatalf("UserMessageCount() = %d, want 3", n)
	}

	mb.PostSystemMessage(&actor.ResumeMailbox{})
	expectCounts(t, mb, mailbox.Counts{Held: 3})
	if n := mb.UserMessageCount(); n != 3 {
		t.Fatalf("UserMessageCount() = %d, want the 3 held messages", n)
	}

	mb.PostUserMessage(&ctl{name: "release", run: mb.Release})
	expectCounts(t, mb, mailbox.Counts{})
	if n := mb.UserMessageCount(); n != 0 {
		t.Fatalf("UserMessageCount() = %d after release, want 0", n)
	}
}

func TestCountsSeenFromTheConsumer(t *testing.T) {
	mb, _ := newSync()
	var seen []mailbox.Counts
	probe := func() { seen = append(seen, mb.Counts()) }
	mb.PostUserMessage(&ctl{name: "hold", run: func() { mb.Hold(nil) }})
	postAll(mb, "p1", "p2")
	suspended(mb, func() {
		postAll(mb, "q1", &ctl{name: "probe", run: probe}, &ctl{name: "release", run: mb.Release})
	})
	// While the probe runs, it has been taken off the control lane and the
	// release has not.
	if want := []mailbox.Counts{{Queued: 1, Held: 2, Control: 1}}; !slices.Equal(seen, want) {
		t.Fatalf("Counts() inside Receive = %+v, want %+v", seen, want)
	}
}

// TestMessageBatchLikeProtoactor posts the same messages to protoactor's
// default mailbox and to ours and expects the same deliveries.
func TestMessageBatchLikeProtoactor(t *testing.T) {
	posts := []any{
		"u1",
		&batch{name: "batch1", messages: []any{"b1", "b2"}},
		&actor.MessageEnvelope{Message: &batch{name: "batch2", messages: []any{"b3", &actor.MessageEnvelope{Message: "b4"}}}},
		&batch{name: "empty"},
		"u2",
	}
	run := func(mb actor.Mailbox) []string {
		rec := newRecorder()
		mb.RegisterHandlers(rec, actor.NewSynchronizedDispatcher(300))
		mb.Start()
		suspendedAny(mb, func() { postAll(mb, posts...) })
		return rec.delivered()
	}
	want := run(actor.Unbounded()())
	got := run(mailbox.New())
	expectLog(t, got, want...)
	// And what protoactor does, spelled out: each message of the batch, then
	// the batch itself.
	expectLog(t, want, "u1", "b1", "b2", "batch1", "b3", "env(b4)", "env(batch2)", "empty", "u2")
}

func TestMessageBatchOfControlMessages(t *testing.T) {
	mb, rec := newSync()
	suspended(mb, func() {
		postAll(mb, "u1", &batch{name: "batch", messages: []any{"b1", &ctl{name: "c1"}}})
	})
	// The control message in the batch takes the control lane; the batch
	// itself is a user message.
	expectLog(t, rec.delivered(), "c1", "u1", "b1", "batch")
}

func suspendedAny(mb actor.Mailbox, post func()) {
	mb.PostSystemMessage(&actor.SuspendMailbox{})
	post()
	mb.PostSystemMessage(&actor.ResumeMailbox{})
}

// TestThroughputYieldLosesNothing posts from several goroutines to mailboxes
// whose dispatcher yields after every message, or after a few, and checks
// that every message arrives once, in each sender's order.
func TestThroughputYieldLosesNothing(t *testing.T) {
	const senders, each = 4, 5000
	for _, tc := range []struct {
		name       string
		dispatcher actor.Dispatcher
	}{
		{"default/1", actor.NewDefaultDispatcher(1)},
		{"default/7", actor.NewDefaultDispatcher(7)},
		{"default/300", actor.NewDefaultDispatcher(300)},
		{"synchronized/1", actor.NewSynchronizedDispatcher(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mb := mailbox.New()
			inv := &counter{target: senders * each, done: make(chan struct{})}
			inv.next = make([]int, senders)
			mb.RegisterHandlers(inv, tc.dispatcher)
			mb.Start()
			var wg sync.WaitGroup
			for s := range senders {
				wg.Go(func() {
					for i := range each {
						mb.PostUserMessage(seqMsg{s, i})
					}
				})
			}
			wg.Wait()
			select {
			case <-inv.done:
			case <-time.After(waitLimit):
				inv.mu.Lock()
				defer inv.mu.Unlock()
				t.Fatalf("%d of %d messages delivered within %v; Counts() = %+v", inv.n, inv.target, waitLimit, mb.Counts())
			}
			inv.mu.Lock()
			defer inv.mu.Unlock()
			if inv.err != nil {
				t.Fatal(inv.err)
			}
			expectCounts(t, mb, mailbox.Counts{})
		})
	}
}

// TestPingPongLosesNoWakeup posts each message as soon as the previous one
// has been handed to the invoker, so that posts keep landing while the
// consumer is finishing its run and about to go idle.
func TestPingPongLosesNoWakeup(t *testing.T) {
	const rounds = 20000
	mb := mailbox.New()
	inv := &pinger{got: make(chan int, 1)}
	mb.RegisterHandlers(inv, actor.NewDefaultDispatcher(300))
	mb.Start()
	limit := time.After(waitLimit)
	for i := range rounds {
		mb.PostUserMessage(i)
		select {
		case n := <-inv.got:
			if n != i {
				t.Fatalf("round %d: message %d delivered", i, n)
			}
		case <-limit:
			t.Fatalf("message %d of %d was not delivered within %v; Counts() = %+v", i, rounds, waitLimit, mb.Counts())
		}
	}
}

type pinger struct{ got chan int }

func (p *pinger) InvokeSystemMessage(any)       {}
func (p *pinger) InvokeUserMessage(m any)       { p.got <- m.(int) }
func (p *pinger) EscalateFailure(reason, _ any) { panic(reason) }

type seqMsg struct{ sender, seq int }

// counter is an invoker that checks that each sender's messages arrive once
// and in order, and closes done after target messages.
type counter struct {
	mu     sync.Mutex
	next   []int
	n      int
	target int
	err    error
	done   chan struct{}
}

func (c *counter) InvokeSystemMessage(any) {}
func (c *counter) InvokeUserMessage(message any) {
	m := message.(seqMsg)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && m.seq != c.next[m.sender] {
		c.err = fmt.Errorf("sender %d: got message %d, want %d", m.sender, m.seq, c.next[m.sender])
	}
	c.next[m.sender] = m.seq + 1
	if c.n++; c.n == c.target {
		close(c.done)
	}
}
func (c *counter) EscalateFailure(reason, message any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = fmt.Errorf("unexpected failure %v on %v", reason, message)
	}
}

// events is a MailboxMiddleware that records its callbacks.
type events struct {
	mu  sync.Mutex
	log []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	e.log = append(e.log, s)
	e.mu.Unlock()
}
func (e *events) MailboxStarted()             { e.add("started") }
func (e *events) MessagePosted(message any)   { e.add("posted:" + name(message)) }
func (e *events) MessageReceived(message any) { e.add("received:" + name(message)) }
func (e *events) MailboxEmpty()               { e.add("empty") }
func (e *events) get() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.log)
}

// TestMiddlewareLikeProtoactor drives protoactor's default mailbox and ours
// through the same posts and expects the same middleware callbacks, in the
// same order.
func TestMiddlewareLikeProtoactor(t *testing.T) {
	run := func(producer func(...actor.MailboxMiddleware) actor.MailboxProducer) []string {
		ev := &events{}
		mb := producer(ev, ev)() // two middlewares: each callback twice
		mb.RegisterHandlers(newRecorder(), actor.NewSynchronizedDispatcher(300))
		mb.Start()
		mb.PostUserMessage("u1")
		mb.PostSystemMessage(sys("s1"))
		mb.PostUserMessage(&batch{name: "batch", messages: []any{"b1"}})
		mb.PostSystemMessage(&actor.SuspendMailbox{})
		mb.PostUserMessage("u2")
		mb.PostSystemMessage(sys("s2"))
		mb.PostSystemMessage(&actor.ResumeMailbox{})
		mb.PostUserMessage(boom("b"))
		mb.PostUserMessage("u3")
		return ev.get()
	}
	want := run(actor.Unbounded)
	got := run(func(mw ...actor.MailboxMiddleware) actor.MailboxProducer { return mailbox.Producer(mw...) })
	if !slices.Equal(got, want) {
		t.Fatalf("middleware callbacks\n got %v\nwant %v", got, want)
	}
}

func TestMiddlewareSeesHeldMessagesOnce(t *testing.T) {
	ev := &events{}
	mb, _ := newSync(ev)
	mb.PostUserMessage(&ctl{name: "hold", run: func() { mb.Hold(nil) }})
	postAll(mb, "p1", "p2")
	mb.PostUserMessage(&ctl{name: "release", run: mb.Release})

	var got []string
	for _, e := range ev.get() {
		if strings.HasPrefix(e, "posted:") || strings.HasPrefix(e, "received:") {
			got = append(got, e)
		}
	}
	want := []string{
		"posted:hold", "received:hold",
		"posted:p1", "posted:p2",
		"posted:release", "received:release", "received:p1", "received:p2",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("middleware callbacks %v, want %v", got, want)
	}
	if started := ev.get()[0]; started != "started" {
		t.Fatalf("first callback %q, want MailboxStarted", started)
	}
}
