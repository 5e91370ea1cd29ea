package actor

import (
	"sync"
	"sync/atomic"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
)

// Status is what a node knows of one live actor: its directory entry, what
// its mailbox holds, and how its last update ended. It is read off the
// message path: the node keeps nothing per message for it, and the counts
// are read from the mailbox when asked.
type Status struct {
	registry.Entry
	// Queued is the user messages waiting in the mailbox, not yet examined.
	Queued int
	// Held is the user messages an update in progress is holding back.
	Held int
	// LastUpdate is the result of the last update that ended on the actor
	// (committed, aborted or rejected by the actor itself; a request
	// Node.Update refused before sending it never reached the actor), a
	// copy the caller may keep; nil if none has ended since it was spawned.
	LastUpdate *update.UpdateResult
}

// cellState is the part of a cell that other goroutines read: set once the
// actor starts, so that a status never reads a field the actor's goroutine
// is writing.
type cellState struct {
	last atomic.Pointer[lastUpdate] // nil until an update has ended
}

// lastUpdate is the result of the last update that ended on an actor, kept
// for Status in the host's rarely used part: written over at each update's
// end rather than copied into a new result, which was one allocation of
// about 200 B per update (a fifth of a group update's bytes, whose garbage
// collections make its p99).
type lastUpdate struct {
	mu  sync.Mutex
	res update.UpdateResult // a private copy, never sent
}

// Status returns the status of the live actor pid, and false if it is not a
// live molt actor of this node.
func (n *Node) Status(pid *pa.PID) (Status, bool) {
	e, ok := n.directory.Lookup(pid)
	if !ok {
		return Status{}, false
	}
	return n.statusOf(e), true
}

// Statuses calls fn with the status of each live actor of a kind (every
// kind if kind is empty), in the directory's order (by PID address and id),
// until fn returns false. It works on a copy of the directory's list, so fn
// may call the node.
func (n *Node) Statuses(kind string, fn func(Status) bool) {
	for _, e := range n.directory.List(kind) {
		if !fn(n.statusOf(e)) {
			return
		}
	}
}

func (n *Node) statusOf(e registry.Entry) Status {
	s := Status{Entry: e}
	c := n.cellOf(e.PID)
	if c == nil {
		// Spawned, not started yet: nothing queued has been looked at.
		return s
	}
	if c.mailbox != nil {
		counts := c.mailbox.Counts()
		s.Queued, s.Held = counts.Queued, counts.Held
	}
	if last := c.state.last.Load(); last != nil {
		last.mu.Lock()
		s.LastUpdate = copyResult(&last.res)
		last.mu.Unlock()
	}
	return s
}

// cells is the node's index of the cells of its started actors, by PID id,
// for Status and the mailbox gauge. Every actor in it is local, so the id
// alone is the key. A plain map under a lock costs an idle actor a fraction
// of what a sync.Map entry does (a boxed key, an entry and trie nodes).
type cells struct {
	mu      sync.RWMutex
	m       map[string]*cell
	binding map[string]*cell // cells whose next host is still to bind (see host.bind)
}

// expect leaves c for the next host of actor id to bind to.
func (x *cells) expect(id string, c *cell) {
	x.mu.Lock()
	if x.binding == nil {
		x.binding = make(map[string]*cell)
	}
	x.binding[id] = c
	x.mu.Unlock()
}

// take returns the cell left for actor id's host, and forgets it.
func (x *cells) take(id string) *cell {
	x.mu.Lock()
	c := x.binding[id]
	delete(x.binding, id)
	x.mu.Unlock()
	return c
}

func (n *Node) cellOf(pid *pa.PID) *cell {
	n.cells.mu.RLock()
	c := n.cells.m[pid.GetId()]
	n.cells.mu.RUnlock()
	return c
}

// rangeCells calls fn with each started cell until it returns false, under
// the index's read lock: fn must not start or stop an actor.
func (n *Node) rangeCells(fn func(*cell) bool) {
	n.cells.mu.RLock()
	defer n.cells.mu.RUnlock()
	for _, c := range n.cells.m {
		if !fn(c) {
			return
		}
	}
}

// started and ended keep the node's index of cells, which statuses and the
// mailbox gauge read; they run on the actor's goroutine, at its start and
// stop, never per message.
func (c *cell) started(self *pa.PID) {
	x := &c.node.cells
	x.mu.Lock()
	if x.m == nil {
		x.m = make(map[string]*cell)
	}
	x.m[self.GetId()] = c
	x.mu.Unlock()
}

func (c *cell) ended(self *pa.PID) {
	x := &c.node.cells
	id := self.GetId()
	x.mu.Lock()
	// Only its own entry: an actor spawned since under the same name has
	// its own.
	if x.m[id] == c {
		delete(x.m, id)
	}
	if x.binding[id] == c {
		delete(x.binding, id) // it stopped instead of restarting
	}
	x.mu.Unlock()
}

// updateEnded keeps res, the final result of an update on this actor, for
// Status, and records it in the node's metrics. It runs once per update, as
// the result goes out: never for a plain message.
func (h *host) updateEnded(res *update.UpdateResult) {
	last := &h.more().last
	last.mu.Lock()
	setResult(&last.res, res)
	last.mu.Unlock()
	if h.state.last.Load() != last {
		// The first update of this incarnation: a restart makes a new
		// rarely used part.
		h.state.last.Store(last)
	}
	if m := h.node.metrics; m != nil {
		m.record(res)
	}
}

// copyResult copies res field by field: cheaper than proto.Clone on a path
// that every update takes, and the requester may modify its own result.
func copyResult(r *update.UpdateResult) *update.UpdateResult {
	c := new(update.UpdateResult)
	setResult(c, r)
	return c
}

// setResult sets every field of dst to r's.
func setResult(dst, r *update.UpdateResult) {
	dst.UpdateId = r.UpdateId
	dst.Outcome = r.Outcome
	dst.Kind = r.Kind
	dst.Actor = r.Actor
	dst.FromVersion = r.FromVersion
	dst.ToVersion = r.ToVersion
	dst.Phase = r.Phase
	dst.Reason = r.Reason
	dst.HeldMessages = r.HeldMessages
	dst.InitializationNs = r.InitializationNs
	dst.NotificationNs = r.NotificationNs
	dst.PreparationNs = r.PreparationNs
	dst.StateCheckingNs = r.StateCheckingNs
	dst.StateTransferNs = r.StateTransferNs
	dst.ReplacementNs = r.ReplacementNs
	dst.TotalNs = r.TotalNs
	dst.DecisionNs = r.DecisionNs
	dst.QueuedMessages = r.QueuedMessages
}
