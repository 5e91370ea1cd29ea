package manager

import (
	"context"
	"errors"
	"fmt"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/update/manifest"
)

// ErrBusy is returned when a package cannot start because it is already
// running, or another package is updating one of its kinds.
var ErrBusy = errors.New("manager: busy")

// Manager is the handle of an update manager actor on a node.
type Manager struct {
	node *molt.Node
	pid  *pa.PID
}

// Spawn starts an update manager on node. Other actors and processes drive
// it with the messages of this package (RunPackage, CancelPackage,
// Subscribe) sent to PID; in process, Run is simpler.
func Spawn(node *molt.Node) *Manager {
	pid := node.Root().Spawn(pa.PropsFromProducer(func() pa.Actor { return newManagerActor(node) }, pa.WithDispatcher(node.Dispatcher())))
	return &Manager{node: node, pid: pid}
}

// PID returns the manager actor's PID.
func (m *Manager) PID() *pa.PID { return m.pid }

// Stop stops the manager actor. Packages still running stop where they
// are: no new update starts, and the results of those in flight are lost.
func (m *Manager) Stop() { _ = m.node.Root().StopFuture(m.pid).Wait() }

// DryRun returns the plan the manager would run for pkg: its steps,
// batches and units. It touches no actor.
func (m *Manager) DryRun(pkg *manifest.Package) (*manifest.Plan, error) {
	return manifest.Build(pkg, m.node.Catalog(), m.node.Directory())
}

// Run runs pkg and waits for it to end, or for ctx to end. onEvent, if not
// nil, receives every event of the package, in order, on the manager's
// goroutine: it must return quickly and not call the manager. The result is
// the package's PACKAGE_DONE event.
//
// Run returns the manifest's validation or planning error, with nothing
// touched, or ErrBusy. If ctx ends first, Run returns its error and the
// package goes on; cancel it with Cancel.
func (m *Manager) Run(ctx context.Context, pkg *manifest.Package, onEvent func(*Event)) (*Event, error) {
	finished := make(chan *Event, 1)
	reply := make(chan localReply, 1)
	m.node.Root().Send(m.pid, &runLocal{pkg: pkg, onEvent: onEvent, reply: reply, finished: finished})
	select {
	case r := <-reply:
		if r.err != nil {
			return nil, r.err
		}
	case <-ctx.Done():
		return nil, fmt.Errorf("manager: package %q not accepted: %w", pkg.ID, ctx.Err())
	}
	select {
	case ev := <-finished:
		return ev, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("manager: package %q still running: %w", pkg.ID, ctx.Err())
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
