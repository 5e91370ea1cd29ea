package protocol

import (
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
)

// Host is the live-updatable actor as the protocol sees it. The actor package
// implements it; every method is called on the actor's own goroutine, from
// inside its Receive.
type Host interface {
	// Kind and Version say what the actor runs now.
	Kind() string
	Version() uint32
	// Behavior is the running behaviour, which is also its state.
	Behavior() actor.Actor
	// Hold starts holding user messages; if admit is true, the ones the
	// behaviour admits still go through, otherwise none does. Release stops
	// holding: held messages go first.
	Hold(admit bool)
	Release()
	// Held counts the user messages held now.
	Held() int
	// Install makes b, a behaviour of the given version, the one that runs,
	// with the message adapters of that version.
	Install(version uint32, b actor.Actor, adapters *registry.Adapters)
	// Deliver hands a lifecycle message to behaviour b at once, outside the
	// mailbox, with ctx as its context.
	Deliver(ctx actor.Context, b actor.Actor, message any)
	// Move replaces the behaviour by a forwarder to the actor's new PID
	// in another process: the replacement of an export that commits.
	Move(ctx actor.Context, to *actor.PID)
	// Validate returns req.Validate(), or nil for a request that passed it
	// before: a message is read-only once sent.
	Validate(req *update.UpdateActor) error
}

// Update is one update of one actor, from request to result. The actor that
// runs it calls Start when the request arrives, Continue after every message
// it delivers while the update is preparing, and Expire when the deadline
// passes; Done says when it is over and Result tells how it ended. An Update
// does no I/O of its own: arming the deadline timer and sending the result
// are the caller's. Once it is done, the caller gives it back with Release.
type Update struct {
	catalog *registry.Catalog
	host    Host
	req     *update.UpdateActor
	res     *update.UpdateResult
	plan    *registry.Plan

	start     time.Time
	elapsed   time.Duration // since start, at the end of the last phase
	limit     time.Duration // the deadline, after start
	old, next actor.Actor
	export    bool               // the state leaves the process (StartExport)
	sealed    *envelope.Envelope // an export's state, once transferred
	dest      *actor.PID         // where an export's actor went, on commit
	out       *outcome
	// epoch counts the updates this Update has served (see Release).
	epoch    uint64
	notified bool
	asked    bool // Stable has been asked at least once
	staged   bool
	done     bool
}

// Start begins the update req of host: initialization, notification, and
// preparation as far as it can go now. An actor that is already in its
// stable state is updated before Start returns.
func Start(ctx actor.Context, catalog *registry.Catalog, host Host, req *update.UpdateActor) *Update {
	return start(ctx, catalog, host, req, false)
}

// StartExport begins the export of host's actor to another process, as a
// staged update whose state transfer seals the state (Sealed) instead of
// migrating it: the migration runs where the state goes. req gives the
// update id, the deadline and, as to_version, the version the actor will
// run there (for the notice; it need not exist here); it must not ask for
// probation or a group. Once staged, CommitTo replaces the behaviour by a
// forwarder to the actor's new PID; Abort, or the deadline, resumes it here
// with its state untouched.
func StartExport(ctx actor.Context, catalog *registry.Catalog, host Host, req *update.UpdateActor) *Update {
	return start(ctx, catalog, host, req, true)
}

