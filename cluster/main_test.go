package cluster_test

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// protoactor's test provider refreshes its TTL on a ticker that
		// Shutdown stops but whose goroutine ranges over the ticker's
		// channel, which is never closed: one per member, for ever.
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/cluster/clusterproviders/test.(*Provider).startTtlReport.func1"),
		// protoactor's throttles (the gossiper's logs) wait out their
		// period, 60 s, on a goroutine of their own after a member stops.
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/cluster.(*Gossiper).StartGossiping.NewThrottle.func3.1"),
	)
}
