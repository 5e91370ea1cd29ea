// Package future tells protoactor's futures from actors, for the services
// that keep a PID to send to more than once (subscriptions).
package future

import (
	"strings"

	"github.com/asynkron/protoactor-go/actor"
)

// Is reports whether pid is one of protoactor's futures, which protoactor
// names "future$" and a sequence number. One answer completes a future,
// and protoactor lets whatever is sent to it afterwards (a Watch, an
// event) overwrite its result while its owner reads it: a data race, and
// nothing ever reads what came after. A service that would keep a future
// to send to again refuses it instead.
func Is(pid *actor.PID) bool { return strings.HasPrefix(pid.GetId(), "future$") }
