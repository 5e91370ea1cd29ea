package manager

import (
	"fmt"
	"slices"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manifest"
	"google.golang.org/protobuf/types/known/durationpb"
)

// run is one package being carried out: a state machine over its plan's
// steps, batches and units, fed the results of the updates it sends. It
// runs on the manager actor's goroutine; its I/O goes through the manager.
type run struct {
	m    *managerActor
	id   string
	plan *manifest.Plan
	pkg  *manifest.Package // with defaults
	req  *update.UpdateActor

	step, batch int          // indices of the current step and batch
	queue       []*unitState // units of the current batch not started yet
	inFlight    int

	updated, failed, rolledBack int
	done                        [][]*unitState // committed units, by step
	halted, ended               bool
	outcome                     PackageOutcome
	reason                      string

	rollback []*memberState // members to roll back, in order
	sent     int            // rollbacks in flight
	start    time.Time
	timer    *time.Timer // the package deadline
	onEvent  func(*Event)
	finished chan *Event
}

type unitState struct {
	r       *run
	unit    manifest.Unit
	members []*memberState
	step    int
	start   time.Time
	// answered counts members with a final result; staged those STAGED.
	answered, staged, committed int
	failure                     string
	aborting                    bool
}

type memberState struct {
	u           *unitState
	m           manifest.Member
	final       bool // a final result came
	staged      bool
	updated     bool // committed
	rollingBack bool // its rollback is in flight
}

func (u *unitState) group() bool { return u.unit.Group != "" }

func newRun(m *managerActor, plan *manifest.Plan, onEvent func(*Event), finished chan *Event) *run {
	pkg := plan.Package
	r := &run{m: m, id: pkg.ID, plan: plan, pkg: pkg, start: time.Now(), onEvent: onEvent, finished: finished}
	r.req = &update.UpdateActor{UpdateId: pkg.ID, Deadline: durationpb.New(pkg.Quiescence.PerActor.Duration)}
	if p := pkg.Probation; p != nil {
		r.req.Probation = &update.Probation{Messages: uint32(p.Messages)}
		if p.Duration.Duration > 0 {
			r.req.Probation.Duration = durationpb.New(p.Duration.Duration)
		}
	}
	return r
}

// listened reports whether anyone hears the run's events: a fleet's
// per-actor events are not worth making for nobody.
func (r *run) listened() bool { return r.onEvent != nil || len(r.m.subscribers) > 0 }

func (r *run) emit(e *Event) {
	e.PackageId = r.id
	r.m.emit(r, e)
}

// begin starts the first step.
func (r *run) begin(ctx pa.Context) {
	r.emit(&Event{Type: EventType_PACKAGE_STARTED, Reason: r.pkg.Description})
	if d := r.pkg.Quiescence.Package.Duration; d > 0 {
		self, root := ctx.Self(), ctx.ActorSystem().Root
		r.timer = time.AfterFunc(d, func() { root.Send(self, &packageDeadline{id: r.id}) })
	}
	r.startStep(ctx, 0)
}

func (r *run) startStep(ctx pa.Context, i int) {
	if i == len(r.plan.Steps) {
		r.finish(ctx, PackageOutcome_PACKAGE_OUTCOME_COMPLETED, "")
		return
	}
	r.step = i
	r.done = append(r.done, nil)
	r.emit(&Event{Type: EventType_STEP_STARTED, Step: uint32(i + 1), Reason: fmt.Sprint(r.plan.Steps[i].Names)})
	r.startBatch(ctx, 0)
}

func (r *run) startBatch(ctx pa.Context, j int) {
	batches := r.plan.Steps[r.step].Batches
	if j == len(batches) {
		r.startStep(ctx, r.step+1)
		return
	}
	r.batch = j
	b := batches[j]
	r.queue = r.queue[:0]
	for _, u := range b.Units {
		us := &unitState{r: r, unit: u, step: r.step}
		for _, mb := range u.Members {
			us.members = append(us.members, &memberState{u: us, m: mb})
		}
		r.queue = append(r.queue, us)
	}
	ev := &Event{Type: EventType_BATCH_STARTED, Step: uint32(r.step + 1), Batch: uint32(j + 1)}
	if b.Canary {
		ev.Reason = "canary"
	}
	r.emit(ev)
	r.pump(ctx)
}

