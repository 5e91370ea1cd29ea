package cluster

import (
	"fmt"
	"slices"
	"strings"

	pa "github.com/asynkron/protoactor-go/actor"
	pc "github.com/asynkron/protoactor-go/cluster"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
)

// Runnable returns the versions of kind the catalogue can run (not those
// registered with RegisterState only), ascending.
func Runnable(cat *registry.Catalog, kind string) []uint32 {
	infos, ok := cat.Describe(kind)
	if !ok {
		return nil
	}
	var out []uint32
	for _, vi := range infos {
		if !vi.StateOnly {
			out = append(out, vi.Version)
		}
	}
	slices.Sort(out)
	return out
}

// activate starts ci's activation as a molt actor of node at version v, a
// child of parent named name (so that its PID is parent's id, "/", name),
// with what protoactor's cluster kinds give their activations: the cluster
// identity in the context (cluster.GetClusterIdentity), a *cluster.ClusterInit
// right after *actor.Started, and, when it stops, its PID taken out of the
// member's PID cache.
func activate(node *molt.Node, ci *pc.ClusterIdentity, v uint32, parent pa.SpawnerContext, name string, options ...molt.SpawnOption) (*pa.PID, error) {
	opts := append(slices.Clip(options),
		molt.WithParent(parent),
		molt.WithName(name),
		molt.WithLabels(map[string]string{LabelIdentity: ci.Identity}),
		molt.WithProps(
			pa.WithOnInit(func(ctx pa.Context) { pc.SetClusterIdentity(ctx, ci) }),
			pa.WithReceiverMiddleware(grainMiddleware),
		))
	return node.Spawn(ci.Kind, v, opts...)
}

// LabelIdentity is the directory label that holds a grain's identity
// (molt ls shows it; update packages can select grains by it).
const LabelIdentity = "molt.cluster/identity"

// grainMiddleware does for a molt activation what protoactor's cluster
// middleware does for its own (that middleware is not exported).
func grainMiddleware(next pa.ReceiverFunc) pa.ReceiverFunc {
	return func(c pa.ReceiverContext, env *pa.MessageEnvelope) {
		switch env.Message.(type) {
		case *pa.Started:
			next(c, env)
			if cl := clusterOf(c.ActorSystem()); cl != nil {
				next(c, pa.WrapEnvelope(&pc.ClusterInit{Identity: pc.GetClusterIdentity(c), Cluster: cl}))
			}
		case *pa.Stopped:
			if cl := clusterOf(c.ActorSystem()); cl != nil {
				ci := pc.GetClusterIdentity(c)
				cl.PidCache.RemoveByValue(ci.Identity, ci.Kind, c.Self())
				cl.ActorSystem.EventStream.Publish(&pc.ActivationTerminating{Pid: c.Self(), ClusterIdentity: ci})
			}
			next(c, env)
		default:
			next(c, env)
		}
	}
}

// clusterOf is cluster.GetCluster without its panic for a system that runs
// no cluster.
func clusterOf(sys *pa.ActorSystem) *pc.Cluster {
	var none *pc.Cluster // ExtensionID does not read its receiver
	c, _ := sys.Extensions.Get(none.ExtensionID()).(*pc.Cluster)
	return c
}

// Kind returns a protoactor cluster kind whose activations are molt actors
// of node, of the kind of the same name, at version (0: the newest version
// the catalogue runs). Use it with protoactor's own identity lookups
// (disthash): every activation is a molt actor that accepts UpdateActor,
// but placement knows nothing of versions. Start (the version-aware
// lookup) registers its kinds itself.
//
// protoactor's placement spawns an activation with the kind's Props; these
// Props carry a spawn function that spawns the molt actor instead, under
// the same id, as a child of the same parent. It reads the cluster identity
// back from the id, which protoactor's lookups make as the identity
// followed by a "$" and a number.
func Kind(node *molt.Node, kind string, version uint32) (*pc.Kind, error) {
	if version == 0 {
		vs := Runnable(node.Catalog(), kind)
		if len(vs) == 0 {
			return nil, fmt.Errorf("molt cluster: %w %q: the catalogue runs no version of it", registry.ErrUnknownKind, kind)
		}
		version = vs[len(vs)-1]
	}
	if _, err := node.Catalog().Instantiate(kind, version); err != nil {
		return nil, fmt.Errorf("molt cluster: kind %q: %w", kind, err)
	}
	spawn := func(_ *pa.ActorSystem, id string, _ *pa.Props, parent pa.SpawnerContext) (*pa.PID, error) {
		name := id
		if self := parent.Self(); self != nil {
			name = strings.TrimPrefix(id, self.Id+"/")
		}
		identity := name
		if i := strings.LastIndexByte(name, '$'); i > 0 {
			identity = name[:i]
		}
		return activate(node, pc.NewClusterIdentity(identity, kind), version, parent, name)
	}
	props := pa.PropsFromFunc(func(pa.Context) {}, pa.WithSpawnFunc(spawn))
	return &pc.Kind{Kind: kind, Props: props}, nil
}
