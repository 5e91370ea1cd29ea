package admin

import (
	"fmt"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/update"
)

// op runs one UpdateActors: a child of the admin that sends each target
// its UpdateActor, collects the results and answers the requester, then
// stops. A staged op is all-or-nothing: it commits once every target has
// staged, and aborts the others as soon as one fails.
type op struct {
	req     *update.UpdateActor
	targets []*pa.PID
	index   map[string]int // target by PID id, which results name
	reply   *pa.PID        // nil: nobody to answer
	results []*update.UpdateResult
	staged  []bool
	nStaged int
	finals  int
	decided bool // a staged op has sent its commit or abort
	timer   *time.Timer
}

// opTimeout tells an op that its targets had their time to answer.
type opTimeout struct{}

func newOp(req *update.UpdateActor, targets []*pa.PID, reply *pa.PID) *op {
	o := &op{req: req, targets: targets, reply: reply, index: make(map[string]int, len(targets)),
		results: make([]*update.UpdateResult, len(targets)), staged: make([]bool, len(targets))}
	for i, t := range targets {
		o.index[t.GetId()] = i
	}
	return o
}

// wait is how long an op waits for its answers: as Node.Update and the
// manager do, twice the deadline plus a second, which covers a staged
// member waiting for its decision.
func (o *op) wait() time.Duration {
	d := update.DefaultDeadline
	if pd := o.req.GetDeadline(); pd != nil {
		d = pd.AsDuration() // validated: within MinDeadline and MaxDeadline
	}
	return 2*d + time.Second
}

func (o *op) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case *pa.Started:
		for _, t := range o.targets {
			ctx.Request(t, o.req)
		}
		self, root := ctx.Self(), ctx.ActorSystem().Root
		o.timer = time.AfterFunc(o.wait(), func() { root.Send(self, opTimeout{}) })
	case *pa.Stopping:
		if o.timer != nil {
			o.timer.Stop()
		}
	case *update.UpdateResult:
		o.onResult(ctx, m)
	case opTimeout:
		for i, r := range o.results {
			if r == nil {
				o.results[i] = &update.UpdateResult{
					UpdateId: o.req.GetUpdateId(),
					Actor:    o.targets[i].GetId(),
					Reason:   fmt.Sprintf("no answer within %v: the actor stopped with the update in its mailbox, or it is busy", o.wait()),
				}
			}
		}
		o.abortRest(ctx, "the admin's staged update ran out of time")
		o.finish(ctx)
	}
}

func (o *op) onResult(ctx pa.Context, r *update.UpdateResult) {
	i, ok := o.index[r.GetActor()]
	if !ok || o.results[i] != nil || r.GetUpdateId() != o.req.GetUpdateId() {
		// Not one of ours, or an answer after the final one (a refused
		// abort to an actor that had already ended).
		return
	}
	if r.GetOutcome() == update.Outcome_OUTCOME_STAGED {
		if !o.staged[i] {
			o.staged[i] = true
			o.nStaged++
		}
		if !o.decided && o.nStaged == len(o.targets) {
			o.decided = true
			for _, t := range o.targets {
				ctx.Send(t, &update.CommitUpdate{UpdateId: o.req.GetUpdateId()})
			}
		}
		return
	}
	o.results[i] = r
	o.finals++
	if o.req.GetStage() && r.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		reason := fmt.Sprintf("the admin's staged update aborted: %s %s in %s", r.GetActor(), r.GetOutcome(), r.GetPhase())
		if len(reason) > update.MaxReasonLength {
			reason = reason[:update.MaxReasonLength]
		}
		o.abortRest(ctx, reason)
	}
	if o.finals == len(o.targets) {
		o.finish(ctx)
	}
}

// abortRest aborts, once, the staged update on every target that has not
// ended: all-or-nothing.
func (o *op) abortRest(ctx pa.Context, reason string) {
	if !o.req.GetStage() || o.decided {
		return
	}
	o.decided = true
	for i, t := range o.targets {
		if o.results[i] == nil || o.results[i].GetOutcome() == update.Outcome_OUTCOME_UNSPECIFIED {
			ctx.Send(t, &update.AbortUpdate{UpdateId: o.req.GetUpdateId(), Reason: reason})
		}
	}
}

func (o *op) finish(ctx pa.Context) {
	out := &UpdateActorsResult{UpdateId: o.req.GetUpdateId(), Results: o.results}
	if o.req.GetStage() {
		out.Committed = true
		for _, r := range o.results {
			out.Committed = out.Committed && r.GetOutcome() == update.Outcome_OUTCOME_COMMITTED
		}
	}
	if o.reply != nil {
		ctx.Send(o.reply, out)
	}
	ctx.Stop(ctx.Self())
}