func start(ctx actor.Context, catalog *registry.Catalog, host Host, req *update.UpdateActor, export bool) *Update {
	now := time.Now()
	// What the update hands out (its result, the messages the behaviours
	// receive) is made in one piece; the Update itself is reused.
	out := &outcome{res: update.UpdateResult{
		UpdateId:    EchoID(req.GetUpdateId()),
		Kind:        host.Kind(),
		Actor:       ctx.Self().GetId(),
		FromVersion: host.Version(),
		ToVersion:   req.GetToVersion(),
	}}
	u := updates.Get().(*Update)
	*u = Update{
		catalog: catalog,
		host:    host,
		req:     req,
		res:     &out.res,
		out:     out,
		export:  export,
		start:   now,
		old:     host.Behavior(),
		epoch:   u.epoch + 1,
	}

	u.res.Phase = update.Phase_PHASE_INITIALIZATION
	if err := u.initialize(); err != nil {
		u.finish(update.Outcome_OUTCOME_REJECTED, err)
		return u
	}
	u.lap(&u.res.InitializationNs)

	u.res.Phase = update.Phase_PHASE_NOTIFICATION
	if err := u.notify(ctx); err != nil {
		u.abort(ctx, err)
		return u
	}
	u.lap(&u.res.NotificationNs)

	u.res.Phase = update.Phase_PHASE_PREPARATION
	u.host.Hold(true)
	u.Continue(ctx)
	return u
}

// Continue carries a preparing update on: if the behaviour has reached its
// stable state, through state checking, state transfer and replacement. It
// does nothing once the update is done.
func (u *Update) Continue(ctx actor.Context) {
	if u.done || u.staged {
		return
	}
	first := !u.asked
	u.asked = true
	stable, err := u.prepare()
	if err != nil {
		u.abort(ctx, err)
		return
	}
	if !stable {
		return
	}
	now := time.Since(u.start)
	if over := now - u.limit; over > 0 {
		// The deadline passed while the behaviour drained (its timer
		// message is still on its way): too late to go on.
		if first {
			// The actor was stable the first time it was asked: the
			// deadline, not the actor, is to blame.
			u.abort(ctx, fmt.Errorf("the deadline of %v was too short to be met: it passed %v after the update started, during initialization and notification, before the actor was first asked whether it is stable (it was); give the update a longer deadline", u.limit, (u.limit+over).Round(time.Microsecond)))
			return
		}
		u.abort(ctx, fmt.Errorf("the deadline of %v passed %v before the actor reached its stable state; make the behaviour reach it sooner or give the update a longer deadline", u.limit, over.Round(time.Microsecond)))
		return
	}
	u.lapAt(&u.res.PreparationNs, now)

	u.res.Phase = update.Phase_PHASE_STATE_CHECKING
	if err := u.checkState(); err != nil {
		u.abort(ctx, err)
		return
	}
	u.lap(&u.res.StateCheckingNs)

	u.res.Phase = update.Phase_PHASE_STATE_TRANSFER
	now, err = u.transferState()
	if err != nil {
		u.abort(ctx, err)
		return
	}
	u.lapAt(&u.res.StateTransferNs, now)

	if u.req.GetStage() || u.export {
		// The old state has been copied: from now on it must not change,
		// so nothing is admitted any more.
		u.host.Hold(false)
		u.staged = true
		u.res.Outcome = update.Outcome_OUTCOME_STAGED
		return
	}
	u.commit(ctx)
}

// commit runs the replacement phase and ends the update.
func (u *Update) commit(ctx actor.Context) {
	u.res.Phase = update.Phase_PHASE_REPLACEMENT
	if err := u.replace(ctx); err != nil {
		u.abort(ctx, err)
		return
	}
	u.lap(&u.res.ReplacementNs)
	u.finish(update.Outcome_OUTCOME_COMMITTED, nil)
}

// Staged reports whether the update has staged its migrated state and
// waits for Commit or Abort. Its Result then says OUTCOME_STAGED.
func (u *Update) Staged() bool { return u.staged && !u.done }

// Export reports whether the update is an export (StartExport).
func (u *Update) Export() bool { return u.export }

// Sealed returns an export's sealed state once it is staged, else nil.
func (u *Update) Sealed() *envelope.Envelope { return u.sealed }

