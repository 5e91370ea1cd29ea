package manager

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/update/manifest"
)

// ErrBusy is returned when a package cannot start because it is already
// running, or another package is updating one of its kinds.
var ErrBusy = errors.New("manager: busy")

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

// SpawnConfig starts an update manager on node with the limits of cfg, or
// returns cfg's problems.
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
	pid := node.Root().Spawn(pa.PropsFromProducer(func() pa.Actor { return newManagerActor(node, cfg, closeStopped) }, pa.WithDispatcher(node.Dispatcher())))
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
// touched, or ErrBusy. If ctx ends first, Run returns its error and the
// package goes on; cancel it with Cancel. If the manager stops first, Run
// returns an error wrapping ErrStopped that says where the package was,
// with the PACKAGE_DONE the manager sent as it stopped, if it could.
func (m *Manager) Run(ctx context.Context, pkg *manifest.Package, onEvent func(*Event)) (*Event, error) {
	select {
	case <-m.stopped:
		return nil, fmt.Errorf("%w: package %q was not started", ErrStopped, pkg.ID)
	default:
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
			return nil, fmt.Errorf("manager: package %q not accepted: %w", pkg.ID, ctx.Err())
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
			return nil, fmt.Errorf("manager: package %q still running: %w", pkg.ID, ctx.Err())
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
