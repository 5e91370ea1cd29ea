package cluster

import (
	"fmt"

	"github.com/molt-go/molt/admin"
)

// AdminCluster returns what the member's admin service needs to act on
// the whole cluster (admin.Config.Cluster): the members' addresses, from
// the topology the member follows (the one its placement uses), and
// SetVersion,
// so that a package that moves a kind's grains on every member also sets
// the kind's cluster target.
//
//	a, err := admin.Spawn(m.Node(), mgr, admin.Config{Cluster: cluster.AdminCluster(m)})
//
// Every member should run its admin under the same name (admin.DefaultName
// unless told otherwise): an admin reaches the others' at that name.
func AdminCluster(m *Member) admin.Cluster { return adminCluster{m} }

type adminCluster struct{ m *Member }

// Members returns the addresses of the members in the last topology the
// member saw, this member's included (its own join may not have reached
// it yet). Read under the table's lock: protoactor's MemberList swaps its
// member set without one.
func (c adminCluster) Members() []string {
	return append(c.m.table.addresses(), c.m.Address())
}

// SetVersion is Member.SetVersion, with admin.ErrNotClusterKind for a kind
// no member hosts: the admin then knows the package's actors of that kind
// are named actors, which nothing places.
func (c adminCluster) SetVersion(kind string, v uint32) error {
	if _, hosted := c.m.Version(kind); !hosted {
		return fmt.Errorf("%w: no member hosts %q", admin.ErrNotClusterKind, kind)
	}
	return c.m.SetVersion(kind, v)
}
