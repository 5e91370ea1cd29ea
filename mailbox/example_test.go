package mailbox_test

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/mailbox"
)

// pause is a control message: it overtakes queued user messages.
type pause struct{}

func (pause) ControlLane() {}

// This example holds an actor's messages, lets the urgent ones through and
// then releases the others, in the order they arrived.
func Example() {
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	defer system.Shutdown()

	// The actor needs its mailbox to hold and release: keep it from the
	// producer.
	var mb *mailbox.Mailbox
	producer := mailbox.Producer()
	done := make(chan struct{})

	props := actor.PropsFromFunc(func(ctx actor.Context) {
		switch msg := ctx.Message().(type) {
		case pause:
			fmt.Println("pause: hold all but urgent messages")
			mb.Hold(func(m any) bool {
				s, ok := m.(string)
				return ok && strings.HasPrefix(s, "urgent")
			})
		case string:
			fmt.Println(msg)
			switch msg {
			case "urgent: resume":
				mb.Release()
			case "last":
				close(done)
			}
		}
	}, actor.WithMailbox(func() actor.Mailbox {
		mb = producer().(*mailbox.Mailbox)
		return mb
	}))
	pid := system.Root.Spawn(props)

	system.Root.Send(pid, pause{})
	for _, msg := range []string{"a", "b", "urgent: ping", "c", "urgent: resume", "last"} {
		system.Root.Send(pid, msg)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		fmt.Println("the last message did not arrive")
	}
	system.Root.StopFuture(pid).Wait()

	// Output:
	// pause: hold all but urgent messages
	// urgent: ping
	// urgent: resume
	// a
	// b
	// c
	// last
}
