package protocol

import (
	"time"

	"github.com/molt-go/molt/update"
)

// deadlineOf returns the deadline req asks for, update.DefaultDeadline if
// none. Initialization calls it only once req has passed Validate, which
// bounds the deadline, so there is no error left to report.
func deadlineOf(req *update.UpdateActor) time.Duration {
	if d := req.GetDeadline(); d != nil {
		return d.AsDuration()
	}
	return update.DefaultDeadline
}

// EchoID returns id, to echo in a result, or "" if id is over
// update.MaxIDLength: a result does not carry back an oversized id the
// request was rejected for.
func EchoID(id string) string {
	if len(id) > update.MaxIDLength {
		return ""
	}
	return id
}
