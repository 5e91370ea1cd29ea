package main_test

import (
	"google.golang.org/protobuf/types/known/wrapperspb"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/benchmarks/harness"
	"github.com/molt-go/molt/internal/remotetest"
	"github.com/molt-go/molt/update"
)

// BenchmarkRemoteUpdate updates one small-state actor back and forth
// between versions 1 and 2 with a RequestFuture, from another node over
// loopback ("remote": serialization, gRPC both ways, the origin check)
// and, for comparison, from the actor's own node ("in-process", the same
// Future without the network). One op is one update, timed from the
// request to the result in hand.
func BenchmarkRemoteUpdate(b *testing.B) {
	cat, err := remotetest.Catalog()
	must(b, err)
	start := func() *molt.Node {
		n, err := molt.StartNode(cat, molt.WithRemote(molt.RemoteConfig{}))
		must(b, err)
		return n
	}
	client, server := start(), start()
	defer server.Shutdown()
	defer client.Shutdown()
	pid, err := server.Spawn(remotetest.Kind, 1, molt.WithName("tally"))
	must(b, err)

	version := uint32(1) // the actor's, across runs and sub-benchmarks
	run := func(b *testing.B, root *pa.RootContext, target *pa.PID) {
		rec := harness.NewRecorder()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			version = 3 - version
			t0 := time.Now()
			reply, err := root.RequestFuture(target, &update.UpdateActor{ToVersion: version}, 10*time.Second).Result()
			rec.Record(time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			if res := reply.(*update.UpdateResult); res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
				b.Fatalf("update to %d: %v", version, res)
			}
		}
		b.StopTimer()
		reportLatency(b, "", rec)
	}
	// A PID caches the process of the first system that resolves it: one
	// each, so the remote PID goes through the client's remote.
	b.Run("remote", func(b *testing.B) { run(b, client.Root(), pa.NewPID(server.Address(), pid.GetId())) })
	b.Run("in-process", func(b *testing.B) { run(b, server.Root(), pa.NewPID(server.Address(), pid.GetId())) })

	// The floor under any remote update on protoactor: a plain actor that
	// answers a protobuf request over the same two remotes, no molt in the
	// way. remote/floor is the share of the remote round trip that
	// protoactor's transport takes.
	echo, err := server.System().Root.SpawnNamed(pa.PropsFromFunc(func(ctx pa.Context) {
		if m, ok := ctx.Message().(*wrapperspb.StringValue); ok {
			ctx.Respond(m)
		}
	}), "echo")
	must(b, err)
	b.Run("protoactor-floor", func(b *testing.B) {
		target := pa.NewPID(server.Address(), echo.GetId())
		rec := harness.NewRecorder()
		msg := wrapperspb.String("ping")
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			t0 := time.Now()
			_, err := client.Root().RequestFuture(target, msg, 10*time.Second).Result()
			rec.Record(time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		reportLatency(b, "", rec)
	})
}
