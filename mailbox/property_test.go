package mailbox_test

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/mailbox"
	"pgregory.net/rapid"
)

// The property test posts numbered messages from concurrent senders while a
// controller posts control messages that make the actor hold (with a filter
// admitting a random subset of senders), release and defer. The invoker
// keeps a model of the parking area, fed by the filter calls (a rejected
// message is parked), and checks every delivery against it.

const (
	actHold = iota
	actRelease
	actDefer
)

type action struct {
	kind  int
	admit []bool // per sender, for actHold
	after int    // posted once the mailbox has taken this many user messages off its queue
}

func (a action) String() string {
	switch a.kind {
	case actHold:
		return fmt.Sprintf("hold%v", a.admit)
	case actRelease:
		return "release"
	}
	return "defer"
}

// order is a control message carrying an action.
type order struct {
	id  int
	act action
}

func (*order) ControlLane() {}

// marker is the message an actDefer defers.
type marker struct{ id int }

type plan struct {
	senders    []int // messages per sender
	actions    []action
	noAdmit    bool // every filter admits nothing
	wrap       bool // post some messages inside an *actor.MessageEnvelope
	dispatcher string
	throughput int
}

func drawPlan(t *rapid.T) plan {
	var p plan
	n := rapid.IntRange(1, 4).Draw(t, "senders")
	p.senders = rapid.SliceOfN(rapid.IntRange(0, 100), n, n).Draw(t, "messages")
	p.noAdmit = rapid.Bool().Draw(t, "noAdmit")
	p.wrap = rapid.Bool().Draw(t, "wrap")
	p.dispatcher = rapid.SampledFrom([]string{"default", "synchronized"}).Draw(t, "dispatcher")
	p.throughput = rapid.SampledFrom([]int{1, 2, 5, 300}).Draw(t, "throughput")
	total := 0
	for _, k := range p.senders {
		total += k
	}
	act := rapid.Custom(func(t *rapid.T) action {
		a := action{
			kind:  rapid.IntRange(actHold, actDefer).Draw(t, "kind"),
			after: rapid.IntRange(0, total).Draw(t, "after"),
		}
		if a.kind == actHold {
			a.admit = rapid.SliceOfN(rapid.Bool(), n, n).Draw(t, "admit")
		}
		return a
	})
	p.actions = rapid.SliceOfN(act, 0, 30).Draw(t, "actions")
	slices.SortStableFunc(p.actions, func(a, b action) int { return a.after - b.after })
	if p.noAdmit {
		for i := range p.actions {
			if p.actions[i].admit != nil {
				p.actions[i].admit = make([]bool, n)
			}
		}
	}
	return p
}

// model is the invoker. Its fields are guarded by mu although only the
// consumer goroutine calls it: the test goroutine reads them at the end.
type model struct {
	mu sync.Mutex
	mb *mailbox.Mailbox
	p  plan

	holding   bool
	parked    []any    // seqMsg or marker, in the order the mailbox parked them
	admitted  *seqMsg  // admitted by the filter, to be delivered next
	done      [][]bool // per sender, per message: delivered
	markers   map[int]bool
	orders    int // control messages delivered, which arrive in order
	inverted  int // deliveries that overtook an earlier message of their sender
	admittedN int // deliveries admitted by a filter
	releasedN int // deliveries from the parking area
	count     int // deliveries so far
	total     int // deliveries expected
	finished  chan struct{}
	// examined counts the user messages taken off the queue (delivered or
	// parked): the controller paces its actions by it.
	examined atomic.Int64
	progress chan struct{}
	errs     []string
}

func (m *model) fail(format string, args ...any) {
	if len(m.errs) < 10 {
		m.errs = append(m.errs, fmt.Sprintf("delivery %d: ", m.count)+fmt.Sprintf(format, args...))
	}
}

func unwrap(message any) any {
	if env, ok := message.(*actor.MessageEnvelope); ok {
		return env.Message
	}
	return message
}

