package cli_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks for leaked goroutines, except two of gRPC's that
// protoactor remote leaves behind now and then: when the CLI's node shuts
// down while an endpoint writer is still dialling a peer that has gone (a
// test's killed node, a closed port), protoactor never closes that client
// connection, whose reconnect loop and callback serializer then outlive
// the node. They are upstream's, and a CLI process exits right after.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("google.golang.org/grpc/internal/grpcsync.(*CallbackSerializer).run"),
		goleak.IgnoreTopFunction("google.golang.org/grpc.(*addrConn).resetTransport"),
	)
}