// pump starts queued units while the rollout allows.
func (r *run) pump(ctx pa.Context) {
	for !r.halted && len(r.queue) > 0 && r.inFlight < r.pkg.Rollout.MaxInFlight {
		u := r.queue[0]
		r.queue = r.queue[1:]
		r.launch(ctx, u)
	}
	r.settle(ctx)
}

func (r *run) launch(ctx pa.Context, u *unitState) {
	r.inFlight++
	u.start = time.Now()
	var group []string
	if u.group() {
		for _, ms := range u.members {
			group = append(group, ms.m.Name)
		}
	}
	for _, ms := range u.members {
		r.m.track(ms)
		ctx.Request(ms.m.PID, &update.UpdateActor{
			UpdateId: r.id, ToVersion: ms.m.To, FromVersion: ms.m.From,
			Deadline: r.req.Deadline, Probation: r.req.Probation, Stage: u.group(), Group: group,
		})
	}
}

// onResult takes the result of a member's update.
func (r *run) onResult(ctx pa.Context, ms *memberState, res *update.UpdateResult) {
	u := ms.u
	switch res.GetOutcome() {
	case update.Outcome_OUTCOME_STAGED:
		ms.staged = true
		u.staged++
		if u.aborting {
			ctx.Send(ms.m.PID, &update.AbortUpdate{UpdateId: r.id, Reason: u.failure})
		} else if u.staged == len(u.members) {
			r.emit(&Event{Type: EventType_GROUP_STAGED, Step: uint32(u.step + 1), Group: u.unit.Group, LatencyNs: int64(time.Since(u.start))})
			for _, o := range u.members {
				ctx.Send(o.m.PID, &update.CommitUpdate{UpdateId: r.id})
			}
		}
		return
	case update.Outcome_OUTCOME_COMMITTED:
		ms.updated = true
		u.committed++
	default:
		if u.failure == "" {
			u.failure = fmt.Sprintf("%s %s: %s in %s: %s", ms.m.Kind, ms.m.Name, outcomeName(res.GetOutcome()), phaseName(res.GetPhase()), res.GetReason())
		}
		if u.group() && !u.aborting {
			// One member failed: the others must not commit.
			u.aborting = true
			for _, o := range u.members {
				if !o.final && o != ms {
					ctx.Send(o.m.PID, &update.AbortUpdate{UpdateId: r.id, Reason: "the group aborted: " + u.failure})
				}
			}
		}
	}
	ms.final = true
	u.answered++
	r.m.untrack(ms)
	if r.listened() {
		r.emit(&Event{
			Type: EventType_ACTOR_UPDATED, Step: uint32(u.step + 1), Batch: uint32(r.batch + 1),
			Actor: ms.m.Name, Group: u.unit.Group, Kind: ms.m.Kind, FromVersion: ms.m.From, ToVersion: ms.m.To,
			Phase: res.GetPhase(), Outcome: res.GetOutcome(), Reason: res.GetReason(), LatencyNs: res.GetTotalNs(),
		})
	}
	if u.answered == len(u.members) {
		r.unitDone(ctx, u)
	}
}

func (r *run) unitDone(ctx pa.Context, u *unitState) {
	r.inFlight--
	ok := u.committed == len(u.members)
	if u.group() {
		t := EventType_GROUP_COMMITTED
		if !ok {
			t = EventType_GROUP_ABORTED
		}
		r.emit(&Event{Type: t, Step: uint32(u.step + 1), Group: u.unit.Group, Reason: u.failure, LatencyNs: int64(time.Since(u.start))})
	}
	if u.committed > 0 {
		// A unit that committed in part (a group member failing after the
		// decision) is kept for rollback too.
		r.done[u.step] = append(r.done[u.step], u)
		r.updated += u.committed
	}
	if !ok {
		r.fail(ctx, u.failure)
		if u.group() && u.committed > 0 {
			r.rollBackUnits(ctx, []*unitState{u})
		}
	}
	r.pump(ctx)
}

