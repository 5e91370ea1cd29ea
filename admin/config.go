package admin

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultName is the name the admin actor is spawned under unless
// Config.Name says otherwise: a constant of the API, so that another
// process reaches a node's admin at actor.NewPID(nodeAddress,
// admin.DefaultName) without being told its PID.
const DefaultName = "molt-admin"

// Defaults of Config's limits. The admin's requests may come from other
// processes, so everything it reads, keeps or answers is bounded; the
// defaults are far beyond what an operator's tool sends.
const (
	// DefaultPageSize is the ListActors page when the request sets no
	// limit.
	DefaultPageSize = 100
	// DefaultMaxPageSize bounds a ListActors page. An actor's entry
	// carries its last result, whose reason may be 4 KiB: 200 of them
	// stay well under a gRPC message's default 4 MiB.
	DefaultMaxPageSize = 200
	// DefaultMaxTargets bounds the actors one UpdateActors may select; a
	// fleet beyond it is the update manager's work, with batches and a
	// failure budget.
	DefaultMaxTargets = 1000
	// DefaultMaxOperations bounds the UpdateActors running at once.
	DefaultMaxOperations = 16
	// DefaultMaxSubscribers bounds the admin's event subscribers.
	DefaultMaxSubscribers = 64
	// DefaultMaxLabels bounds the labels of a filter.
	DefaultMaxLabels = 32
	// DefaultMaxStringBytes bounds every name, kind, label key and value,
	// id and address in a request: update.MaxIDLength, the actors' own
	// bound on an id.
	DefaultMaxStringBytes = 1024
	// DefaultMaxDocumentBytes bounds a RunPackage's document, as the
	// manager's default does.
	DefaultMaxDocumentBytes = 1 << 20
	// DefaultMaxTrackedPackages bounds the packages whose progress the
	// admin records, to roll back the last one.
	DefaultMaxTrackedPackages = 64
	// DefaultManagerTimeout bounds the wait for the manager's answer to a
	// package request.
	DefaultManagerTimeout = 10 * time.Second
	// DefaultTakeoverTimeout bounds the wait for the takeover service's
	// answer to TakeoverStatus: under the CLI's default --timeout, so that
	// a slow service is told as such rather than as a node that does not
	// answer.
	DefaultTakeoverTimeout = 5 * time.Second
	// DefaultPeerTimeout bounds each member's answer to a request an
	// admin forwards to it: a cluster-wide list asks in at most two
	// rounds, which stays under the CLI's default --timeout of 10 s.
	DefaultPeerTimeout = 3 * time.Second
	// DefaultMaxPeers bounds the members a cluster-wide request goes to.
	DefaultMaxPeers = 256
	// DefaultClusterPackageTimeout bounds how long an admin follows a
	// cluster-wide package for a member that neither ends it nor is seen
	// to leave (a partition protoactor does not report).
	DefaultClusterPackageTimeout = time.Hour
)

// MaxNameBytes bounds Config.Name.
const MaxNameBytes = 256

// Config sets the admin's name and limits. A zero field takes its default.
type Config struct {
	// Name is the admin actor's name, its PID's id; empty is DefaultName.
	// At most MaxNameBytes, with no '/' or '$' (protoactor's child
	// separator and generated ids).
	Name               string
	DefaultPageSize    int
	MaxPageSize        int
	MaxTargets         int
	MaxOperations      int
	MaxSubscribers     int
	MaxLabels          int
	MaxStringBytes     int
	MaxDocumentBytes   int
	MaxTrackedPackages int
	ManagerTimeout     time.Duration
	TakeoverTimeout    time.Duration

	// Cluster, when set, makes ListActors, RunPackage and CancelPackage
	// cluster-wide (unless the request says local): the admin forwards
	// them, marked local, to the admin of every member Cluster.Members
	// names (at the same Name), over the node's remote, which presents the
	// node's own credential (RemoteConfig.Token, DialTLS); each member's
	// admin authorizes that node as it would the CLI. nil: the node's own
	// actors alone. cluster.AdminCluster wires a cluster member.
	Cluster Cluster
	// PeerTimeout bounds each member's answer to a forwarded request; a
	// member that does not answer in time is reported as such.
	PeerTimeout time.Duration
	// MaxPeers bounds the members a cluster-wide request goes to; a
	// cluster over it is refused.
	MaxPeers int
	// ClusterPackageTimeout bounds how long a cluster-wide package is
	// followed after it started on every member.
	ClusterPackageTimeout time.Duration
}

