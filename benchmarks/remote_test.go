package main_test

import (
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/benchmarks/harness"
	"github.com/molt-go/molt/internal/remotetest"
	"github.com/molt-go/molt/update"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// protoactorDefaults gives back what molt's remote defaults change:
// gRPC's flow-control windows grown by BDP estimation (a window size of
// 0 is gRPC's default), and protoactor's million-slot endpoint writer
// queue.
var protoactorDefaults = []remote.ConfigOption{
	remote.WithEndpointWriterQueueSize(1000000),
	remote.WithServerOptions(grpc.InitialWindowSize(0), grpc.InitialConnWindowSize(0)),
	remote.WithDialOptions(grpc.WithInitialWindowSize(0), grpc.WithInitialConnWindowSize(0)),
}

// BenchmarkRemoteUpdate updates one small-state actor back and forth
// between versions 1 and 2 with a RequestFuture, from another node over
// loopback ("remote": serialization, gRPC both ways, the origin check)
// and, for comparison, from the actor's own node ("in-process", the same
// Future without the network). One op is one update, timed from the
// request to the result in hand.
//
// "protoactor-floor" is the floor under any remote update on protoactor:
// a plain actor that answers a protobuf request over the same two
// remotes, no molt in the way; remote/floor is the share of the remote
// round trip that protoactor's transport takes. "protoactor-defaults"
// runs remote and floor again between two other nodes that set
// protoactor's and gRPC's defaults back (protoactorDefaults), to show
// what molt's remote defaults (actor/remote.go) change.
func BenchmarkRemoteUpdate(b *testing.B) {
	cat, err := remotetest.Catalog()
	must(b, err)
	run := func(b *testing.B, root *pa.RootContext, target *pa.PID, msg func() any) {
		rec := harness.NewRecorder()
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			m := msg()
			t0 := time.Now()
			reply, err := root.RequestFuture(target, m, 10*time.Second).Result()
			rec.Record(time.Since(t0))
			if err != nil {
				b.Fatal(err)
			}
			if u, ok := m.(*update.UpdateActor); ok {
				if res := reply.(*update.UpdateResult); res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
					b.Fatalf("update to %d: %v", u.ToVersion, res)
				}
			}
		}
		b.StopTimer()
		reportLatency(b, "", rec)
	}
	// pair runs the sub-benchmarks between two nodes started with options.
	pair := func(b *testing.B, inProcess bool, options ...remote.ConfigOption) {
		start := func() *molt.Node {
			n, err := molt.StartNode(cat, molt.WithRemote(molt.RemoteConfig{Options: options}))
			must(b, err)
			return n
		}
		client, server := start(), start()
		defer server.Shutdown()
		defer client.Shutdown()
		pid, err := server.Spawn(remotetest.Kind, 1, molt.WithName("tally"))
		must(b, err)
		echo, err := server.System().Root.SpawnNamed(pa.PropsFromFunc(func(ctx pa.Context) {
			if m, ok := ctx.Message().(*wrapperspb.StringValue); ok {
				ctx.Respond(m)
			}
		}), "echo")
		must(b, err)

		version := uint32(1) // the actor's, across runs and sub-benchmarks
		flip := func() any {
			version = 3 - version
			return &update.UpdateActor{ToVersion: version}
		}
		ping := wrapperspb.String("ping")
		// A PID caches the process of the first system that resolves it:
		// one each, so the remote PID goes through the client's remote.
		b.Run("remote", func(b *testing.B) {
			run(b, client.Root(), pa.NewPID(server.Address(), pid.GetId()), flip)
		})
		if inProcess {
			b.Run("in-process", func(b *testing.B) {
				run(b, server.Root(), pa.NewPID(server.Address(), pid.GetId()), flip)
			})
		}
		floor := "protoactor-floor"
		if !inProcess {
			floor = "floor"
		}
		b.Run(floor, func(b *testing.B) {
			run(b, client.Root(), pa.NewPID(server.Address(), echo.GetId()), func() any { return ping })
		})
	}
	pair(b, true)
	b.Run("protoactor-defaults", func(b *testing.B) { pair(b, false, protoactorDefaults...) })
}
