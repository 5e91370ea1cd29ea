package manager

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/mailbox"
	"github.com/molt-go/molt/update/manifest"
)

// ErrBusy is returned when a package cannot start because it is already
// running, or another package is updating one of its kinds.
var ErrBusy = errors.New("manager: busy")

// ErrNameTaken is returned by SpawnConfig when an actor of the node's
// actor system, a manager or another, already has Config.Name.
var ErrNameTaken = errors.New("manager: name taken")

// DefaultName is the name to give a node's one manager (Config.Name), so
// that another process finds it at actor.NewPID(nodeAddress, DefaultName).
// It is part of the API: it will not change.
const DefaultName = "molt-update-manager"

// ErrStopped is returned by Run when the manager stops (or its node shuts
// down) before the package ends; the error says where the package was.
var ErrStopped = errors.New("manager: stopped")

// Manager is the handle of an update manager actor on a node.
type Manager struct {
	node    *molt.Node
	pid     *pa.PID
	stopped chan struct{} // closed when the actor has stopped
}

// Spawn starts an update manager on node with the default limits (the
// zero Config). Other actors and processes drive it with the messages of
// this package (RunPackage, CancelPackage, Subscribe) sent to PID; in
// process, Run is simpler.
func Spawn(node *molt.Node) *Manager {
	m, _ := SpawnConfig(node, Config{}) // the zero Config is valid
	return m
}

// SpawnConfig starts an update manager on node with the limits of cfg,
// under cfg.Name if it is set. It returns cfg's problems, or an error
// wrapping ErrNameTaken if the name is taken, with nothing spawned.
func SpawnConfig(node *molt.Node, cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	stopped := make(chan struct{})
	var once sync.Once
	// A restart makes a new actor from the producer; the channel is closed
	// once, when the actor stops for good.
	closeStopped := func() { once.Do(func() { close(stopped) }) }
	// molt's mailbox rather than protoactor's default: the default makes a
	// closure each time it schedules its run, which the manager, woken by
	// nearly every result, did about 30 times per group update of 16
	// (BenchmarkGroupUpdate, -memprofile).
	props := pa.PropsFromProducer(func() pa.Actor { return newManagerActor(node, cfg, closeStopped) },
		pa.WithDispatcher(node.Dispatcher()), pa.WithMailbox(mailbox.Producer()))
	if cfg.Name == "" {
		return &Manager{node: node, pid: node.Root().Spawn(props), stopped: stopped}, nil
	}
	pid, err := node.Root().SpawnNamed(props, cfg.Name)
	if errors.Is(err, pa.ErrNameExists) {
		return nil, fmt.Errorf("%w: an actor named %q already runs on this node (a manager that has stopped frees its name)", ErrNameTaken, cfg.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("manager: spawn %q: %w", cfg.Name, err)
	}
	return &Manager{node: node, pid: pid, stopped: stopped}, nil
}

// PID returns the manager actor's PID.
func (m *Manager) PID() *pa.PID { return m.pid }

// Stop stops the manager actor. Packages still running stop where they
// are: no new update starts, and the results of those in flight are lost;
// their Run returns ErrStopped, saying where each was.
func (m *Manager) Stop() {
	select {
	case <-m.stopped:
		return // stopping it again would only bother the dead letters
	default:
	}
	_ = m.node.Root().StopFuture(m.pid).Wait()
}

// DryRun returns the plan the manager would run for pkg: its steps,
// batches and units. It touches no actor.
func (m *Manager) DryRun(pkg *manifest.Package) (*manifest.Plan, error) {
	return manifest.Build(pkg, m.node.Catalog(), m.node.Directory())
}

// Run runs pkg and waits for it to end, or for ctx to end. onEvent, if not
// nil, receives every event of the package up to PACKAGE_DONE, in order, on
// the manager's goroutine: it must return quickly and not call the manager.
// The result is the package's PACKAGE_DONE event. What comes after it
// (PROBATION_ENDED, PACKAGE_REVISED) goes to subscribers only, since Run
// has returned.
//
// Run returns the manifest's validation or planning error, with nothing
// touched, or ErrBusy. If the manager stops first, Run returns an error
// wrapping ErrStopped that says where the package was, with the
// PACKAGE_DONE the manager sent as it stopped, if it could.
//
// If ctx ends first, the package is cancelled, as Cancel does: no new
// batch starts, and the updates in flight finish or abort. Run returns at
// once, without waiting for them, an error wrapping ctx.Err() that says
// where the package was, and the package's state as an event: its
// PACKAGE_DONE (CANCELLED) if nothing was in flight, else the HALTED event
// with the counts so far; the PACKAGE_DONE then goes to subscribers only.
// A package that ended before the cancellation reached the manager is not
// touched: Run returns its PACKAGE_DONE and ctx's error.
func (m *Manager) Run(ctx context.Context, pkg *manifest.Package, onEvent func(*Event)) (*Event, error) {
	select {
	case <-m.stopped:
		return nil, fmt.Errorf("%w: package %q was not started", ErrStopped, pkg.ID)
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("manager: package %q was not started: %w", pkg.ID, err)
	}
	finished := make(chan runEnd, 1)
	reply := make(chan localReply, 1)
	m.node.Root().Send(m.pid, &runLocal{pkg: pkg, onEvent: onEvent, reply: reply, finished: finished})
	// Node.Shutdown stops the workers without stopping the actors: the
	// manager then neither stops nor answers, so Run watches the system
	// too. Polling is the only way protoactor offers.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for accepted := false; !accepted; {
		select {
		case r := <-reply:
			if r.err != nil {
				return nil, r.err
			}
			accepted = true
		case <-ctx.Done():
			// The runLocal is in the manager's mailbox, and may start
			// the package yet: cancelling it is the only way to know.
			return m.cancelRun(pkg.ID, finished, reply, ctx.Err(), tick)
		case <-m.stopped:
			// The answer may have come just before the stop: then the
			// package's end, with its state, is there too.
			select {
			case r := <-reply:
				if r.err != nil {
					return nil, r.err
				}
				accepted = true
			default:
				return nil, fmt.Errorf("%w before package %q was accepted", ErrStopped, pkg.ID)
			}
		case <-tick.C:
			if m.node.System().IsStopped() {
				return nil, fmt.Errorf("%w: the node shut down before package %q was accepted", ErrStopped, pkg.ID)
			}
		}
	}
	for {
		select {
		case end := <-finished:
			return end.ev, end.err
		case <-ctx.Done():
			return m.cancelRun(pkg.ID, finished, reply, ctx.Err(), tick)
		case <-m.stopped:
			// The actor answers as it stops; take that, with the
			// package's state, if it is there.
			select {
			case end := <-finished:
				return end.ev, end.err
			default:
				return nil, fmt.Errorf("%w while package %q was running", ErrStopped, pkg.ID)
			}
		case <-tick.C:
			if m.node.System().IsStopped() {
				return nil, fmt.Errorf("%w: the node shut down while package %q was running; its actors were left where they were", ErrStopped, pkg.ID)
			}
		}
	}
}

