package manager

import (
	"fmt"
	"slices"
	"strings"
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
	// failedUnits names the failed units in the order they failed (an
	// actor, or a group), for PACKAGE_DONE: a package that completes with
	// failures leaves them on their old version.
	failedUnits   []string
	done          [][]*unitState // committed units, by step
	halted, ended bool
	outcome       PackageOutcome
	reason        string

	rollback []*memberState // members to roll back, in order
	sent     int            // rollbacks in flight
	pause    *time.Timer    // the pause between batches, if one runs
	stepFail int            // units of the current step that failed

	rollbackFailed int
	// unanswered counts members written off by the sweep whose own answer
	// has not come: it may still, and must then be brought in line.
	unanswered int
	// rollingBackAll is set once the package's own rollback has started:
	// whatever commits late must go back too.
	rollingBackAll bool
	// notes say what happened beside the outcome (a member written off, a
	// group taken back); they go into the reason of the last events.
	noted     []string
	moreNotes int
	// changed says that something changed the package's result after its
	// PACKAGE_DONE: a PACKAGE_REVISED is due.
	changed   bool
	committed map[string]*memberState // by actor name, for probation results
	probing   int                     // committed members whose timed probation has not ended
	active    map[*unitState]bool     // units in flight, for the sweep
	sweeper   *time.Timer
	start     time.Time
	timer     *time.Timer // the package deadline
	onEvent   func(*Event)
	finished  chan runEnd
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
	queued      bool      // on the run's rollback list, or rolling back
	// writtenOff marks a member the sweep counted as failed for want of an
	// answer; it was told to abort, but its answer may still come
	// (lateRollback: the answer to a rollback).
	writtenOff, lateRollback bool
	// failedProbation: it went back to its old version on probation, so
	// its group must follow, even if the group is not done yet.
	failedProbation bool
}

func (u *unitState) group() bool { return u.unit.Group != "" }

func newRun(m *managerActor, plan *manifest.Plan, seq uint64, onEvent func(*Event), finished chan runEnd) *run {
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
	if r.ended {
		// Run has returned with PACKAGE_DONE: its callback may be gone.
		r.m.emit(nil, e)
		return
	}
	r.m.emit(r, e)
}

// note records what happened beside the outcome, for the reason of the
// package's last events; a fleet's worth of them is summed up, not listed.
func (r *run) note(s string) {
	const keep = 8
	if len(r.noted) < keep {
		r.noted = append(r.noted, s)
		return
	}
	r.moreNotes++
}

func (r *run) reasonWithNotes(why string) string {
	parts := r.noted
	if why != "" {
		parts = append([]string{why}, parts...)
	}
	s := strings.Join(parts, "; ")
	if r.moreNotes > 0 {
		s += fmt.Sprintf("; and %d more such", r.moreNotes)
	}
	return s
}

// doneEvent is the package's PACKAGE_DONE or PACKAGE_REVISED: outcome and
// counts as they are now.
func (r *run) doneEvent(typ EventType, outcome PackageOutcome, why string) *Event {
	return &Event{
		Type: typ, PackageOutcome: outcome, Reason: r.reasonWithNotes(why), LatencyNs: int64(time.Since(r.start)),
		Updated: uint32(r.updated), Failed: uint32(r.failed), RolledBack: uint32(r.rolledBack), Unanswered: uint32(r.unanswered),
		FailedUnits: slices.Clone(r.failedUnits[:min(len(r.failedUnits), listedFailures)]),
	}
}

// listedFailures is how many failed units PACKAGE_DONE names: enough to
// start looking, few enough for a fleet.
const listedFailures = 8

// failedUnit records a failed unit by name.
func (r *run) failedUnit(u *unitState) {
	r.failedUnits = append(r.failedUnits, u.unit.Name())
}

// completed is the outcome of a run whose every step ran: whether the
// fleet is mixed, and why, as it is now.
func (r *run) completed() (PackageOutcome, string) {
	if r.failed == 0 {
		return PackageOutcome_PACKAGE_OUTCOME_COMPLETED, ""
	}
	names := r.failedUnits[:min(len(r.failedUnits), listedFailures)]
	list := strings.Join(names, ", ")
	if more := r.failed - len(names); more > 0 {
		list += fmt.Sprintf(" and %d more", more)
	}
	return PackageOutcome_PACKAGE_OUTCOME_COMPLETED_WITH_FAILURES,
		fmt.Sprintf("%d units failed, within the failure budget of %d: %s; they run their old version, the rest the new one", r.failed, r.pkg.Rollout.FailureBudget, list)
}