// filter is the Filter of a hold: it admits the messages of the senders in
// admit and, in the model, parks the others.
func (m *model) filter(admit []bool) mailbox.Filter {
	return func(message any) bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		if !m.holding {
			m.fail("the filter was called while not holding, on %v", message)
		}
		msg, ok := unwrap(message).(seqMsg)
		if !ok {
			m.fail("the filter was called on %T, not a queued user message", unwrap(message))
			return false
		}
		if m.admitted != nil {
			m.fail("%v was admitted but %v was not delivered first", msg, *m.admitted)
		}
		m.examine()
		if admit[msg.sender] {
			m.admitted = &msg
			return true
		}
		m.parked = append(m.parked, msg)
		return false
	}
}

func (m *model) InvokeSystemMessage(message any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail("unexpected system message %v", message)
}

func (m *model) EscalateFailure(reason, message any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail("unexpected failure %v on %v", reason, message)
}

func (m *model) InvokeUserMessage(message any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mb.Holding() != m.holding {
		m.fail("Holding() = %v, the model says %v", m.mb.Holding(), m.holding)
	}
	switch msg := unwrap(message).(type) {
	case *order:
		m.control(msg)
	case marker:
		m.deferred(msg)
	case seqMsg:
		m.user(msg)
	default:
		m.fail("unknown message %T", msg)
	}
	// Only the consumer changes the parking area, so on the consumer
	// goroutine the held count is exact.
	if held := m.mb.Counts().Held; held != len(m.parked) {
		m.fail("Counts().Held = %d, the model has %d parked: %v", held, len(m.parked), m.parked)
	}
	if m.count++; m.count == m.total {
		close(m.finished)
	}
}

func (m *model) control(o *order) {
	if o.id != m.orders {
		m.fail("control message %d delivered when %d was due", o.id, m.orders)
	}
	m.orders++
	switch o.act.kind {
	case actHold:
		m.holding = true
		m.mb.Hold(m.filter(o.act.admit))
	case actRelease:
		m.holding = false
		m.mb.Release()
	case actDefer:
		mk := marker{o.id}
		m.parked = append(m.parked, mk)
		m.mb.Defer(mk)
	}
}

func (m *model) deferred(mk marker) {
	if m.markers[mk.id] {
		m.fail("marker %d delivered twice", mk.id)
	}
	m.markers[mk.id] = true
	if m.holding {
		m.fail("deferred marker %d delivered while holding", mk.id)
	}
	if len(m.parked) == 0 || m.parked[0] != any(mk) {
		m.fail("deferred marker %d delivered, the model's parking area is %v", mk.id, m.parked)
		return
	}
	m.parked = m.parked[1:]
}

func (m *model) user(msg seqMsg) {
	seen := m.done[msg.sender]
	if seen[msg.seq] {
		m.fail("%v delivered twice", msg)
		return
	}
	seen[msg.seq] = true

	fromFilter := false
	switch {
	case m.holding:
		// Only a message the filter has just admitted may be delivered.
		if m.admitted == nil || *m.admitted != msg {
			m.fail("%v delivered while holding, but the filter admitted %v", msg, m.admitted)
		}
		m.admitted, fromFilter = nil, true
		m.admittedN++
	case len(m.parked) > 0:
		// Released: the parking area drains first, in order.
		if m.parked[0] != any(msg) {
			m.fail("%v delivered while released messages were waiting: %v", msg, m.parked)
		} else {
			m.parked = m.parked[1:]
			m.releasedN++
		}
	case m.admitted != nil:
		m.fail("%v delivered, but the filter admitted %v", msg, *m.admitted)
	default:
		m.examine()
	}

	// Per sender: an earlier message still undelivered was overtaken. That
	// is allowed only when this one was admitted by a filter while the
	// earlier one was parked, and never when filters admit nothing.
	for seq := range msg.seq {
		if seen[seq] {
			continue
		}
		earlier := seqMsg{msg.sender, seq}
		m.inverted++
		switch {
		case m.p.noAdmit:
			m.fail("%v overtook %v although no filter admits anything", msg, earlier)
		case !fromFilter:
			m.fail("%v overtook %v without being admitted by a filter", msg, earlier)
		case !m.isParked(earlier):
			m.fail("%v overtook %v, which is not parked", msg, earlier)
		}
	}
}

func (m *model) examine() {
	m.examined.Add(1)
	select {
	case m.progress <- struct{}{}:
	default:
	}
}