// CommitTo commits a staged export: the actor now lives at to, and the
// forwarder that replaces its behaviour sends it everything that arrives
// here. It reports false, and does nothing, if the update is not a staged
// export.
func (u *Update) CommitTo(ctx actor.Context, to *actor.PID) bool {
	if !u.export || !u.Staged() || to == nil {
		return false
	}
	u.dest = to
	u.lap(&u.res.DecisionNs)
	u.commit(ctx)
	return true
}

// Commit replaces the behaviour of a staged update. It reports false, and
// does nothing, if the update is not staged.
func (u *Update) Commit(ctx actor.Context) bool {
	if !u.Staged() || u.export {
		return false
	}
	u.lap(&u.res.DecisionNs)
	u.commit(ctx)
	return true
}

// Expire aborts the update if it is not done and its deadline (see
// Deadline) has passed; the caller arms a timer again for a staged update
// that is still waiting.
func (u *Update) Expire(ctx actor.Context) {
	if u.done {
		return
	}
	if u.staged {
		if time.Since(u.start) < 2*u.limit {
			return // a staged update waits for its decision a while longer
		}
		u.Abort(ctx, fmt.Errorf("no commit decision came within twice the deadline of %v; the group it belongs to did not stage in time, or its manager is gone", u.limit))
		return
	}
	u.Abort(ctx, fmt.Errorf("the deadline of %v passed before the actor reached its stable state (Stable never returned true); make the behaviour reach it sooner or give the update a longer deadline", u.limit))
}

// Abort ends the update, if it is not done, in its current phase: the old
// version keeps running with its old state and held messages are released.
// The actor calls it when something outside the protocol fails, such as a
// panic in the behaviour while it drains.
func (u *Update) Abort(ctx actor.Context, reason error) {
	if u.done {
		return
	}
	u.abort(ctx, reason)
}

// outcome is what an update hands out and never takes back: its result,
// which goes to the requester, and the messages the behaviours receive,
// which they may keep. It is made in one piece with each update.
type outcome struct {
	res     update.UpdateResult
	changed update.VersionChanged
	retired update.Retired
}

// updates holds the Updates released by their actors. An update's garbage
// made much of its round trip's tail: sorting 200,000 back-to-back
// updates by round trip, the slowest 2 % spent 10 us on average in
// initialization (p50: 0.12 us), most of it in allocating the Update with
// its result (a 384-byte object, a span refill every 21 updates).
var updates = sync.Pool{New: func() any { return new(Update) }}

// Release gives u back for reuse by a later update, on any actor. The
// caller calls it once u is done and it keeps no reference to u; what u
// handed out (Result, Retired, the VersionChanged the new behaviour got)
// is not reused. A message that names u by its pointer, such as a
// deadline, must name its Epoch too: a later update may have the same
// pointer.
func (u *Update) Release() {
	*u = Update{epoch: u.epoch}
	updates.Put(u)
}

// Epoch tells this update from the earlier ones that the same *Update
// served (see Release).
func (u *Update) Epoch() uint64 { return u.epoch }

// Retired returns the Retired message for the old behaviour of a committed
// update; it is the receiver's to keep.
func (u *Update) Retired() *update.Retired {
	u.out.retired = update.Retired{UpdateID: u.res.GetUpdateId(), From: u.res.GetFromVersion(), To: u.res.GetToVersion()}
	return &u.out.retired
}

// Done reports whether the update is over.
func (u *Update) Done() bool { return u.done }

// Result returns how the update ended; it is complete once Done.
func (u *Update) Result() *update.UpdateResult { return u.res }

// Deadline returns when the update aborts if not done; zero if it was
// rejected before one was set. A staged update waits for its group's
// decision until twice its deadline: the group's manager decides by the
// deadline, and its decision must still find every member waiting.
func (u *Update) Deadline() time.Time {
	if u.limit == 0 {
		return time.Time{}
	}
	return u.start.Add(u.Span())
}

// Span returns the deadline's distance from the update's start; zero if
// the update was rejected before one was set.
func (u *Update) Span() time.Duration {
	if u.staged {
		return 2 * u.limit
	}
	return u.limit
}