// fail counts a failed unit against the budget.
func (r *run) fail(ctx pa.Context, why string) {
	r.failed++
	if !r.halted && r.failed > r.pkg.Rollout.FailureBudget {
		r.halt(ctx, PackageOutcome_PACKAGE_OUTCOME_HALTED, fmt.Sprintf("%d failed, over the failure budget of %d; the last: %s", r.failed, r.pkg.Rollout.FailureBudget, why))
	}
}

// halt stops new units; what is in flight finishes. With rollback on, what
// was updated is then rolled back.
func (r *run) halt(ctx pa.Context, outcome PackageOutcome, why string) {
	if r.halted {
		return
	}
	r.halted, r.outcome, r.reason = true, outcome, why
	r.queue = nil
	r.emit(&Event{Type: EventType_HALTED, PackageOutcome: outcome, Reason: why, Updated: uint32(r.updated), Failed: uint32(r.failed)})
}

// settle moves the run on once nothing is in flight: next batch, next step,
// rollback or the end.
func (r *run) settle(ctx pa.Context) {
	if r.inFlight > 0 || len(r.queue) > 0 || len(r.rollback) > 0 || r.ended {
		return
	}
	if r.halted {
		if r.outcome == PackageOutcome_PACKAGE_OUTCOME_HALTED && r.pkg.Rollout.OnBudgetExceeded == manifest.OnBudgetRollback {
			r.outcome = PackageOutcome_PACKAGE_OUTCOME_ROLLED_BACK
			r.startRollback(ctx)
			return
		}
		r.finish(ctx, r.outcome, r.reason)
		return
	}
	if p := r.pkg.Rollout.Pause.Duration; p > 0 && r.batch+1 < len(r.plan.Steps[r.step].Batches) {
		self, root, step, batch := ctx.Self(), ctx.ActorSystem().Root, r.step, r.batch+1
		time.AfterFunc(p, func() { root.Send(self, &nextBatch{id: r.id, step: step, batch: batch}) })
		r.queue = nil
		r.inFlight++ // the pause holds the run until nextBatch
		return
	}
	r.startBatch(ctx, r.batch+1)
}

// resume starts a batch after a pause.
func (r *run) resume(ctx pa.Context, nb *nextBatch) {
	r.inFlight--
	if r.halted {
		r.settle(ctx)
		return
	}
	r.step = nb.step
	r.startBatch(ctx, nb.batch)
}

// startRollback rolls back what was updated, step by step in reverse order.
func (r *run) startRollback(ctx pa.Context) {
	r.emit(&Event{Type: EventType_ROLLBACK_STARTED, Updated: uint32(r.updated)})
	var units []*unitState
	for step := len(r.done) - 1; step >= 0; step-- {
		for i := len(r.done[step]) - 1; i >= 0; i-- {
			units = append(units, r.done[step][i])
		}
	}
	r.done = nil
	r.rollBackUnits(ctx, units)
	r.settle(ctx)
}

// rollBackUnits sends each updated member of units back to its old version.
// Steps are rolled back in reverse order: a member is sent its rollback
// only when the later steps' ones are over (rollbackNext).
func (r *run) rollBackUnits(ctx pa.Context, units []*unitState) {
	for _, u := range units {
		for i := len(u.members) - 1; i >= 0; i-- {
			if ms := u.members[i]; ms.updated {
				r.rollback = append(r.rollback, ms)
			}
		}
	}
	r.rollbackNext(ctx)
}