// cancelRun cancels the package of a Run whose context ended, and returns
// what Run returns then. The manager answers within its turn, so the wait
// is bounded by its mailbox, and by its stop or the node's shutdown.
func (m *Manager) cancelRun(id string, finished chan runEnd, reply chan localReply, why error, tick *time.Ticker) (*Event, error) {
	answer := make(chan cancelReply, 1)
	m.node.Root().Send(m.pid, &cancelLocal{finished: finished, why: why, reply: answer})
	var c cancelReply
wait:
	for {
		select {
		case c = <-answer:
			break wait
		case <-m.stopped:
			break wait
		case <-tick.C:
			if m.node.System().IsStopped() {
				break wait
			}
		}
	}
	// The run may have ended in the same turn (nothing in flight), or
	// before the cancellation came: its PACKAGE_DONE is then the state.
	select {
	case end := <-finished:
		if end.err != nil {
			return end.ev, fmt.Errorf("%w (and the context of Run ended: %w)", end.err, why)
		}
		if c.found {
			return end.ev, fmt.Errorf("manager: package %q cancelled: the context of Run ended; nothing was in flight: %w", id, why)
		}
		return end.ev, fmt.Errorf("manager: package %q ended %v as the context of Run ended: %w", id, end.ev.GetPackageOutcome(), why)
	default:
	}
	if c.found {
		return c.ev, fmt.Errorf("manager: package %q cancelled: the context of Run ended %s; the updates in flight finish or abort, and its PACKAGE_DONE goes to subscribers: %w", id, c.state, why)
	}
	select {
	case r := <-reply:
		if r.err != nil {
			return nil, r.err
		}
	default:
	}
	return nil, fmt.Errorf("manager: package %q was not started: %w", id, why)
}

// Cancel stops a running package: no new batch starts, and the updates in
// flight finish or abort; its PACKAGE_DONE event then says CANCELLED.
func (m *Manager) Cancel(ctx context.Context, id string) error {
	v, err := m.node.Root().RequestFuture(m.pid, &CancelPackage{PackageId: id}, timeoutOf(ctx)).Result()
	if err != nil {
		return fmt.Errorf("manager: cancel %q: %w", id, err)
	}
	if r, ok := v.(*PackageRefused); ok {
		return fmt.Errorf("manager: cancel %q: %s", id, r.GetReason())
	}
	return nil
}

// timeoutOf turns ctx's deadline into a Future's timeout: protoactor
// futures take a duration.
func timeoutOf(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Millisecond)
	}
	return 10 * time.Second
}