// Phase 1. Initialization: validate the request against the catalogue and
// plan the migration chain. Nothing is touched.
func (u *Update) initialize() error {
	if err := u.host.Validate(u.req); err != nil {
		return err
	}
	u.limit = deadlineOf(u.req)
	if fv := u.req.GetFromVersion(); fv != 0 && fv != u.host.Version() {
		return fmt.Errorf("the update applies to version %d but the actor runs version %d", fv, u.host.Version())
	}
	if u.export {
		// The target version is the other process's to check: its
		// catalogue migrates the state.
		if u.req.GetProbation() != nil || len(u.req.GetGroup()) > 0 {
			return fmt.Errorf("an actor that moves to another process takes no probation or group here")
		}
		return nil
	}
	if to := u.req.GetToVersion(); to == u.host.Version() {
		return fmt.Errorf("the actor already runs version %d of %s: nothing to do", to, u.host.Kind())
	}
	plan, err := u.catalog.Plan(u.host.Kind(), u.host.Version(), u.req.GetToVersion())
	if err != nil {
		return err
	}
	if u.req.GetProbation() != nil {
		if _, err := u.catalog.Plan(u.host.Kind(), u.req.GetToVersion(), u.host.Version()); err != nil {
			return fmt.Errorf("probation needs a way back from version %d to %d: %w", u.req.GetToVersion(), u.host.Version(), err)
		}
	}
	u.plan = plan
	return nil
}

// Phase 2. Notification: tell the behaviour, if it listens.
func (u *Update) notify(ctx actor.Context) error {
	n, ok := u.old.(update.Notifiable)
	if !ok {
		return nil
	}
	u.notified = true
	return guard("UpdateComing", func() error {
		n.UpdateComing(ctx, &update.Notice{
			UpdateID: u.req.GetUpdateId(), From: u.host.Version(), To: u.req.GetToVersion(), Deadline: u.Deadline(),
			Staged: u.req.GetStage() || u.export, Group: u.req.GetGroup(), Moving: u.export,
		})
		return nil
	})
}

// Phase 3. Preparation: user messages are held (Start asked the host) and
// the behaviour drains until it says it is stable.
func (u *Update) prepare() (stable bool, err error) {
	q, ok := u.old.(update.Quiescent)
	if !ok {
		return true, nil
	}
	err = guard("Stable", func() error {
		stable = q.Stable()
		return nil
	})
	return stable, err
}

// Phase 4. State checking: the old state's invariants.
func (u *Update) checkState() error {
	return checkInvariants("old", u.old)
}

// Phase 5. State transfer: the migration chain on an isolated copy of the
// state, then the new state's invariants. It returns the time since the
// update started, read for the deadline at the phase's end, which is also
// the phase's lap: one clock read fewer per update.
func (u *Update) transferState() (time.Duration, error) {
	if u.export {
		return u.seal()
	}
	next, err := u.plan.Transfer(u.old)
	if err != nil {
		return 0, err
	}
	if err := checkInvariants("migrated", next); err != nil {
		return 0, err
	}
	now := time.Since(u.start)
	if over := now - u.limit; over > 0 {
		return 0, fmt.Errorf("the deadline passed %v ago, during state transfer; give the update a longer deadline or make the migration faster", over.Round(time.Microsecond))
	}
	u.next = next
	return now, nil
}

// Phase 5 of an export: seal the state, at the version it runs, for the
// process it moves to.
func (u *Update) seal() (time.Duration, error) {
	e, err := u.catalog.Seal(u.host.Kind(), u.host.Version(), u.old)
	if err != nil {
		return 0, err
	}
	now := time.Since(u.start)
	if over := now - u.limit; over > 0 {
		return 0, fmt.Errorf("the deadline passed %v ago, while the state was sealed; give the takeover a longer deadline", over.Round(time.Microsecond))
	}
	u.sealed = e
	return now, nil
}

