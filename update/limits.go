package update

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/durationpb"
)

// DefaultDeadline bounds an update whose request sets no deadline.
const DefaultDeadline = 2 * time.Second

// MaxDeadline is the longest deadline an update may ask for. An actor is
// held for at most its deadline; a longer one is almost certainly a unit
// mistake (seconds taken for milliseconds).
const MaxDeadline = 10 * time.Minute

// MaxProbation is the longest probation window in time.
const MaxProbation = 24 * time.Hour

// Limits on what a request may carry. Requests come from other processes
// too, so every count and length an actor would keep or echo is bounded;
// the defaults are far beyond what an honest request needs, and a request
// over one is rejected with a reason naming the limit, before anything is
// touched.
const (
	// MinDeadline is the shortest deadline an update may ask for. Below it
	// the deadline would pass while the request is still being validated,
	// before the actor could even be asked whether it is stable, so the
	// update could only abort.
	MinDeadline = time.Millisecond
	// MaxIDLength bounds, in bytes, an update_id (in UpdateActor,
	// CommitUpdate and AbortUpdate), each name in UpdateActor.group, and the
	// address and id of Probation.report_to.
	MaxIDLength = 1024
	// MaxGroupMembers bounds the number of names in UpdateActor.group.
	MaxGroupMembers = 4096
	// MaxReasonLength bounds, in bytes, the reason of an AbortUpdate.
	MaxReasonLength = 4096
)

// RefOf names pid in a Probation's report_to. It returns nil for a nil PID.
func RefOf(pid *actor.PID) *ActorRef {
	if pid == nil {
		return nil
	}
	return &ActorRef{Address: pid.GetAddress(), Id: pid.GetId()}
}

// PID returns the PID r names, or nil if r is nil or names no id.
func (r *ActorRef) PID() *actor.PID {
	if r.GetId() == "" {
		return nil
	}
	return actor.NewPID(r.GetAddress(), r.GetId())
}

// Validate checks what can be checked of the request without the actor:
// the limits above, the deadline's and the probation's ranges, a target
// version, an update_id for a staged update. The actor checks the rest
// (the version it runs, the catalogue) when the update starts. The error
// says what is wrong and what to do; actor.Node.Update calls Validate
// before it sends anything, and a rejected update's reason is its text.
func (req *UpdateActor) Validate() error {
	if n := len(req.GetUpdateId()); n > MaxIDLength {
		return fmt.Errorf("update_id is %d bytes, over the limit of %d (update.MaxIDLength); give a shorter id", n, MaxIDLength)
	}
	if n := len(req.GetGroup()); n > MaxGroupMembers {
		return fmt.Errorf("group names %d members, over the limit of %d (update.MaxGroupMembers); split the update", n, MaxGroupMembers)
	}
	for i, m := range req.GetGroup() {
		if len(m) > MaxIDLength {
			return fmt.Errorf("group member %d is %d bytes, over the limit of %d (update.MaxIDLength) for a PID id", i, len(m), MaxIDLength)
		}
	}
	if _, err := deadlineOf(req); err != nil {
		return err
	}
	if req.GetToVersion() == 0 {
		return errors.New("to_version is missing: name the version to update to (versions are numbered from 1)")
	}
	if req.GetStage() && req.GetUpdateId() == "" {
		return errors.New("a staged update needs an update_id, which its CommitUpdate or AbortUpdate will name")
	}
	if pr := req.GetProbation(); pr != nil {
		return checkProbation(pr)
	}
	return nil
}

// deadlineOf returns the deadline the request asks for, DefaultDeadline if
// none, or why it is out of range.
func deadlineOf(req *UpdateActor) (time.Duration, error) {
	pd := req.GetDeadline()
	if pd == nil {
		return DefaultDeadline, nil
	}
	if err := pd.CheckValid(); err != nil {
		return 0, fmt.Errorf("invalid deadline: %v; give one from %v (update.MinDeadline) to %v (update.MaxDeadline), or leave it unset for %v", err, MinDeadline, MaxDeadline, DefaultDeadline)
	}
	d := pd.AsDuration()
	switch {
	case d <= 0:
		return 0, fmt.Errorf("deadline %s is out of range: give a positive duration from the minimum of %v (update.MinDeadline) to the maximum of %v (update.MaxDeadline), or leave it unset for %v", showDuration(pd), MinDeadline, MaxDeadline, DefaultDeadline)
	case d < MinDeadline:
		return 0, fmt.Errorf("deadline %s is out of range: it is below the minimum of %v (update.MinDeadline) and too short to be met, since it would pass while the update is still being validated; give at least %v, or leave it unset for %v", showDuration(pd), MinDeadline, MinDeadline, DefaultDeadline)
	case d > MaxDeadline:
		return 0, fmt.Errorf("deadline %s is out of range: it is above the maximum of %v (update.MaxDeadline), the longest an actor may be held (seconds taken for milliseconds?); give at most %v, or leave it unset for %v", showDuration(pd), MaxDeadline, MaxDeadline, DefaultDeadline)
	}
	return d, nil
}

// showDuration prints a valid protobuf Duration as a Go duration when it
// fits in one, and in seconds otherwise: AsDuration saturates at about 292
// years, which would print a value nobody sent.
func showDuration(pd *durationpb.Duration) string {
	const maxSeconds = int64(math.MaxInt64 / int64(time.Second))
	if s := pd.GetSeconds(); s > maxSeconds || s < -maxSeconds {
		return fmt.Sprintf("%ds", s)
	}
	return pd.AsDuration().String()
}

func checkProbation(p *Probation) error {
	if d := p.GetDuration(); d != nil {
		if err := d.CheckValid(); err != nil {
			return fmt.Errorf("invalid probation duration: %v; give one up to %v (update.MaxProbation)", err, MaxProbation)
		}
		if dd := d.AsDuration(); dd <= 0 || dd > MaxProbation {
			return fmt.Errorf("probation duration %s is out of range: give a positive duration up to %v (update.MaxProbation)", showDuration(d), MaxProbation)
		}
	}
	if p.GetMessages() == 0 && p.GetDuration() == nil {
		return errors.New("probation has no window: give it a number of messages, a duration, or both")
	}
	if r := p.GetReportTo(); r != nil {
		if n := len(r.GetId()); n > MaxIDLength {
			return fmt.Errorf("probation report_to id is %d bytes, over the limit of %d (update.MaxIDLength) for a PID id", n, MaxIDLength)
		}
		if n := len(r.GetAddress()); n > MaxIDLength {
			return fmt.Errorf("probation report_to address is %d bytes, over the limit of %d (update.MaxIDLength) for a PID address", n, MaxIDLength)
		}
	}
	return nil
}

// Validate checks the limits of a CommitUpdate.
func (m *CommitUpdate) Validate() error { return checkDecisionID(m.GetUpdateId()) }

// Validate checks the limits of an AbortUpdate.
func (m *AbortUpdate) Validate() error {
	if err := checkDecisionID(m.GetUpdateId()); err != nil {
		return err
	}
	if n := len(m.GetReason()); n > MaxReasonLength {
		return fmt.Errorf("the abort's reason is %d bytes, over the limit of %d (update.MaxReasonLength); give a shorter reason", n, MaxReasonLength)
	}
	return nil
}

func checkDecisionID(id string) error {
	if n := len(id); n > MaxIDLength {
		return fmt.Errorf("update_id is %d bytes, over the limit of %d (update.MaxIDLength); no update can have that id", n, MaxIDLength)
	}
	return nil
}
