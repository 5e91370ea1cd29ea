package actor_test

import (
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
)

// The delivery benchmarks measure what the host adds per message: one op is
// one message sent from outside and delivered to the behaviour. Plain is the
// hot path (no adapter for the message's type); Adapted goes through an
// adapter and the context that shows the adapted message.

type sinkMsg struct{}
type sinkOld struct{}

type sink struct {
	want, got int
	done      chan struct{}
}

func (s *sink) Receive(ctx pa.Context) {
	if _, ok := ctx.Message().(*sinkMsg); ok {
		s.got++
		if s.got == s.want {
			close(s.done)
		}
	}
}

func benchDeliver(b *testing.B, msg any) {
	done := make(chan struct{})
	cat := registry.New()
	must(b, registry.Register(cat, "sink", 1, func() *sink { return &sink{want: b.N, done: done} }, registry.Transient("want", "got", "done")))
	must(b, registry.Adapt(cat, "sink", 1, func(*sinkOld) *sinkMsg { return &sinkMsg{} }))
	node := molt.NewNode(cat)
	defer node.Shutdown()
	pid, err := node.Spawn("sink", 1)
	must(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		node.Root().Send(pid, msg)
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatalf("the actor did not receive %d messages within a minute", b.N)
	}
}

func BenchmarkDeliverPlain(b *testing.B)   { benchDeliver(b, &sinkMsg{}) }
func BenchmarkDeliverAdapted(b *testing.B) { benchDeliver(b, &sinkOld{}) }
