package cluster_test

import (
	"os"
	"slices"
	"testing"

	"github.com/molt-go/molt/internal/leaktest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(etcdEnv) != "" {
		// The members' process of TestEtcdCluster: protoactor's etcd
		// provider leaks its client by design, so no goroutine check.
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m, append(slices.Clip(leaktest.Upstream),
		// protoactor's test provider refreshes its TTL on a ticker that
		// Shutdown stops but whose goroutine ranges over the ticker's
		// channel, which is never closed: one per member, for ever.
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/cluster/clusterproviders/test.(*Provider).startTtlReport.func1"),
		// protoactor's log throttles (the gossiper's, the gossip actor's;
		// dead letters' is among leaktest.Upstream) wait out their period, up to 60 s, on a goroutine
		// of their own, which outlives the member that started it.
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/cluster.(*Gossiper).StartGossiping.NewThrottle.func3.1"),
		goleak.IgnoreTopFunction("github.com/asynkron/protoactor-go/cluster.NewGossipActor.NewThrottleWithLogger.func2.1"),
	)...)
}