// state says where the package is, for the error of a manager that stops.
func (r *run) state() string { return r.where(", whose results are lost") }

// where says where the package is; inFlight qualifies the updates in
// flight: lost when the manager stops, finishing when it is cancelled.
func (r *run) where(inFlight string) string {
	s := fmt.Sprintf("at step %d of %d, batch %d; %d updated, %d failed, %d rolled back; %d units and %d rollbacks in flight%s",
		r.step+1, len(r.plan.Steps), r.batch+1, r.updated, r.failed, r.rolledBack, len(r.active), r.sent, inFlight)
	if r.halted {
		s += "; it had halted: " + r.reason
	}
	return s
}

func (r *run) stopTimers() {
	for _, t := range []*time.Timer{r.timer, r.sweeper, r.pause} {
		if t != nil {
			t.Stop()
		}
	}
	r.timer, r.sweeper = nil, nil
}

// watched says whether an ended run still has something to bring in line:
// a member written off whose answer may come, a rollback in flight, or a
// group member on probation, whose failure takes its group back.
func (r *run) watched() bool {
	if r.needsSweep() {
		return true
	}
	for _, ms := range r.committed {
		if ms.u.group() && ms.updated && !ms.probed {
			return true
		}
	}
	return false
}

// needsSweep says whether some answer is awaited that might never come.
func (r *run) needsSweep() bool { return r.unanswered > 0 || len(r.rollback) > 0 }

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
	r.sweeper = nil
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
			Reason: fmt.Sprintf("no answer within %v: written off as failed; the actor is busy, stopped with the update in its mailbox, or lost it", limit),
		}
		// Written off, not forgotten: a busy actor answers once it is
		// free, and what it did then must be brought in line with its
		// group (onLate).
		ms.writtenOff = true
		r.unanswered++
		if ms.rollingBack {
			// Its rollback is not aborted: going back is what its group
			// needs, however late.
			ms.lateRollback = true
			r.note(fmt.Sprintf("%s's rollback had no answer within %v", ms.m.Name, limit))
			r.onRollback(ctx, ms, res)
		} else {
			// Aborted actively, so that it does not stage or commit once
			// free; the actor drops the update if it has not started it.
			ctx.Send(ms.m.PID, &update.AbortUpdate{UpdateId: r.uid, Reason: "written off: " + res.Reason})
			r.note(fmt.Sprintf("%s had no answer within %v and was told to abort", ms.m.Name, limit))
			r.onResult(ctx, ms, res)
		}
	}
	r.forgetStopped()
	if r.ended {
		r.settle(ctx)
	}
	if (!r.ended || r.needsSweep()) && r.sweeper == nil && r.m.lookup(r.uid) == r {
		r.armSweep(ctx)
	}
}

