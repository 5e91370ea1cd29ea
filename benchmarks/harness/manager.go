package harness

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update/manager"
	"github.com/molt-go/molt/update/manifest"
)

// The fixture of the update manager's scenarios (group-update and
// fleet-update) and benchmarks (BenchmarkGroupUpdate, BenchmarkFleetUpdate):
// a node, its update manager, and actors of a small-state kind updated back
// and forth by update packages run through manager.Run, as an operator
// would.

// --- "member": a small state, no hooks, no messages. ---

type memberV1 struct{ N int }

func (*memberV1) Receive(actor.Context) {}

type memberV2 struct{ N, M int64 }

func (*memberV2) Receive(actor.Context) {}

// memberKind is the kind a Fleet's actors are spawned as.
const memberKind = "member"

// memberCatalog registers the member kind: version 1 holds an int, version
// 2 two int64s, with a migration each way, under molt's default isolation
// (a msgpack round trip).
func memberCatalog() (*registry.Catalog, error) {
	cat := registry.New()
	return cat, errors.Join(
		registry.Register(cat, memberKind, 1, func() *memberV1 { return &memberV1{} }),
		registry.Register(cat, memberKind, 2, func() *memberV2 { return &memberV2{} }),
		registry.Migrate(cat, memberKind, 1, 2, func(o *memberV1) (*memberV2, error) { return &memberV2{N: int64(o.N)}, nil }),
		registry.Migrate(cat, memberKind, 2, 1, func(o *memberV2) (*memberV1, error) { return &memberV1{N: int(o.N)}, nil }),
	)
}

// FleetMaxInFlight is the rollout's maxInFlight of the packages UpdateAll
// runs: how many actors of the fleet are updated at once.
const FleetMaxInFlight = 1024

// Fleet is a node with an update manager and n actors of the small-state
// kind "member", named m0000000, m0000001, …, all at one version. Each
// update runs one package through manager.Run, to the version the actors
// do not run (1→2, then 2→1, …), and fails unless every actor committed.
type Fleet struct {
	node    *molt.Node
	mgr     *manager.Manager
	names   []string
	pids    []*actor.PID
	version uint32 // the version every member runs
	seq     int    // packages run, for their ids
}

// NewFleet starts a node and its update manager, and spawns n members at
// version 1. Close the Fleet when done.
func NewFleet(ctx context.Context, n int) (*Fleet, error) {
	if n < 1 {
		return nil, fmt.Errorf("harness: a fleet needs at least one actor, got %d", n)
	}
	cat, err := memberCatalog()
	if err != nil {
		return nil, err
	}
	node := molt.NewNode(cat)
	f := &Fleet{node: node, mgr: manager.Spawn(node), names: make([]string, n), pids: make([]*actor.PID, n), version: 1}
	for i := range f.names {
		if i%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, errors.Join(fmt.Errorf("spawning a fleet of %d: %w", n, err), f.Close())
			}
		}
		f.names[i] = fmt.Sprintf("m%07d", i)
		if f.pids[i], err = node.Spawn(memberKind, 1, molt.WithName(f.names[i])); err != nil {
			return nil, errors.Join(err, f.Close())
		}
	}
	return f, nil
}

// Size returns the number of actors in the fleet.
func (f *Fleet) Size() int { return len(f.names) }

// Version returns the version every actor of the fleet runs.
func (f *Fleet) Version() uint32 { return f.version }

// UpdateGroup updates every actor of the fleet as one all-or-nothing
// group: one package naming them all, with one group of them all, so the
// manager stages every member, then commits them all. It returns the time
// manager.Run took, from the call to the package's end in hand (planning,
// staging, committing), and the package's PACKAGE_DONE event. onEvent, if
// not nil, sees every event of the package on the manager's goroutine
// (see manager.Run).
func (f *Fleet) UpdateGroup(ctx context.Context, onEvent func(*manager.Event)) (time.Duration, *manager.Event, error) {
	to := 3 - f.version
	pkg := &manifest.Package{
		ID:      fmt.Sprintf("group-%d", f.seq),
		Updates: []manifest.KindUpdate{{Kind: memberKind, To: to, Targets: manifest.Targets{Actors: f.names}}},
		Groups:  []manifest.Group{{Name: "all", Members: f.names}},
	}
	return f.run(ctx, pkg, onEvent)
}

// UpdateAll updates every actor of the fleet with one all-at-once package
// that targets the kind's whole fleet (targets: all), FleetMaxInFlight
// actors at a time. It returns the time manager.Run took, from the call to
// the package's end in hand (planning included), and the package's
// PACKAGE_DONE event; onEvent is as for UpdateGroup.
func (f *Fleet) UpdateAll(ctx context.Context, onEvent func(*manager.Event)) (time.Duration, *manager.Event, error) {
	pkg := &manifest.Package{
		ID:      fmt.Sprintf("fleet-%d", f.seq),
		Updates: []manifest.KindUpdate{{Kind: memberKind, To: 3 - f.version, Targets: manifest.Targets{All: true}}},
		Rollout: manifest.Rollout{MaxInFlight: FleetMaxInFlight},
	}
	return f.run(ctx, pkg, onEvent)
}

// run runs pkg and checks that every actor committed.
func (f *Fleet) run(ctx context.Context, pkg *manifest.Package, onEvent func(*manager.Event)) (time.Duration, *manager.Event, error) {
	// A package that hangs fails, after a bound that grows with the fleet:
	// 50 µs per actor, twice what an update takes in a package under the
	// race detector.
	ctx, cancel := context.WithTimeout(ctx, waitFor+time.Duration(len(f.names))*50*time.Microsecond)
	defer cancel()
	f.seq++
	start := time.Now()
	done, err := f.mgr.Run(ctx, pkg, onEvent)
	d := time.Since(start)
	if err != nil {
		return d, nil, fmt.Errorf("package %s: %w", pkg.ID, err)
	}
	n := len(f.names)
	if done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED || int(done.GetUpdated()) != n || done.GetFailed() != 0 {
		return d, done, fmt.Errorf("package %s (%d actors, %d→%d): %v, %d updated, %d failed, want all %d updated: %s",
			pkg.ID, n, f.version, 3-f.version, done.GetPackageOutcome(), done.GetUpdated(), done.GetFailed(), n, done.GetReason())
	}
	f.version = 3 - f.version
	return d, done, nil
}

// Verify checks that the node's directory has every actor of the fleet at
// the fleet's version.
func (f *Fleet) Verify() error {
	dir := f.node.Directory()
	for i, pid := range f.pids {
		e, ok := dir.Lookup(pid)
		switch {
		case !ok:
			return fmt.Errorf("harness: fleet actor %s is not in the directory", f.names[i])
		case e.Version != f.version:
			return fmt.Errorf("harness: fleet actor %s runs version %d, want %d", f.names[i], e.Version, f.version)
		}
	}
	return nil
}

// Close stops the update manager and shuts the node down, with its
// actors.
func (f *Fleet) Close() error {
	f.mgr.Stop()
	f.node.Shutdown()
	return nil
}
