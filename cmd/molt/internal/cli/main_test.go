package cli_test

import (
	"slices"
	"testing"

	"github.com/molt-go/molt/internal/leaktest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, append(slices.Clip(leaktest.Upstream),
		// TestClusterGrains runs cluster members: protoactor's test
		// provider refreshes its TTL on a ticker whose goroutine ranges
		// over a channel never closed, one per member, for ever; and the
		// gossip's log throttles wait out their period, up to 60 s, on
		// goroutines of their own that outlive the member.
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/cluster/clusterproviders/test.(*Provider).startTtlReport.func1"),
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/cluster.(*Gossiper).StartGossiping.NewThrottle.func3.1"),
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/cluster.NewGossipActor.NewThrottleWithLogger.func2.1"),
	)...)
}
