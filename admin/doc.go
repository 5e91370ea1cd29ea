// Package admin is a molt node's admin service: a well-known actor that
// operators' tools (molt's CLI, or any process with the node's remote)
// drive with the protobuf messages of admin.proto.
//
//	m, _ := manager.SpawnConfig(node, manager.Config{Name: manager.DefaultName})
//	a, err := admin.Spawn(node, m, admin.Config{})  // named admin.DefaultName, "molt-admin"
//
// Another process reaches it at actor.NewPID(nodeAddress, "molt-admin") and
// sends, with Request or RequestFuture:
//
//   - ListActors: the live actors (name, PID, kind, version, labels, queued
//     and held messages, last update result), filtered by kind and labels,
//     a page at a time (ActorList);
//   - DescribeKind: a kind's versions, message interfaces, adapters and
//     migrations up and down (KindDescription);
//   - UpdateActors: update one actor, by name or PID, or a selection by kind
//     and labels, with a deadline, an order, and staged all-or-nothing;
//     answered with every actor's UpdateResult (UpdateActorsResult);
//   - RunPackage, CancelPackage: run, dry-run or cancel an update package
//     through the update manager (the manager's PackageAccepted or
//     PackageRefused);
//   - RollBackLast: run the inverse of the last package that moved actors;
//   - Subscribe, Unsubscribe: the manager's progress Events, relayed;
//   - TakeoverStatus: how a takeover of this node, or by it, goes, asked
//     of the node's takeover service (TakeoverProgress).
//
// With Config.Cluster (cluster.AdminCluster for a cluster member),
// ListActors, RunPackage and CancelPackage speak for the whole cluster
// unless they say local: the admin forwards them, marked local, to every
// member's admin and combines the answers (ActorList with a status per
// member; ClusterPackage; then MemberEvent per member and
// ClusterPackageDone to the subscribers). A package is planned on every
// member before it runs on any; once every member completed, the kinds it
// moved as a whole get their cluster target (Cluster.SetVersion). See
// docs/operating.md, "Cluster".
//
// A request the admin does not act on is answered with Refused, touching
// nothing: over a limit of Config, malformed, or refused by the node's
// access control. Every request is bounded (page sizes, selections,
// strings, labels, documents, subscribers, operations at once), as the
// rest of molt is, since requests may come from other processes.
//
// The admin keeps no state of the node's own: actors' counts and last
// results come from actor.Node.Status, kinds from the catalogue, packages
// from the manager. What it keeps is its subscribers, its running updates
// and, from the manager's events, which actors the recent packages moved,
// to roll the last one back. See docs/operating.md, "Admin service".
package admin
