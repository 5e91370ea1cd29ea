// Package leaktest checks molt's test packages for leaked goroutines with
// goleak, except goroutines protoactor-go leaves behind by itself that
// end on their own or belong to a process about to exit.
package leaktest

import (
	"testing"

	"go.uber.org/goleak"
)

// Upstream are the goroutines ignored:
//   - protoactor's dead-letter throttle: a dead letter near the end of a
//     test (a reply to a requester that is gone, a tick to an actor that
//     stopped) starts one that waits out the throttle interval, a second,
//     then ends;
//   - three of gRPC's, which protoactor remote leaves when a node shuts
//     down while an endpoint writer still dials a peer that has gone: it
//     never closes that client connection. Its initialization keeps the
//     connection and its stream when the connect request or the response
//     then fails (remote/endpoint_writer.go, initializeInternal), and the
//     stream's goroutine waits for the connection to close.
var Upstream = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
	goleak.IgnoreTopFunction("google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"),
	goleak.IgnoreTopFunction("google.golang.org/grpc.(*addrConn).resetTransport"),
	goleak.IgnoreTopFunction("google.golang.org/grpc.newClientStreamWithParams.func4"),
}

// VerifyTestMain runs the tests of m and fails if goroutines other than
// Upstream's are left.
func VerifyTestMain(m *testing.M) { goleak.VerifyTestMain(m, Upstream...) }
