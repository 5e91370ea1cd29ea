package admin

import pa "github.com/asynkron/protoactor-go/actor"

// authorize is the one place the admin asks whether the request it is
// delivering may act on this node: every request passes here first, and a
// refusal is answered with Refused before anything in the request is read.
// It is where the node's access control for requests from other processes
// is called (molt's remote access control, once it lands in package actor:
// molt.Authorize(ctx)); until then every request is allowed, which is what
// a node without remote means anyway.
func authorize(ctx pa.Context) error {
	return nil
}

// fromThisProcess says whether the message being delivered was sent in
// this process. The manager's events are, and the admin relays and
// records only those: an event forged by another process must not reach
// the subscribers or change what RollBackLast rolls back. Until the
// node's remote says where a message came from (molt.OriginOf), every
// message counts as local.
func fromThisProcess(ctx pa.Context) bool {
	return true
}
