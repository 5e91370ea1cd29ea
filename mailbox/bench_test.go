package mailbox_test

import (
	"sync/atomic"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/mailbox"
)

// tally is an invoker that counts user messages and closes done at target.
type tally struct {
	n      atomic.Int64
	target int64
	done   chan struct{}
}

func (c *tally) InvokeSystemMessage(any) {}
func (c *tally) InvokeUserMessage(any) {
	if c.n.Add(1) == c.target {
		close(c.done)
	}
}
func (c *tally) EscalateFailure(reason, message any) { panic(reason) }

// BenchmarkPost posts b.N messages from one producer to a mailbox whose
// consumer counts them, on protoactor's default dispatcher, and waits until
// all have been delivered: protoactor's default mailbox against ours.
func BenchmarkPost(b *testing.B) {
	msg := any(&struct{ n int }{})
	for _, bc := range []struct {
		name string
		make actor.MailboxProducer
	}{
		{"protoactor", actor.Unbounded()},
		{"molt", mailbox.Producer()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			mb := bc.make()
			inv := &tally{target: int64(b.N), done: make(chan struct{})}
			mb.RegisterHandlers(inv, actor.NewDefaultDispatcher(300))
			mb.Start()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				mb.PostUserMessage(msg)
			}
			<-inv.done
		})
	}
}

// BenchmarkHoldRelease measures a message parked while the mailbox holds
// and delivered on release: batches of 1000 messages, posted while holding,
// then released.
func BenchmarkHoldRelease(b *testing.B) {
	const batch = 1000
	msg := any(&struct{ n int }{})
	mb := mailbox.New()
	inv := &tally{target: -1}
	mb.RegisterHandlers(inv, actor.NewSynchronizedDispatcher(300))
	mb.Start()
	hold := &ctl{name: "hold", run: func() { mb.Hold(nil) }}
	release := &ctl{name: "release", run: mb.Release}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		mb.PostUserMessage(hold)
		for j := 0; j < batch && i+j < b.N; j++ {
			mb.PostUserMessage(msg)
		}
		mb.PostUserMessage(release)
	}
	b.StopTimer()
	if got, want := inv.n.Load(), int64(b.N+2*((b.N+batch-1)/batch)); got != want {
		b.Fatalf("%d deliveries, want %d", got, want)
	}
}

// BenchmarkPostPingPong posts one message at a time and waits for its
// delivery before posting the next, so that the queue never grows: the cost
// of a post, a wake-up and a delivery, protoactor's default mailbox against
// ours.
func BenchmarkPostPingPong(b *testing.B) {
	msg := any(&struct{ n int }{})
	for _, bc := range []struct {
		name string
		make actor.MailboxProducer
	}{
		{"protoactor", actor.Unbounded()},
		{"molt", mailbox.Producer()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			mb := bc.make()
			inv := &signaller{got: make(chan struct{}, 1)}
			mb.RegisterHandlers(inv, actor.NewDefaultDispatcher(300))
			mb.Start()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				mb.PostUserMessage(msg)
				<-inv.got
			}
		})
	}
}

type signaller struct{ got chan struct{} }

func (s *signaller) InvokeSystemMessage(any)             {}
func (s *signaller) InvokeUserMessage(any)               { s.got <- struct{}{} }
func (s *signaller) EscalateFailure(reason, message any) { panic(reason) }
