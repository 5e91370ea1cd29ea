package actor

import (
	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/extensions"
)

// nodeExtensionID names, among an actor system's extensions, the node that
// runs on it.
var nodeExtensionID = extensions.NextExtensionID()

type nodeExtension struct{ node *Node }

func (*nodeExtension) ExtensionID() extensions.ExtensionID { return nodeExtensionID }

// register makes n the node NodeOf finds from contexts of its system that
// are not a molt actor's. The first node made on a system keeps it.
func (n *Node) register() {
	ext := n.system.Extensions
	if _, taken := ext.Get(nodeExtensionID).(*nodeExtension); !taken {
		ext.Register(&nodeExtension{node: n})
	}
}

// NodeOf returns the node behind a context, so that a behaviour can spawn
// and update molt actors (its children, with WithParent(ctx)) without a
// *Node captured in a closure. For the context of a molt actor, it is the
// node that spawned the actor. For any other context (a plain protoactor
// actor's, the root context), it is the node made on that context's actor
// system: the first one, if several share the system. It is nil when no
// node runs on the system; NodeOf never panics on a context it cannot place.
//
// Call it where the context is current (in Receive), as with protoactor's
// Actor, or keep the *Node it returns: the node never changes.
func NodeOf(ctx pa.SpawnerContext) *Node {
	if ctx == nil {
		return nil
	}
	switch c := ctx.(type) {
	case *messageContext:
		return c.h.node
	case pa.Context:
		if h, ok := c.Actor().(*host); ok {
			return h.node
		}
	}
	sys := ctx.ActorSystem()
	if sys == nil || sys.Extensions == nil {
		return nil
	}
	if e, ok := sys.Extensions.Get(nodeExtensionID).(*nodeExtension); ok {
		return e.node
	}
	return nil
}
