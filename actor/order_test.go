package actor_test

import (
	"sync"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
)

// The "fifo" kind records which version handled each numbered message. Its
// first message can be a gate that blocks the actor, so that messages queue
// behind it.

type fifoGate struct {
	entered chan struct{}
	open    chan struct{}
}

type fifoLog struct {
	mu sync.Mutex
	by map[int]uint32 // message number → version that handled it
}

func (l *fifoLog) record(n int, v uint32) {
	l.mu.Lock()
	l.by[n] = v
	l.mu.Unlock()
}

func (l *fifoLog) versions(from, to int) map[uint32]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[uint32]int{}
	for n := from; n <= to; n++ {
		out[l.by[n]]++
	}
	return out
}

type fifoV1 struct{ log *fifoLog }
type fifoV2 struct{ log *fifoLog }

func fifoReceive(ctx pa.Context, log *fifoLog, v uint32) {
	switch m := ctx.Message().(type) {
	case *fifoGate:
		close(m.entered)
		<-m.open
	case int:
		log.record(m, v)
	case *ping:
		ctx.Respond(true)
	}
}

func (f *fifoV1) Receive(ctx pa.Context) { fifoReceive(ctx, f.log, 1) }
func (f *fifoV2) Receive(ctx pa.Context) { fifoReceive(ctx, f.log, 2) }

func fifoNode(t *testing.T) (*molt.Node, *pa.PID, *fifoLog) {
	t.Helper()
	log := &fifoLog{by: map[int]uint32{}}
	cat := registry.New()
	must(t, registry.Register(cat, "fifo", 1, func() *fifoV1 { return &fifoV1{log: log} }, registry.Transient("log")))
	must(t, registry.Register(cat, "fifo", 2, func() *fifoV2 { return &fifoV2{log: log} }, registry.Transient("log")))
	must(t, registry.Migrate(cat, "fifo", 1, 2, func(o *fifoV1) (*fifoV2, error) { return &fifoV2{log: log}, nil }))
	node := molt.NewNode(cat)
	t.Cleanup(node.Shutdown)
	pid, err := node.Spawn("fifo", 1)
	must(t, err)
	return node, pid, log
}

// queueBehindGate blocks the actor, then queues 1..before, the update sent
// by send, and before+1..before+after; it opens the gate and returns the
// update's result.
func queueBehindGate(t *testing.T, node *molt.Node, pid *pa.PID, before, after int, send func() <-chan *update.UpdateResult) *update.UpdateResult {
	t.Helper()
	g := &fifoGate{entered: make(chan struct{}), open: make(chan struct{})}
	node.Root().Send(pid, g)
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the actor did not take the gate message within 10s")
	}
	for n := 1; n <= before; n++ {
		node.Root().Send(pid, n)
	}
	result := send()
	// The update is posted before the later messages: wait until the
	// mailbox has it, then queue them.
	for n := before + 1; n <= before+after; n++ {
		node.Root().Send(pid, n)
	}
	close(g.open)
	select {
	case res := <-result:
		request(t, node, pid, &ping{}) // every numbered message handled
		return res
	case <-time.After(10 * time.Second):
		t.Fatal("no update result within 10s")
		return nil
	}
}

func viaFuture(node *molt.Node, pid *pa.PID, req *update.UpdateActor) func() <-chan *update.UpdateResult {
	return func() <-chan *update.UpdateResult {
		f := node.Root().RequestFuture(pid, req, 10*time.Second)
		out := make(chan *update.UpdateResult, 1)
		go func() {
			v, _ := f.Result()
			res, _ := v.(*update.UpdateResult)
			out <- res
		}()
		return out
	}
}

// TestInOrderUpdateTakesEffectAfterQueuedMessages: an update sent in order
// lets the messages queued before it go to the old version, and the ones
// after it to the new; the result counts the ones that went to the new.
func TestInOrderUpdateTakesEffectAfterQueuedMessages(t *testing.T) {
	node, pid, log := fifoNode(t)
	req := &update.UpdateActor{ToVersion: 2, Order: update.Order_ORDER_IN_ORDER}
	res := queueBehindGate(t, node, pid, 100, 50, viaFuture(node, pid, req))
	if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("in-order update: %v", res)
	}
	if got := log.versions(1, 100); got[1] != 100 {
		t.Errorf("messages sent before the in-order update were handled by versions %v; want all 100 by version 1", got)
	}
	if got := log.versions(101, 150); got[2] != 50 {
		t.Errorf("messages sent after the in-order update were handled by versions %v; want all 50 by version 2", got)
	}
	if res.GetQueuedMessages() != 50 {
		t.Errorf("the result counts %d queued messages going to the new version, want 50", res.GetQueuedMessages())
	}
}

// TestOvertakingUpdateCountsTheQueueItOvertook: the default order overtakes
// the queue, and says how many queued messages the new version got.
func TestOvertakingUpdateCountsTheQueueItOvertook(t *testing.T) {
	node, pid, log := fifoNode(t)
	res := queueBehindGate(t, node, pid, 100, 50, viaFuture(node, pid, &update.UpdateActor{ToVersion: 2}))
	if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("update: %v", res)
	}
	if got := log.versions(1, 150); got[2] != 150 {
		t.Errorf("messages queued when the update overtook them were handled by versions %v; want all 150 by version 2", got)
	}
	if res.GetQueuedMessages() != 150 {
		t.Errorf("the result counts %d queued messages going to the new version, want 150", res.GetQueuedMessages())
	}
}
