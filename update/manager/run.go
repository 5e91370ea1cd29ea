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
	id   string // the package's
	uid  string // this run's update id: the package id and a sequence number
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
	pause    *time.Timer    // the pause between batches, if one runs
	stepFail int            // units of the current step that failed

	rollbackFailed int
	committed      map[string]*memberState // by actor name, for probation results
	probing        int                     // committed members whose timed probation has not ended
	active         map[*unitState]bool     // units in flight, for the sweep
	sweeper        *time.Timer
	start          time.Time
	timer          *time.Timer // the package deadline
	onEvent        func(*Event)
	finished       chan *Event
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
	aborting, canary            bool
}

type memberState struct {
	u           *unitState
	m           manifest.Member
	final       bool // a final result came
	staged      bool
	updated     bool      // committed
	rollingBack bool      // its rollback is in flight
	probed      bool      // its probation ended
	sentAt      time.Time // when its rollback was sent
}

func (u *unitState) group() bool { return u.unit.Group != "" }

func newRun(m *managerActor, plan *manifest.Plan, seq uint64, onEvent func(*Event), finished chan *Event) *run {
	pkg := plan.Package
	r := &run{m: m, id: pkg.ID, uid: fmt.Sprintf("%s#%d", pkg.ID, seq), plan: plan, pkg: pkg, start: time.Now(), onEvent: onEvent, finished: finished}
	r.req = &update.UpdateActor{UpdateId: r.uid, Deadline: durationpb.New(pkg.Quiescence.PerActor.Duration)}
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
		r.timer = time.AfterFunc(d, func() { root.Send(self, &packageDeadline{id: r.uid}) })
	}
	r.armSweep(ctx)
	r.startStep(ctx, 0)
}

// A member answers within twice its deadline (a staged one waits that long
// for its decision); one that has not, a while after, stopped with the
// update in its mailbox or lost it: the sweep takes that as its answer, so
// that no package waits forever.
func (r *run) answerLimit() time.Duration { return 2*r.pkg.Quiescence.PerActor.Duration + time.Second }

func (r *run) armSweep(ctx pa.Context) {
	self, root, id := ctx.Self(), ctx.ActorSystem().Root, r.uid
	every := min(max(r.pkg.Quiescence.PerActor.Duration, 50*time.Millisecond), time.Second)
	r.sweeper = time.AfterFunc(every, func() { root.Send(self, &sweep{id: id}) })
}

func (r *run) sweep(ctx pa.Context) {
	limit := r.answerLimit()
	var late []*memberState
	for u := range r.active {
		if time.Since(u.start) > limit {
			for _, ms := range u.members {
				if !ms.final {
					late = append(late, ms)
				}
			}
		}
	}
	for _, ms := range r.rollback {
		if ms.rollingBack && time.Since(ms.sentAt) > limit {
			late = append(late, ms)
		}
	}
	for _, ms := range late {
		res := &update.UpdateResult{
			UpdateId: r.uid, Actor: ms.m.Name, Kind: ms.m.Kind, Outcome: update.Outcome_OUTCOME_ABORTED,
			Reason: fmt.Sprintf("no answer within %v: the actor stopped with the update in its mailbox, or lost it", limit),
		}
		if ms.rollingBack {
			r.onRollback(ctx, ms, res)
		} else {
			r.onResult(ctx, ms, res)
		}
	}
	if !r.ended {
		r.armSweep(ctx)
	}
}

