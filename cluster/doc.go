// Package cluster runs molt actors as the grains of a protoactor-go
// cluster: every activation is a molt actor of the member's node, so it
// accepts UpdateActor sent by identity, and grains are placed by version,
// only on members that run their kind's current version. Members publish
// the versions they run as version kinds in their member metadata; a
// kind's target version is gossiped; a compatibility policy (Adapt or Wait)
// decides whether callers of an older interface may reach a newer version.
// When a grain's owner changes (a member joins or leaves, the kind's
// version runs elsewhere), the member that holds it hands it over with its
// state, through the six phases of the cooperative update (handover.go);
// Member.Leave hands over every grain of a member that leaves. See
// docs/cluster.md.
package cluster