// forgetStopped stops waiting for written-off members that have stopped:
// their answer will never come, and they run no version any more.
func (r *run) forgetStopped() {
	for _, ms := range r.m.members {
		if ms.u.r != r || !ms.writtenOff {
			continue
		}
		if _, alive := r.m.node.Directory().Lookup(ms.m.PID); !alive {
			ms.writtenOff = false
			r.unanswered--
			r.m.untrack(ms)
			r.changed = true
			r.note(fmt.Sprintf("%s stopped without answering", ms.m.Name))
		}
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
		outcome, why := r.completed()
		r.finish(ctx, outcome, why)
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
	r.queue = slices.Grow(r.queue[:0], len(b.Units))
	// The batch's states are made in three allocations, not three per
	// unit: a fleet's batch is 100,000 lone actors.
	n := 0
	for _, u := range b.Units {
		n += len(u.Members)
	}
	units, members, refs := make([]unitState, len(b.Units)), make([]memberState, n), make([]*memberState, n)
	for i, u := range b.Units {
		us := &units[i]
		*us = unitState{r: r, unit: u, step: r.step, canary: b.Canary}
		us.members = refs[:len(u.Members):len(u.Members)]
		refs = refs[len(u.Members):]
		for k, mb := range u.Members {
			ms := &members[k]
			*ms = memberState{u: us, m: mb}
			us.members[k] = ms
		}
		members = members[len(u.Members):]
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
	// Members at the same versions get the same request: a message is
	// read-only once sent, and one per member was a tenth of a group's
	// allocations.
	var req *update.UpdateActor
	for _, ms := range u.members {
		r.m.track(ms)
		if req == nil || req.ToVersion != ms.m.To || req.FromVersion != ms.m.From {
			req = &update.UpdateActor{
				UpdateId: r.uid, ToVersion: ms.m.To, FromVersion: ms.m.From,
				Deadline: r.req.Deadline, Probation: r.req.Probation, Stage: u.group(), Group: group,
			}
		}
		ctx.Request(ms.m.PID, req)
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
			ctx.Send(ms.m.PID, &update.AbortUpdate{UpdateId: r.uid, Reason: "the group aborted: " + u.failure})
		case u.staged < len(u.members):
		case time.Since(u.start) > r.pkg.Quiescence.PerActor.Duration:
			// Members wait for the decision a while past their deadline,
			// so that a commit sent now reaches all of them; past the
			// group's deadline, none is sent.
			r.abortGroup(ctx, u, nil, fmt.Sprintf("every member staged, but only after the group deadline of %v", r.pkg.Quiescence.PerActor.Duration))
		default:
			r.emit(&Event{Type: EventType_GROUP_STAGED, Step: uint32(u.step + 1), Group: u.unit.Group, LatencyNs: int64(time.Since(u.start))})
			commit := &update.CommitUpdate{UpdateId: r.uid} // read-only once sent: one for all
			for _, o := range u.members {
				ctx.Send(o.m.PID, commit)
			}
		}
		return
	case update.Outcome_OUTCOME_COMMITTED:
		ms.updated = true
		u.committed++
	default:
		if u.failure == "" {
			u.failure = memberFailure(ms, res)
		}
		if u.group() && !u.aborting {
			r.abortGroup(ctx, u, ms, "")
		}
	}
	ms.final = true
	u.answered++
	if !ms.writtenOff {
		r.m.untrack(ms)
	}
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
	probationFailed := false // counted already, by onProbation
	for _, ms := range u.members {
		if ms.failedProbation && u.group() {
			// It went back on probation before its group was done: the
			// group follows it.
			probationFailed, ok = true, false
			if u.failure == "" {
				u.failure = fmt.Sprintf("%s %s failed its probation", ms.m.Kind, ms.m.Name)
			}
			r.note(fmt.Sprintf("group %s was rolled back: %s failed its probation", u.unit.Group, ms.m.Name))
		}
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
					if r.pkg.Probation.Duration.Duration > 0 && !ms.probed {
						r.probing++
					}
				}
			}
		}
	}
	if !ok {
		r.stepFail++
		if !probationFailed {
			r.failedUnit(u)
			r.fail(ctx, u.failure)
		}
		if u.canary {
			r.halt(ctx, PackageOutcome_PACKAGE_OUTCOME_HALTED, "a canary failed: "+u.failure)
		}
		if u.group() && u.committed > 0 {
			r.rollBackUnits(ctx, []*unitState{u})
		}
	}
	r.pump(ctx)
}