func (r *run) startStep(ctx pa.Context, i int) {
	if i > 0 && r.stepFail > 0 && i < len(r.plan.Steps) {
		// What the next steps depend on is not all updated.
		r.halt(ctx, PackageOutcome_PACKAGE_OUTCOME_HALTED, fmt.Sprintf("step %d had %d failed units: the steps that depend on it do not start", i, r.stepFail))
		r.settle(ctx)
		return
	}
	if i == len(r.plan.Steps) {
		why := ""
		if r.failed > 0 {
			why = fmt.Sprintf("%d units failed, within the failure budget of %d", r.failed, r.pkg.Rollout.FailureBudget)
		}
		r.finish(ctx, PackageOutcome_PACKAGE_OUTCOME_COMPLETED, why)
		return
	}
	r.step, r.stepFail = i, 0
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
		us := &unitState{r: r, unit: u, step: r.step, canary: b.Canary}
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
	if r.active == nil {
		r.active = map[*unitState]bool{}
	}
	r.active[u] = true
	var group []string
	if u.group() {
		for _, ms := range u.members {
			group = append(group, ms.m.Name)
		}
	}
	if p := r.req.Probation; p != nil && p.ReportTo == nil {
		// A probation's outcome comes to the manager only if it is named:
		// the requester of an update gets its UpdateResult and nothing more.
		p.ReportTo = update.RefOf(ctx.Self())
	}
	for _, ms := range u.members {
		r.m.track(ms)
		ctx.Request(ms.m.PID, &update.UpdateActor{
			UpdateId: r.uid, ToVersion: ms.m.To, FromVersion: ms.m.From,
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
		switch {
		case u.aborting:
			ctx.Send(ms.m.PID, &update.AbortUpdate{UpdateId: r.uid, Reason: u.failure})
		case u.staged < len(u.members):
		case time.Since(u.start) > r.pkg.Quiescence.PerActor.Duration:
			// Members wait for the decision a while past their deadline,
			// so that a commit sent now reaches all of them; past the
			// group's deadline, none is sent.
			r.abortGroup(ctx, u, nil, fmt.Sprintf("every member staged, but only after the group deadline of %v", r.pkg.Quiescence.PerActor.Duration))
		default:
			r.emit(&Event{Type: EventType_GROUP_STAGED, Step: uint32(u.step + 1), Group: u.unit.Group, LatencyNs: int64(time.Since(u.start))})
			for _, o := range u.members {
				ctx.Send(o.m.PID, &update.CommitUpdate{UpdateId: r.uid})
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
			r.abortGroup(ctx, u, ms, "")
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

// abortGroup tells the members of u, but failed, that the group aborts:
// one member failed, or the group's deadline passed.
func (r *run) abortGroup(ctx pa.Context, u *unitState, failed *memberState, why string) {
	u.aborting = true
	if u.failure == "" {
		u.failure = why
	}
	for _, o := range u.members {
		if !o.final && o != failed {
			ctx.Send(o.m.PID, &update.AbortUpdate{UpdateId: r.uid, Reason: "the group aborted: " + u.failure})
		}
	}
}

func (r *run) unitDone(ctx pa.Context, u *unitState) {
	r.inFlight--
	delete(r.active, u)
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
		if r.pkg.Probation != nil {
			if r.committed == nil {
				r.committed = map[string]*memberState{}
			}
			for _, ms := range u.members {
				if ms.updated {
					r.committed[ms.m.Name] = ms
					if r.pkg.Probation.Duration.Duration > 0 {
						r.probing++
					}
				}
			}
		}
	}
	if !ok {
		r.stepFail++
		r.fail(ctx, u.failure)
		if u.canary {
			r.halt(ctx, PackageOutcome_PACKAGE_OUTCOME_HALTED, "a canary failed: "+u.failure)
		}
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
	if r.pause != nil && r.pause.Stop() {
		r.pause = nil
		r.inFlight-- // the pause held the run; it is over
	}
	r.emit(&Event{Type: EventType_HALTED, PackageOutcome: outcome, Reason: why, Updated: uint32(r.updated), Failed: uint32(r.failed)})
}

// settle moves the run on once nothing is in flight: next batch, next step,
// rollback or the end.
func (r *run) settle(ctx pa.Context) {
	if r.inFlight > 0 || len(r.queue) > 0 || len(r.rollback) > 0 || r.ended {
		return
	}
	if r.probing > 0 && r.step == len(r.plan.Steps)-1 && r.batch == len(r.plan.Steps[r.step].Batches)-1 {
		// Every unit is done; a package with a timed probation ends when
		// the probations have, so that their failures count.
		return
	}
	if r.halted {
		if r.outcome == PackageOutcome_PACKAGE_OUTCOME_HALTED && r.pkg.Rollout.OnBudgetExceeded == manifest.OnBudgetRollback {
			r.outcome = PackageOutcome_PACKAGE_OUTCOME_ROLLED_BACK
			r.startRollback(ctx)
			return
		}
		if r.outcome == PackageOutcome_PACKAGE_OUTCOME_ROLLED_BACK && r.rollbackFailed > 0 {
			r.outcome = PackageOutcome_PACKAGE_OUTCOME_HALTED
			r.reason += fmt.Sprintf("; %d rollbacks failed, those actors stay on the new version", r.rollbackFailed)
		}
		r.finish(ctx, r.outcome, r.reason)
		return
	}
	if p := r.pkg.Rollout.Pause.Duration; p > 0 && r.batch+1 < len(r.plan.Steps[r.step].Batches) {
		self, root, step, batch := ctx.Self(), ctx.ActorSystem().Root, r.step, r.batch+1
		r.pause = time.AfterFunc(p, func() { root.Send(self, &nextBatch{id: r.uid, step: step, batch: batch}) })
		r.queue = nil
		r.inFlight++ // the pause holds the run until nextBatch
		return
	}
	r.startBatch(ctx, r.batch+1)
}

// resume starts a batch after a pause.
func (r *run) resume(ctx pa.Context, nb *nextBatch) {
	if r.pause == nil {
		return // the pause was cut short by a halt
	}
	r.pause = nil
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
		ms.rollingBack, ms.sentAt = true, time.Now()
		r.m.track(ms)
		ctx.Request(ms.m.PID, &update.UpdateActor{UpdateId: r.uid, ToVersion: ms.m.From, FromVersion: ms.m.To, Deadline: r.req.Deadline})
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
	} else {
		r.rollbackFailed++
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
	if ms := r.committed[res.GetActor()]; ms != nil && r.pkg.Probation.Duration.Duration > 0 && !ms.probed {
		ms.probed = true
		r.probing--
		defer r.settle(ctx)
	}
	r.emit(&Event{
		Type: EventType_PROBATION_ENDED, Actor: res.GetActor(), Kind: res.GetKind(),
		FromVersion: res.GetProbationVersion(), ToVersion: res.GetVersion(),
		Probation: res.GetOutcome(), Reason: res.GetReason(), LatencyNs: res.GetDurationNs(),
	})
	switch res.GetOutcome() {
	case update.ProbationOutcome_PROBATION_OUTCOME_ROLLED_BACK:
		if ms := r.committed[res.GetActor()]; ms != nil && ms.updated {
			ms.updated = false
			r.updated--
			if ms.u.group() && !r.halted {
				// The group must not stay split: its other members follow.
				r.rollBackUnits(ctx, []*unitState{ms.u})
			}
		}
	case update.ProbationOutcome_PROBATION_OUTCOME_ROLLBACK_FAILED:
	default:
		return
	}
	r.fail(ctx, fmt.Sprintf("%s %s on probation: %s", res.GetKind(), res.GetActor(), res.GetReason()))
	r.settle(ctx)
}

func (r *run) finish(ctx pa.Context, outcome PackageOutcome, why string) {
	r.ended = true
	if r.timer != nil {
		r.timer.Stop()
	}
	if r.sweeper != nil {
		r.sweeper.Stop()
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
