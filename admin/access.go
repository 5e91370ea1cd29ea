package admin

import (
	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
)

// authorize is the one place the admin asks whether the request it is
// delivering may act on this node: every request passes here first, and a
// refusal is answered with Refused before anything in the request is read.
// The node's access control decides (molt.Authorize): a request sent in
// this process is allowed, one from another process only if the node's
// RemoteConfig.Allow accepts its authenticated origin.
func authorize(ctx pa.Context) error {
	return molt.Authorize(ctx)
}

// fromThisProcess says whether the message being delivered was sent in
// this process. The manager's events are, and the admin relays and
// records only those: an event forged by another process must not reach
// the subscribers or change what RollBackLast rolls back.
func fromThisProcess(ctx pa.Context) bool {
	_, remote := molt.OriginOf(ctx)
	return !remote
}