// Phase 6. Replacement: install the new version under the same PID and tell
// it where it came from. If it panics on that, the old version goes back.
// An export's replacement is a forwarder to where the actor went.
func (u *Update) replace(ctx actor.Context) error {
	if u.export {
		u.host.Move(ctx, u.dest)
		return nil
	}
	u.host.Install(u.plan.To(), u.next, u.plan.Adapters())
	err := guard("receiving VersionChanged", func() error {
		u.out.changed = update.VersionChanged{From: u.plan.From(), To: u.plan.To()}
		u.host.Deliver(ctx, u.next, &u.out.changed)
		return nil
	})
	if err != nil {
		u.host.Install(u.plan.From(), u.old, u.catalog.Adapters(u.plan.Kind(), u.plan.From()))
	}
	return err
}

// abort ends the update on the old version, with its old state.
func (u *Update) abort(ctx actor.Context, reason error) {
	old := u.old
	u.finish(update.Outcome_OUTCOME_ABORTED, reason)
	if u.notified {
		// The behaviour may have stopped work on notice: tell it to go on.
		err := guard("receiving Aborted", func() error {
			u.host.Deliver(ctx, old, &update.Aborted{UpdateID: u.req.GetUpdateId(), Phase: u.res.Phase, Reason: u.res.Reason})
			return nil
		})
		if err != nil {
			u.res.Reason += "; then " + err.Error()
		}
	}
}

func (u *Update) finish(outcome update.Outcome, reason error) {
	u.done = true
	u.res.Outcome = outcome
	if reason != nil {
		u.res.Reason = reason.Error()
	}
	u.res.HeldMessages = uint32(u.host.Held())
	if outcome != update.Outcome_OUTCOME_REJECTED {
		u.host.Release()
	}
	switch {
	case u.staged && outcome == update.Outcome_OUTCOME_ABORTED && u.res.Phase == update.Phase_PHASE_STATE_TRANSFER:
		u.lap(&u.res.DecisionNs) // aborted while waiting for the decision
	case outcome != update.Outcome_OUTCOME_COMMITTED:
		u.lap(u.phaseNs()) // the time of the phase that failed
	}
	u.res.TotalNs = int64(u.elapsed)
	u.old, u.next = nil, nil
}

// phaseNs returns the result's time field of the current phase.
func (u *Update) phaseNs() *int64 {
	r := u.res
	switch r.Phase {
	case update.Phase_PHASE_NOTIFICATION:
		return &r.NotificationNs
	case update.Phase_PHASE_PREPARATION:
		return &r.PreparationNs
	case update.Phase_PHASE_STATE_CHECKING:
		return &r.StateCheckingNs
	case update.Phase_PHASE_STATE_TRANSFER:
		return &r.StateTransferNs
	case update.Phase_PHASE_REPLACEMENT:
		return &r.ReplacementNs
	}
	return &r.InitializationNs
}

// lap records the time since the last lap in the field of the phase that
// just ended.
func (u *Update) lap(field *int64) {
	u.lapAt(field, time.Since(u.start)) // monotonic only: cheaper than time.Now
}

// lapAt is lap with the time since the update started already read, for
// a phase that read the clock at its end to check the deadline.
func (u *Update) lapAt(field *int64, now time.Duration) {
	*field = int64(now - u.elapsed)
	u.elapsed = now
}

func checkInvariants(which string, state actor.Actor) error {
	c, ok := state.(update.Checker)
	if !ok {
		return nil
	}
	err := guard("CheckInvariants", c.CheckInvariants)
	if err != nil {
		return fmt.Errorf("the %s state breaks its invariants: %w", which, err)
	}
	return nil
}

// guard runs a behaviour's hook and turns a panic into an error.
func guard(hook string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s panicked: %v", hook, r)
		}
	}()
	return f()
}
