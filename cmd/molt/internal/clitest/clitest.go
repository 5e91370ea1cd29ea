// Package clitest holds what the CLI's tests and their test node share:
// the kinds a test node runs and the node itself, with its update manager
// and admin service.
package clitest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/admin"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update/manager"
)

// The "svc" kind goes from version 1 to 2 and back; its migration to 3
// always fails (an abort in state transfer). "oneway" goes up only, so
// bench has no way back.

type svcV1 struct{ N int }

func (*svcV1) Receive(pa.Context) {}

type svcV2 struct{ N int64 }

func (*svcV2) Receive(pa.Context) {}

type svcV3 struct{ N int64 }

func (*svcV3) Receive(pa.Context) {}

type onewayV1 struct{ N int }

func (*onewayV1) Receive(pa.Context) {}

type onewayV2 struct{ N int }

func (*onewayV2) Receive(pa.Context) {}

// Catalog returns the catalogue of svc and oneway.
func Catalog() (*registry.Catalog, error) {
	cat := registry.New()
	return cat, errors.Join(
		registry.Register(cat, "svc", 1, func() *svcV1 { return &svcV1{} }),
		registry.Register(cat, "svc", 2, func() *svcV2 { return &svcV2{} }),
		registry.Register(cat, "svc", 3, func() *svcV3 { return &svcV3{} }),
		registry.Migrate(cat, "svc", 1, 2, func(o *svcV1) (*svcV2, error) { return &svcV2{N: int64(o.N)}, nil }),
		registry.Migrate(cat, "svc", 2, 1, func(o *svcV2) (*svcV1, error) { return &svcV1{N: int(o.N)}, nil }),
		registry.Migrate(cat, "svc", 1, 3, func(*svcV1) (*svcV3, error) { return nil, errors.New("version 3 refuses this state") }),
		registry.Register(cat, "oneway", 1, func() *onewayV1 { return &onewayV1{} }),
		registry.Register(cat, "oneway", 2, func() *onewayV2 { return &onewayV2{} }),
		registry.Migrate(cat, "oneway", 1, 2, func(o *onewayV1) (*onewayV2, error) { return &onewayV2{N: o.N}, nil }),
	)
}

// Node is a test node: remote on loopback, an update manager and (unless
// without) the admin service, and four actors: svc s-00, s-01 (region
// eu), s-02 (region us), and oneway o-00.
type Node struct {
	*molt.Node
	Manager *manager.Manager
	Admin   *admin.Admin
}

// Start starts a test node; Stop stops it.
func Start(rc molt.RemoteConfig, withAdmin bool) (*Node, error) {
	return start(rc, withAdmin, true, admin.Config{})
}

// Members is the cluster of the CLI's cluster tests, for
// admin.Config.Cluster: test nodes that know each other by address, with
// no cluster provider, so that each holds the same named actors and the
// CLI's output does not depend on a placement. The kinds in Hosted stand
// for cluster kinds: SetVersion records their targets, and refuses the
// others with admin.ErrNotClusterKind, as a cluster member does.
type Members struct {
	Hosted []string

	mu      sync.Mutex
	addrs   []string
	targets map[string]uint32
}

// Add makes address one of the members.
func (m *Members) Add(address string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addrs = append(m.addrs, address)
}

// Members returns the members' addresses.
func (m *Members) Members() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.addrs)
}

// SetVersion records kind's target, if kind is hosted.
func (m *Members) SetVersion(kind string, v uint32) error {
	if !slices.Contains(m.Hosted, kind) {
		return fmt.Errorf("%w: %q", admin.ErrNotClusterKind, kind)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.targets == nil {
		m.targets = map[string]uint32{}
	}
	m.targets[kind] = v
	return nil
}

// Target returns the target SetVersion recorded for kind, 0 if none.
func (m *Members) Target(kind string) uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.targets[kind]
}

// StartMembers starts n test nodes, each with the actors Start gives and
// an admin whose Config.Cluster is members (every node is added to it),
// with cfg's other fields. Stop each.
func StartMembers(n int, members *Members, cfg admin.Config) ([]*Node, error) {
	cfg.Cluster = members
	var out []*Node
	for range n {
		node, err := start(molt.RemoteConfig{}, true, true, cfg)
		if err != nil {
			for _, o := range out {
				o.Stop()
			}
			return nil, err
		}
		members.Add(node.Address())
		out = append(out, node)
	}
	return out, nil
}

// StartEmpty starts a test node with its update manager and admin
// service and no actor: a node that takes another's actors over.
func StartEmpty(rc molt.RemoteConfig) (*Node, error) {
	return start(rc, true, false, admin.Config{})
}

func start(rc molt.RemoteConfig, withAdmin, actors bool, cfg admin.Config) (*Node, error) {
	cat, err := Catalog()
	if err != nil {
		return nil, err
	}
	// A message to a stopped subscriber is a dead letter, whose log
	// throttle keeps a goroutine for its interval: short, for the tests'
	// leak checks.
	node, err := molt.StartNode(cat, molt.WithRemote(rc), molt.WithConfig(pa.WithDeadLetterThrottleInterval(time.Millisecond)))
	if err != nil {
		return nil, err
	}
	n := &Node{Node: node}
	if withAdmin {
		n.Manager = manager.Spawn(node)
		if n.Admin, err = admin.Spawn(node, n.Manager, cfg); err != nil {
			n.Stop()
			return nil, err
		}
	}
	if !actors {
		return n, nil
	}
	for _, a := range []struct{ kind, name, region string }{
		{"svc", "s-00", "eu"}, {"svc", "s-01", "eu"}, {"svc", "s-02", "us"}, {"oneway", "o-00", "us"},
	} {
		if _, err := node.Spawn(a.kind, 1, molt.WithName(a.name), molt.WithLabels(map[string]string{"region": a.region})); err != nil {
			n.Stop()
			return nil, fmt.Errorf("spawn %s: %w", a.name, err)
		}
	}
	return n, nil
}

// Stop stops the admin, the manager and the node.
func (n *Node) Stop() {
	if n.Admin != nil {
		n.Admin.Stop()
	}
	if n.Manager != nil {
		n.Manager.Stop()
	}
	n.Shutdown()
}