// onLate takes the answer of a member written off as failed: its unit is
// over, counted failed, and its group was decided without it. What the
// member did must now agree with its group.
func (r *run) onLate(ctx pa.Context, ms *memberState, res *update.UpdateResult) {
	u := ms.u
	if res.GetOutcome() == update.Outcome_OUTCOME_STAGED {
		// The AbortUpdate of the sweep may have come before the update
		// reached the actor's queue: say it again.
		ctx.Send(ms.m.PID, &update.AbortUpdate{UpdateId: r.uid, Reason: "written off as failed before it staged: its group was decided without it"})
		return
	}
	ms.writtenOff = false
	r.unanswered--
	r.m.untrack(ms)
	r.changed = true
	late := "late, after it was written off: "
	if ms.lateRollback {
		ms.lateRollback = false
		if res.GetOutcome() == update.Outcome_OUTCOME_COMMITTED {
			ms.updated = false
			r.updated--
			r.rolledBack++
			r.rollbackFailed--
			r.note(fmt.Sprintf("%s's rollback committed late", ms.m.Name))
		}
		r.emit(&Event{
			Type: EventType_ACTOR_ROLLED_BACK, Step: uint32(u.step + 1), Actor: ms.m.Name, Group: u.unit.Group, Kind: ms.m.Kind,
			FromVersion: ms.m.To, ToVersion: ms.m.From, Phase: res.GetPhase(), Outcome: res.GetOutcome(), Reason: late + res.GetReason(), LatencyNs: res.GetTotalNs(),
		})
		r.settle(ctx)
		return
	}
	r.emit(&Event{
		Type: EventType_ACTOR_UPDATED, Step: uint32(u.step + 1), Actor: ms.m.Name, Group: u.unit.Group, Kind: ms.m.Kind,
		FromVersion: ms.m.From, ToVersion: ms.m.To, Phase: res.GetPhase(), Outcome: res.GetOutcome(), Reason: late + res.GetReason(), LatencyNs: res.GetTotalNs(),
	})
	if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		r.note(fmt.Sprintf("%s answered late: %s, it runs version %d", ms.m.Name, outcomeName(res.GetOutcome()), ms.m.From))
		r.settle(ctx)
		return
	}
	ms.updated = true
	u.committed++
	r.updated++
	if r.keepLate(ms) {
		if !u.group() {
			r.failed-- // the unit did commit after all
			if i := slices.Index(r.failedUnits, u.unit.Name()); i >= 0 {
				r.failedUnits = slices.Delete(r.failedUnits, i, i+1)
			}
		}
		if u.step < len(r.done) && !slices.Contains(r.done[u.step], u) {
			r.done[u.step] = append(r.done[u.step], u)
		}
		if r.pkg.Probation != nil {
			if r.committed == nil {
				r.committed = map[string]*memberState{}
			}
			r.committed[ms.m.Name] = ms
		}
		r.note(fmt.Sprintf("%s committed late and keeps version %d", ms.m.Name, ms.m.To))
	} else {
		what := ms.m.Name
		if u.group() {
			what += ", with its group " + u.unit.Group
		}
		r.note(fmt.Sprintf("%s committed late and was rolled back to version %d%s", ms.m.Name, ms.m.From, strings.TrimPrefix(what, ms.m.Name)))
		r.rollBackUnits(ctx, []*unitState{u})
	}
	r.settle(ctx)
}