// Cluster is what an admin knows of the cluster its node is a member of.
// Its methods are called from the admin's actor and must not block long;
// they may be called concurrently with anything else.
type Cluster interface {
	// Members returns the remote addresses (host:port) of the cluster's
	// members as the node sees them now, its own included or not.
	Members() []string
	// SetVersion sets kind's version for the whole cluster: new
	// activations start at v on every member, and every member brings
	// the activations it holds to v. It returns an error wrapping
	// ErrNotClusterKind when no member hosts kind as a cluster kind.
	SetVersion(kind string, v uint32) error
}

// ErrNotClusterKind is wrapped by Cluster.SetVersion's error for a kind
// that is not hosted as a cluster kind: its actors are named actors, which
// a package moves and nothing else places.
var ErrNotClusterKind = errors.New("admin: not a cluster kind")

// Validate reports every field out of range, each by name.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{
		{"DefaultPageSize", c.DefaultPageSize},
		{"MaxPageSize", c.MaxPageSize},
		{"MaxTargets", c.MaxTargets},
		{"MaxOperations", c.MaxOperations},
		{"MaxSubscribers", c.MaxSubscribers},
		{"MaxLabels", c.MaxLabels},
		{"MaxStringBytes", c.MaxStringBytes},
		{"MaxDocumentBytes", c.MaxDocumentBytes},
		{"MaxTrackedPackages", c.MaxTrackedPackages},
		{"MaxPeers", c.MaxPeers},
	} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("admin: Config.%s is %d: give a positive limit, or 0 for the default", f.name, f.v))
		}
	}
	if c.ManagerTimeout < 0 {
		errs = append(errs, fmt.Errorf("admin: Config.ManagerTimeout is %v: give a positive duration, or 0 for the default", c.ManagerTimeout))
	}
	if c.TakeoverTimeout < 0 {
		errs = append(errs, fmt.Errorf("admin: Config.TakeoverTimeout is %v: give a positive duration, or 0 for the default", c.TakeoverTimeout))
	}
	if c.PeerTimeout < 0 {
		errs = append(errs, fmt.Errorf("admin: Config.PeerTimeout is %v: give a positive duration, or 0 for the default", c.PeerTimeout))
	}
	if c.ClusterPackageTimeout < 0 {
		errs = append(errs, fmt.Errorf("admin: Config.ClusterPackageTimeout is %v: give a positive duration, or 0 for the default", c.ClusterPackageTimeout))
	}
	if c.MaxStringBytes > DefaultMaxStringBytes {
		errs = append(errs, fmt.Errorf("admin: Config.MaxStringBytes is %d, over %d: actors refuse longer ids", c.MaxStringBytes, DefaultMaxStringBytes))
	}
	switch {
	case len(c.Name) > MaxNameBytes:
		errs = append(errs, fmt.Errorf("admin: Config.Name is %d bytes, over %d", len(c.Name), MaxNameBytes))
	case strings.ContainsAny(c.Name, "/$"):
		errs = append(errs, fmt.Errorf("admin: Config.Name %q has a '/' or a '$': protoactor reserves them for child paths and generated ids", c.Name))
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.DefaultPageSize, DefaultPageSize)
	def(&c.MaxPageSize, DefaultMaxPageSize)
	// A default page over a smaller maximum is the maximum.
	c.DefaultPageSize = min(c.DefaultPageSize, c.MaxPageSize)
	def(&c.MaxTargets, DefaultMaxTargets)
	def(&c.MaxOperations, DefaultMaxOperations)
	def(&c.MaxSubscribers, DefaultMaxSubscribers)
	def(&c.MaxLabels, DefaultMaxLabels)
	def(&c.MaxStringBytes, DefaultMaxStringBytes)
	def(&c.MaxDocumentBytes, DefaultMaxDocumentBytes)
	def(&c.MaxTrackedPackages, DefaultMaxTrackedPackages)
	if c.ManagerTimeout == 0 {
		c.ManagerTimeout = DefaultManagerTimeout
	}
	if c.TakeoverTimeout == 0 {
		c.TakeoverTimeout = DefaultTakeoverTimeout
	}
	def(&c.MaxPeers, DefaultMaxPeers)
	if c.PeerTimeout == 0 {
		c.PeerTimeout = DefaultPeerTimeout
	}
	if c.ClusterPackageTimeout == 0 {
		c.ClusterPackageTimeout = DefaultClusterPackageTimeout
	}
	if c.Name == "" {
		c.Name = DefaultName
	}
	return c
}