// awaitExamined waits until the mailbox has taken n user messages off its
// queue.
func (m *model) awaitExamined(n int) error {
	limit := time.After(waitLimit)
	for m.examined.Load() < int64(n) {
		select {
		case <-m.progress:
		case <-limit:
			return fmt.Errorf("the mailbox took %d user messages off its queue within %v, not %d", m.examined.Load(), waitLimit, n)
		}
	}
	return nil
}

func (m *model) isParked(msg seqMsg) bool {
	for _, p := range m.parked {
		if p == any(msg) {
			return true
		}
	}
	return false
}

// stats counts, over all the runs of a property test, how often what it
// checks happened, so that a run can show it was not vacuous.
type stats struct{ inversions, admitted, released, markers atomic.Int64 }

func TestPropertyHoldFilterReleaseDefer(t *testing.T) {
	var st stats
	defer func() {
		t.Logf("inversions %d, admitted while holding %d, released from parking %d, deferred %d",
			st.inversions.Load(), st.admitted.Load(), st.released.Load(), st.markers.Load())
	}()
	rapid.Check(t, func(t *rapid.T) {
		p := drawPlan(t)
		mb := mailbox.New()
		m := &model{mb: mb, p: p, markers: map[int]bool{},
			finished: make(chan struct{}), progress: make(chan struct{}, 1)}
		for _, n := range p.senders {
			m.done = append(m.done, make([]bool, n))
			m.total += n
		}
		m.total += len(p.actions) + 1 // the actions and the final release
		for _, a := range p.actions {
			if a.kind == actDefer {
				m.total++
			}
		}
		var dispatcher actor.Dispatcher = actor.NewDefaultDispatcher(p.throughput)
		if p.dispatcher == "synchronized" {
			dispatcher = actor.NewSynchronizedDispatcher(p.throughput)
		}
		mb.RegisterHandlers(m, dispatcher)
		mb.Start()

		post := func(i int, msg any) {
			if p.wrap && i%2 == 1 {
				msg = &actor.MessageEnvelope{Message: msg}
			}
			mb.PostUserMessage(msg)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for s, n := range p.senders {
			wg.Go(func() {
				<-start
				for i := range n {
					post(i, seqMsg{s, i})
					runtime.Gosched() // let the consumer and the controller in
				}
			})
		}
		var paceErr error
		wg.Go(func() {
			<-start
			for i, a := range p.actions {
				if err := m.awaitExamined(a.after); err != nil && paceErr == nil {
					paceErr = err
				}
				post(i, &order{id: i, act: a})
			}
		})
		close(start)
		wg.Wait()
		if paceErr != nil {
			t.Fatal(paceErr)
		}
		mb.PostUserMessage(&order{id: len(p.actions), act: action{kind: actRelease}})

		select {
		case <-m.finished:
		case <-time.After(waitLimit):
			m.mu.Lock()
			defer m.mu.Unlock()
			t.Fatalf("%d of %d deliveries within %v; Counts() = %+v, model parked %v, errors %v",
				m.count, m.total, waitLimit, mb.Counts(), m.parked, m.errs)
		}

		m.mu.Lock()
		defer m.mu.Unlock()
		st.inversions.Add(int64(m.inverted))
		st.admitted.Add(int64(m.admittedN))
		st.released.Add(int64(m.releasedN))
		st.markers.Add(int64(len(m.markers)))
		if len(m.errs) > 0 {
			t.Fatalf("plan %+v:\n%v", p, m.errs)
		}
		for s, seen := range m.done {
			for i, ok := range seen {
				if !ok {
					t.Fatalf("message %d of sender %d was never delivered", i, s)
				}
			}
		}
		if len(m.parked) != 0 || m.holding {
			t.Fatalf("the model ends holding=%v with %v parked", m.holding, m.parked)
		}
		if got := mb.Counts(); got != (mailbox.Counts{}) {
			t.Fatalf("Counts() = %+v once everything was delivered, want zero", got)
		}
		if n := mb.UserMessageCount(); n != 0 {
			t.Fatalf("UserMessageCount() = %d once everything was delivered, want 0", n)
		}
	})
}
