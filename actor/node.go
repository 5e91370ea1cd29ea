package actor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/internal/directory"
	"github.com/molt-go/molt/internal/protocol"
	"github.com/molt-go/molt/mailbox"
	"github.com/molt-go/molt/persist"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"go.opentelemetry.io/otel/metric"
)

// Errors returned by a Node.
var (
	// ErrNotUpdatable is returned by Update for a PID that is not a live
	// molt actor of this node: never spawned by it, or stopped.
	ErrNotUpdatable = errors.New("molt: not a live-updatable actor")
	// ErrNoAnswer is returned by Update when the actor did not answer in
	// time: it stopped with the request in its mailbox, or the context ended.
	ErrNoAnswer = errors.New("molt: no answer to the update")
)

// Node runs live-updatable actors of the kinds in a catalogue, on a
// protoactor actor system. Its PIDs are ordinary protoactor PIDs.
type Node struct {
	system    *pa.ActorSystem
	catalog   *registry.Catalog
	directory *registry.Directory
	record    directory.Writer // the directory's write side, the node's alone
	workers   *workers
	deadlines *deadlines   // of the updates in flight
	net       *network     // nil without WithRemote
	cells     cells        // the cell of each started actor, for Status and the gauges
	metrics   *nodeMetrics // nil without WithMeterProvider
	store     persist.Store
	// valid is the update request that last passed Validate here: the
	// update manager sends one request to all the members of a group at
	// the same versions, and a message is read-only once sent (protoactor's
	// rule), so checking it again for each member only repeats the answer.
	// It did cost 5 % of the CPU of a group update of 256, whose request
	// names every member.
	valid atomic.Pointer[update.UpdateActor]

	// Most actors are spawned with one Props, the node's: no Props, and
	// no closures over the cell, per actor. Its producer cannot tell
	// which actor it makes a host for: the host binds itself with its
	// first message; its mailbox producer and init hook, called inside
	// the spawn, take the cell from spawning, under spawnMu.
	props    *pa.Props
	spawnMu  sync.Mutex
	spawning *cell
	blank    cell // the cell of unbound hosts
}

// Option configures a Node.
type Option func(*nodeConfig)

type nodeConfig struct {
	system *pa.ActorSystem
	config []pa.ConfigOption
	meters metric.MeterProvider
	remote *RemoteConfig
	store  persist.Store
}

// WithActorSystem runs the node on an existing actor system instead of a new
// one.
func WithActorSystem(system *pa.ActorSystem) Option {
	return func(c *nodeConfig) { c.system = system }
}

// WithConfig passes options to the new actor system. A node is quiet by
// default: pass pa.WithLoggerFactory to see protoactor's logs.
func WithConfig(options ...pa.ConfigOption) Option {
	return func(c *nodeConfig) { c.config = append(c.config, options...) }
}

// NewNode returns a node that spawns the kinds of catalog. It panics if
// WithRemote cannot start; StartNode returns that error instead.
func NewNode(catalog *registry.Catalog, options ...Option) *Node {
	var c nodeConfig
	for _, o := range options {
		o(&c)
	}
	system := c.system
	if system == nil {
		quiet := pa.WithLoggerFactory(func(*pa.ActorSystem) *slog.Logger {
			return slog.New(slog.DiscardHandler)
		})
		system = pa.NewActorSystem(append([]pa.ConfigOption{quiet}, c.config...)...)
	}
	dir := registry.DirectoryOf()
	n := &Node{system: system, catalog: catalog, directory: dir, record: directory.WriterOf(dir), workers: newWorkers(defaultThroughput), deadlines: newDeadlines(system.Root), store: c.store}
	n.blank = cell{node: n, blank: true}
	n.props = pa.PropsFromProducer(n.unbound,
		pa.WithDispatcher(n.workers),
		pa.WithMailbox(func() pa.Mailbox {
			cl := n.spawning
			cl.mailbox = mailbox.New()
			if cl.imported != nil {
				// Nothing reaches an imported actor before Release: the
				// consumer has not started, so the hold can be set here.
				cl.mailbox.Hold(nil)
			}
			return cl.mailbox
		}),
		pa.WithOnInit(func(ctx pa.Context) { n.cells.expect(ctx.Self().GetId(), n.spawning) }))
	n.register()
	if err := n.startRemote(c.remote); err != nil {
		n.workers.stop()
		n.deadlines.stop()
		if c.system == nil {
			system.Shutdown()
		}
		panic(remoteStartError{err})
	}
	if c.meters != nil {
		n.metrics = newMetrics(n, c.meters)
	}
	return n
}

// System returns the node's actor system.
func (n *Node) System() *pa.ActorSystem { return n.system }

// Root returns the actor system's root context, to send and request from
// outside any actor.
func (n *Node) Root() *pa.RootContext { return n.system.Root }

// Catalog returns the node's catalogue.
func (n *Node) Catalog() *registry.Catalog { return n.catalog }