// keepLate says whether a member that committed late may keep the new
// version: not when the package rolls back, nor when its group is (going)
// back on the old one. A lone actor that is not rolled back counts as
// updated.
func (r *run) keepLate(ms *memberState) bool {
	if r.rollingBackAll {
		return false
	}
	if !ms.u.group() {
		return true
	}
	for _, o := range ms.u.members {
		if o != ms && o.updated && !o.queued {
			return true // a peer stays on the new version: so does it
		}
	}
	return false
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
	if r.ended {
		r.afterEnd(ctx)
		return
	}
	if r.inFlight > 0 || len(r.queue) > 0 || len(r.rollback) > 0 {
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
	r.rollingBackAll = true
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
			if ms := u.members[i]; ms.updated && !ms.queued {
				ms.queued = true
				r.rollback = append(r.rollback, ms)
				if r.ended && r.m.kinds[ms.m.Kind] == "" && r.m.after[ms.m.Kind] == nil {
					// After the end the kind is free: hold it while its
					// actors go back.
					r.m.after[ms.m.Kind] = r
				}
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
	if !ms.writtenOff {
		r.m.untrack(ms)
	}
	ms.rollingBack, ms.queued = false, false
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
// failure against the budget while the package runs. A group member that
// went back takes its group with it, whether the package still runs, has
// halted, was cancelled or is over.
func (r *run) onProbation(ctx pa.Context, res *update.ProbationResult) {
	ms, inFlight := r.committed[res.GetActor()], false
	if ms == nil {
		// A member's probation can end before its group is done (a peer
		// still taking over): the unit is not counted yet.
		ms = r.inFlightMember(res.GetActor())
		inFlight = ms != nil
	}
	if ms != nil && !ms.probed {
		ms.probed = true
		if r.pkg.Probation.Duration.Duration > 0 && !r.ended && !inFlight {
			r.probing--
		}
	}
	ev := &Event{
		Type: EventType_PROBATION_ENDED, FromVersion: res.GetProbationVersion(), ToVersion: res.GetVersion(),
		Probation: res.GetOutcome(), Reason: clip(res.GetReason(), r.m.cfg.MaxReasonBytes, "MaxReasonBytes"), LatencyNs: res.GetDurationNs(),
	}
	if ms != nil {
		ev.Actor, ev.Kind, ev.Group = ms.m.Name, ms.m.Kind, ms.u.unit.Group
	} else {
		ev.Actor, ev.Kind = clip(res.GetActor(), r.m.cfg.MaxIDBytes, "MaxIDBytes"), clip(res.GetKind(), r.m.cfg.MaxIDBytes, "MaxIDBytes")
	}
	r.emit(ev)
	who := ev.Kind + " " + ev.Actor
	switch res.GetOutcome() {
	case update.ProbationOutcome_PROBATION_OUTCOME_ROLLED_BACK:
		if ms != nil && ms.updated {
			ms.updated, ms.failedProbation = false, true
			if inFlight {
				ms.u.committed-- // unitDone takes the group back
			} else {
				r.updated--
			}
			if ms.u.group() && !inFlight {
				// The group must not stay split: its other members follow.
				// (A group not done yet follows in unitDone.)
				r.note(fmt.Sprintf("group %s was rolled back: %s failed its probation", ms.u.unit.Group, ms.m.Name))
				r.rollBackUnits(ctx, []*unitState{ms.u})
			}
		}
	case update.ProbationOutcome_PROBATION_OUTCOME_ROLLBACK_FAILED:
	default:
		r.settle(ctx)
		return
	}
	if ms != nil {
		r.failedUnits = append(r.failedUnits, ms.u.unit.Name())
	} else {
		r.failedUnits = append(r.failedUnits, ev.Actor)
	}
	if r.ended {
		r.failed++
		r.changed = true
	} else {
		r.fail(ctx, fmt.Sprintf("%s on probation: %s", who, ev.Reason))
	}
	r.settle(ctx)
}

// inFlightMember finds a member of a unit still in flight by name.
func (r *run) inFlightMember(name string) *memberState {
	for u := range r.active {
		for _, ms := range u.members {
			if ms.m.Name == name {
				return ms
			}
		}
	}
	return nil
}

// afterEnd brings an ended run's late changes to its subscribers: once
// its rollbacks are over, a PACKAGE_REVISED with the counts as they are
// now. A run with nothing left to watch is forgotten.
func (r *run) afterEnd(ctx pa.Context) {
	if len(r.rollback) > 0 {
		return
	}
	for k, w := range r.m.after {
		if w == r {
			delete(r.m.after, k)
		}
	}
	if r.changed {
		r.changed = false
		if r.outcome == PackageOutcome_PACKAGE_OUTCOME_COMPLETED || r.outcome == PackageOutcome_PACKAGE_OUTCOME_COMPLETED_WITH_FAILURES {
			// A failure after the end, or a late commit, changes whether
			// the fleet is mixed.
			r.outcome, r.reason = r.completed()
		}
		r.emit(r.doneEvent(EventType_PACKAGE_REVISED, r.outcome, r.reason))
	}
	if !r.watched() {
		delete(r.m.watching, r.uid)
		r.stopTimers()
	} else if r.needsSweep() && r.sweeper == nil {
		r.armSweep(ctx)
	}
}

func (r *run) finish(ctx pa.Context, outcome PackageOutcome, why string) {
	r.stopTimers()
	ev := r.doneEvent(EventType_PACKAGE_DONE, outcome, why)
	r.emit(ev)
	r.ended, r.outcome, r.reason, r.changed = true, outcome, why, false
	r.m.end(r)
	if r.finished != nil {
		r.finished <- runEnd{ev: ev}
	}
	if r.watched() {
		r.m.watching[r.uid] = r
		if r.needsSweep() {
			r.armSweep(ctx)
		}
	}
}

// memberFailure says what failed a unit: the member, once, by name (its
// kind aside), what became of its update and why. The kind used to come
// first ("acct acct-1: ..."), which read as the name twice, and a reason
// that starts with the member's name, as behaviours' errors often do,
// said it again: that prefix is dropped. A phase the result does not give
// (a member written off) is left out.
func memberFailure(ms *memberState, res *update.UpdateResult) string {
	reason := strings.TrimPrefix(res.GetReason(), ms.m.Name+": ")
	what := outcomeName(res.GetOutcome())
	if p := res.GetPhase(); p != update.Phase_PHASE_UNSPECIFIED {
		what += " in " + phaseName(p)
	}
	return fmt.Sprintf("%s (%s) %s: %s", ms.m.Name, ms.m.Kind, what, reason)
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
