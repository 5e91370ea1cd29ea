// Package remotestop stops a protoactor remote around an upstream race.
package remotestop

import "github.com/asynkron/protoactor-go/remote"

// Graceful stops r as Shutdown(true) does: connections are told to close,
// the endpoint actors stop, and the gRPC server waits for its streams.
//
// protoactor's endpoint manager signals each connected reader on its
// channel, and a reader whose stream has just failed (a peer that left a
// moment before) closes that channel before it forgets it: the signal
// then panics with "send on closed channel" (upstream, in
// endpointManager.stop, on the caller's goroutine). What stop had left to
// do was that signalling; Graceful recovers and stops the gRPC server at
// once, which ends those readers' streams anyway. Any other panic goes on.
func Graceful(r *remote.Remote) {
	graceful(func() { r.Shutdown(true) }, func() { r.Shutdown(false) })
}

// graceful runs stop, and kill if stop panicked with a send on a closed
// channel.
func graceful(stop, kill func()) {
	defer func() {
		if p := recover(); p != nil {
			if err, ok := p.(error); !ok || err.Error() != "send on closed channel" {
				panic(p)
			}
			kill()
		}
	}()
	stop()
}