// Dispatcher returns the dispatcher the node's actors run on: a pool of
// worker goroutines that keep their stacks between runs. Pass it with
// actor.WithDispatcher to run other actors of the process on it too.
func (n *Node) Dispatcher() pa.Dispatcher { return n.workers }

// Directory returns the directory of the node's live actors. It is
// read-only: the node records each actor as it spawns, updates and stops.
func (n *Node) Directory() *registry.Directory { return n.directory }

// defaultThroughput is how many messages an actor handles before it yields,
// as protoactor's default dispatcher.
const defaultThroughput = 300

// Shutdown stops remote, if the node runs it, shuts the actor system down
// and lets the node's worker goroutines exit.
func (n *Node) Shutdown() {
	n.stopRemote()
	if n.metrics != nil {
		n.metrics.stop()
	}
	n.workers.stop()
	n.deadlines.stop()
	n.system.Shutdown()
}

// SpawnOption configures one spawn.
type SpawnOption func(*spawnConfig)

type spawnConfig struct {
	name       string
	parent     pa.SpawnerContext
	props      []pa.PropsOption
	labels     map[string]string
	persistent bool
	imported   *importing
}

// WithName spawns the actor under a name instead of a generated id.
func WithName(name string) SpawnOption {
	return func(c *spawnConfig) { c.name = name }
}

// WithLabels attaches labels to the actor, for the directory and for update
// packages that select their targets by label. The map is copied.
func WithLabels(labels map[string]string) SpawnOption {
	return func(c *spawnConfig) { c.labels = maps.Clone(labels) }
}

// WithParent spawns the actor as a child of the actor whose context is
// given (the ctx of its Receive), so that it is supervised by it.
func WithParent(parent pa.SpawnerContext) SpawnOption {
	return func(c *spawnConfig) { c.parent = parent }
}

// WithProps passes protoactor props options: supervisor, middleware,
// dispatcher. A mailbox option is ignored: molt actors need molt's mailbox.
// Without a dispatcher option, actors run on the node's pool of worker
// goroutines, which keep their grown stacks between runs.
func WithProps(options ...pa.PropsOption) SpawnOption {
	return func(c *spawnConfig) { c.props = append(c.props, options...) }
}

// Spawn starts an actor of a kind at a version and returns its PID, which
// stays the same across every update. It returns the catalogue's
// registry.ErrUnknownKind or registry.ErrUnknownVersion, or protoactor's
// ErrNameExists for a name in use.
func (n *Node) Spawn(kind string, version uint32, options ...SpawnOption) (*pa.PID, error) {
	var c spawnConfig
	for _, o := range options {
		o(&c)
	}
	if c.persistent && (n.store == nil || c.name == "") {
		return nil, fmt.Errorf("molt: spawn %s: %w: Persistent needs a node WithStore and a name (WithName), the key of its snapshots", kind, ErrNotPersistent)
	}
	cl := &cell{node: n, kind: kind, version: version, labels: c.labels, name: c.name, persistent: c.persistent, imported: c.imported}
	var err error
	switch {
	case c.imported != nil:
		if cl.first, err = cl.open(c.imported.from); err != nil {
			return nil, fmt.Errorf("molt: import %s as %q: %w", kind, c.name, err)
		}
	case c.persistent:
		if cl.first, err = cl.loadSnapshot(c.name); err != nil {
			return nil, fmt.Errorf("molt: spawn %s as %q: %w", kind, c.name, err)
		}
	}
	if cl.first == nil {
		if cl.first, err = n.catalog.Instantiate(kind, version); err != nil {
			return nil, err
		}
	}
	var pid *pa.PID
	if len(c.props) == 0 && c.parent == nil {
		pid, err = n.spawnShared(cl)
	} else {
		pid, err = n.spawnOwn(cl, &c)
	}
	if err != nil {
		return nil, fmt.Errorf("molt: spawn %s as %q: %w", kind, c.name, err)
	}
	// The host adds itself when it starts; this makes the PID known to
	// Update as soon as Spawn returns. An actor that stopped meanwhile is
	// taken out again.
	if c.imported != nil {
		return pid, nil // in the directory once released
	}
	n.record.Add(pid, kind, version, c.labels)
	if cl.stopped.Load() {
		n.record.Remove(pid)
	}
	return pid, nil
}

// spawnShared spawns cl's actor from the root with the node's props.
func (n *Node) spawnShared(cl *cell) (*pa.PID, error) {
	cl.shared = true
	n.spawnMu.Lock()
	defer func() {
		n.spawning = nil
		n.spawnMu.Unlock()
	}()
	n.spawning = cl
	if cl.name == "" {
		return n.system.Root.Spawn(n.props), nil
	}
	return n.system.Root.SpawnNamed(n.props, cl.name)
}