// rollbackNext sends the rollbacks of the step at the head of the list, all
// at once, once those of the step before it are over.
func (r *run) rollbackNext(ctx pa.Context) {
	if r.sent > 0 || len(r.rollback) == 0 {
		return
	}
	step := r.rollback[0].u.step
	for _, ms := range r.rollback {
		if ms.u.step != step {
			break
		}
		r.sent++
		ms.rollingBack = true
		r.m.track(ms)
		ctx.Request(ms.m.PID, &update.UpdateActor{UpdateId: r.id, ToVersion: ms.m.From, FromVersion: ms.m.To, Deadline: r.req.Deadline})
	}
}

// onRollback takes the result of a member's rollback.
func (r *run) onRollback(ctx pa.Context, ms *memberState, res *update.UpdateResult) {
	r.m.untrack(ms)
	ms.rollingBack = false
	r.sent--
	if i := slices.Index(r.rollback, ms); i >= 0 {
		r.rollback = slices.Delete(r.rollback, i, i+1)
	}
	if res.GetOutcome() == update.Outcome_OUTCOME_COMMITTED {
		ms.updated = false
		r.rolledBack++
		r.updated--
	}
	r.emit(&Event{
		Type: EventType_ACTOR_ROLLED_BACK, Step: uint32(ms.u.step + 1), Actor: ms.m.Name, Group: ms.u.unit.Group, Kind: ms.m.Kind,
		FromVersion: ms.m.To, ToVersion: ms.m.From, Phase: res.GetPhase(), Outcome: res.GetOutcome(), Reason: res.GetReason(), LatencyNs: res.GetTotalNs(),
	})
	r.rollbackNext(ctx)
	r.settle(ctx)
}

// onProbation takes the end of a member's probation; a rollback counts as a
// failure against the budget.
func (r *run) onProbation(ctx pa.Context, res *update.ProbationResult) {
	r.emit(&Event{
		Type: EventType_PROBATION_ENDED, Actor: res.GetActor(), Kind: res.GetKind(),
		FromVersion: res.GetProbationVersion(), ToVersion: res.GetVersion(),
		Probation: res.GetOutcome(), Reason: res.GetReason(), LatencyNs: res.GetDurationNs(),
	})
	if res.GetOutcome() == update.ProbationOutcome_PROBATION_OUTCOME_ROLLED_BACK || res.GetOutcome() == update.ProbationOutcome_PROBATION_OUTCOME_ROLLBACK_FAILED {
		r.updated--
		r.fail(ctx, fmt.Sprintf("%s %s on probation: %s", res.GetKind(), res.GetActor(), res.GetReason()))
		r.settle(ctx)
	}
}

func (r *run) finish(ctx pa.Context, outcome PackageOutcome, why string) {
	r.ended = true
	if r.timer != nil {
		r.timer.Stop()
	}
	ev := &Event{
		Type: EventType_PACKAGE_DONE, PackageOutcome: outcome, Reason: why, LatencyNs: int64(time.Since(r.start)),
		Updated: uint32(r.updated), Failed: uint32(r.failed), RolledBack: uint32(r.rolledBack),
	}
	r.emit(ev)
	r.m.end(r)
	if r.finished != nil {
		r.finished <- ev
	}
}

func outcomeName(o update.Outcome) string {
	switch o {
	case update.Outcome_OUTCOME_ABORTED:
		return "aborted"
	case update.Outcome_OUTCOME_REJECTED:
		return "rejected"
	}
	return o.String()
}

func phaseName(p update.Phase) string {
	switch p {
	case update.Phase_PHASE_INITIALIZATION:
		return "initialization"
	case update.Phase_PHASE_NOTIFICATION:
		return "notification"
	case update.Phase_PHASE_PREPARATION:
		return "preparation"
	case update.Phase_PHASE_STATE_CHECKING:
		return "state checking"
	case update.Phase_PHASE_STATE_TRANSFER:
		return "state transfer"
	case update.Phase_PHASE_REPLACEMENT:
		return "replacement"
	}
	return p.String()
}