// spawnOwn spawns cl's actor with props of its own: under a parent, or
// with props options.
func (n *Node) spawnOwn(cl *cell, c *spawnConfig) (*pa.PID, error) {
	opts := make([]pa.PropsOption, 0, len(c.props)+2)
	opts = append(opts, pa.WithDispatcher(n.workers))
	opts = append(opts, c.props...)
	opts = append(opts, pa.WithMailbox(func() pa.Mailbox {
		cl.mailbox = mailbox.New()
		if cl.imported != nil {
			// Nothing reaches an imported actor before Release: the
			// consumer has not started, so the hold can be set here.
			cl.mailbox.Hold(nil)
		}
		return cl.mailbox
	}))
	props := pa.PropsFromProducer(cl.produce, opts...)
	parent := c.parent
	if parent == nil {
		parent = n.system.Root
	}
	if c.name == "" {
		return parent.Spawn(props), nil
	}
	return parent.SpawnNamed(props, c.name)
}

// call is an in-process update request: cheaper than a protoactor Future.
type call struct {
	req   *update.UpdateActor
	done  chan *update.UpdateResult
	timer *time.Timer
}

func (*call) ControlLane() {}

// WaitsItsTurn queues an in-order update with the user messages, as its
// UpdateActor would be.
func (c *call) WaitsItsTurn() bool { return c.req.WaitsItsTurn() }

// validate returns req.Validate(), unless req is the request that last
// passed it on this node.
func (n *Node) validate(req *update.UpdateActor) error {
	if n.valid.Load() == req {
		return nil
	}
	if err := req.Validate(); err != nil {
		return err
	}
	n.valid.Store(req)
	return nil
}

// yieldsBeforePark is how many times Update yields, checking for the result,
// before it blocks.
const yieldsBeforePark = 8

var calls = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &call{done: make(chan *update.UpdateResult, 1), timer: t}
}}

// Update applies req to the actor at pid and waits for the result, without
// the cost of a protoactor Future. The update runs exactly as one sent with
// Request would. Update waits until ctx ends; if ctx has no deadline it
// waits at most twice the update's deadline plus one second, which may be
// too short for an update queued behind others.
//
// A request that fails req.Validate (a deadline outside MinDeadline to
// MaxDeadline, a length over its limit, see package update) is rejected
// before anything is sent: the result is REJECTED, in initialization, as
// the actor would have answered. An update with probation is accepted: its
// result is the one answer, and the ProbationResult goes to the probation's
// report_to. A staged update, which answers twice, is rejected: send it
// with Request from an actor.
//
// Update returns ErrNotUpdatable for a PID that is not a live molt actor of
// this node, and ErrNoAnswer when no result came in time. Otherwise the
// result says whether the update committed, aborted or was rejected.
func (n *Node) Update(ctx context.Context, pid *pa.PID, req *update.UpdateActor) (*update.UpdateResult, error) {
	e, ok := n.directory.Lookup(pid)
	if !ok {
		return nil, fmt.Errorf("%w: %v was not spawned by this node's Spawn, or has stopped; only molt actors can be updated", ErrNotUpdatable, pid)
	}
	if err := n.validate(req); err != nil {
		return &update.UpdateResult{
			UpdateId:    protocol.EchoID(req.GetUpdateId()),
			Outcome:     update.Outcome_OUTCOME_REJECTED,
			Kind:        e.Kind,
			Actor:       pid.GetId(),
			FromVersion: e.Version,
			ToVersion:   req.GetToVersion(),
			Phase:       update.Phase_PHASE_INITIALIZATION,
			Reason:      err.Error(),
		}, nil
	}
	// Validate bounds the deadline by update.MaxDeadline, so this cannot
	// overflow.
	wait := update.DefaultDeadline
	if d := req.GetDeadline(); d != nil {
		wait = d.AsDuration()
	}
	wait = 2*wait + time.Second

	c := calls.Get().(*call)
	c.req = req
	n.system.Root.Send(pid, c)
	// Most updates finish within microseconds, on the worker this goroutine
	// just woke: yielding to it a few times before parking saves a wake-up
	// of this goroutine on each side.
	for range yieldsBeforePark {
		runtime.Gosched()
		select {
		case res := <-c.done:
			c.req = nil
			calls.Put(c)
			return res, nil
		default:
		}
	}
	var timeout <-chan time.Time // the context's deadline, if any, decides
	if _, ok := ctx.Deadline(); !ok {
		c.timer.Reset(wait)
		timeout = c.timer.C
	}
	select {
	case res := <-c.done:
		c.timer.Stop()
		c.req = nil
		calls.Put(c)
		return res, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w from %v: %v", ErrNoAnswer, pid, ctx.Err())
	case <-timeout:
		return nil, fmt.Errorf("%w from %v within %v: it stopped with the update in its mailbox, or the update waits behind others; give ctx a deadline to wait longer", ErrNoAnswer, pid, wait)
	}
}
