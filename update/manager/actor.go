package manager

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/internal/future"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manifest"
	"google.golang.org/protobuf/proto"
)

// managerActor is the update manager: it plans packages, runs them one per
// kind at a time, and tells subscribers how they go.
type managerActor struct {
	node    *molt.Node
	cfg     Config
	stopped func()            // tells the Manager handle the actor stopped
	runs    map[string]*run   // by package id
	byUID   map[string]*run   // by the run's update id, for results
	kinds   map[string]string // kind -> id of the package updating it
	members map[memberKey]*memberState
	// watching holds ended runs, by update id, that still have something to
	// bring in line: a group member on probation, a member written off
	// whose answer may come, a rollback in flight.
	watching map[string]*run
	// after marks the kinds that a watched run is rolling back: another
	// package must not update them meanwhile.
	after       map[string]*run
	subscribers []*pa.PID
	seq         uint64
}

// memberKey names a member's update in flight: the results it gets name
// the actor and the package.
type memberKey struct{ actor, pkg string }

// Local messages: the Go API's requests, and the manager's own timers.
type (
	runLocal struct {
		pkg      *manifest.Package
		dryRun   bool
		onEvent  func(*Event)
		reply    chan localReply
		finished chan runEnd
	}
	runEnd struct {
		ev  *Event
		err error
	}
	localReply struct {
		plan *manifest.Plan
		err  error
	}
	// cancelLocal cancels the package a runLocal started, if it runs,
	// because the context of its Run ended. It names the run by its
	// finished channel: the package's id may since name another run.
	cancelLocal struct {
		finished chan runEnd
		why      error
		reply    chan cancelReply
	}
	cancelReply struct {
		found bool
		ev    *Event // the HALTED event, with the counts
		state string
	}
	packageDeadline struct{ id string }
	sweep           struct{ id string }
	nextBatch       struct {
		id          string
		step, batch int
	}
)

func newManagerActor(node *molt.Node, cfg Config, stopped func()) *managerActor {
	return &managerActor{
		node:     node,
		cfg:      cfg,
		stopped:  stopped,
		runs:     map[string]*run{},
		byUID:    map[string]*run{},
		kinds:    map[string]string{},
		members:  map[memberKey]*memberState{},
		watching: map[string]*run{},
		after:    map[string]*run{},
	}
}

// lookup finds a run by update id, running or watched after its end.
func (m *managerActor) lookup(uid string) *run {
	if r := m.byUID[uid]; r != nil {
		return r
	}
	return m.watching[uid]
}

func (m *managerActor) Receive(ctx pa.Context) {
	if err := m.authorize(ctx); err != nil {
		return
	}
	switch msg := ctx.Message().(type) {
	case *RunPackage:
		m.runDocument(ctx, msg)
	case *runLocal:
		plan, err := m.start(ctx, msg.pkg, msg.dryRun, msg.onEvent, msg.finished)
		msg.reply <- localReply{plan, err}
	case *cancelLocal:
		msg.reply <- m.cancelLocal(ctx, msg)
	case *CancelPackage:
		id := msg.GetPackageId()
		if len(id) > m.cfg.MaxIDBytes {
			ctx.Respond(&PackageRefused{PackageId: clip(id, m.cfg.MaxIDBytes, "MaxIDBytes"), Reason: fmt.Sprintf("the package id is %d bytes, over the manager's MaxIDBytes limit of %d", len(id), m.cfg.MaxIDBytes)})
		} else if r := m.runs[id]; r != nil {
			r.halt(ctx, PackageOutcome_PACKAGE_OUTCOME_CANCELLED, "cancelled on request")
			r.settle(ctx)
			ctx.Respond(&PackageAccepted{PackageId: r.id})
		} else {
			ctx.Respond(&PackageRefused{PackageId: id, Reason: fmt.Sprintf("no package %q is running", id)})
		}
	case *Subscribe:
		m.subscribe(ctx, msg)
	case *Unsubscribe:
		m.unsubscribe(ctx, msg)
	case *update.UpdateResult:
		m.onResult(ctx, msg)
	case *sweep:
		if r := m.lookup(msg.id); r != nil {
			r.sweep(ctx)
		}
	case *update.ProbationResult:
		m.onProbation(ctx, msg)
	case *packageDeadline:
		if r := m.byUID[msg.id]; r != nil {
			r.halt(ctx, PackageOutcome_PACKAGE_OUTCOME_HALTED, fmt.Sprintf("the package deadline of %v passed", r.pkg.Quiescence.Package.Duration))
			r.settle(ctx)
		}
	case *nextBatch:
		if r := m.byUID[msg.id]; r != nil {
			r.resume(ctx, msg)
		}
	case *pa.Stopping:
		m.stop(ctx)
	case *pa.Stopped:
		m.stopped()
	}
}

// stop ends every run where it is, as the actor stops: the results of the
// updates in flight would come to nobody. Each run's PACKAGE_DONE says so,
// and where the package was; Run returns ErrStopped with it.
func (m *managerActor) stop(ctx pa.Context) {
	for _, r := range m.runs {
		r.stopTimers()
		why := "the manager stopped while the package ran: " + r.state()
		ev := r.doneEvent(EventType_PACKAGE_DONE, PackageOutcome_PACKAGE_OUTCOME_HALTED, why)
		r.emit(ev)
		r.ended = true
		if r.finished != nil {
			r.finished <- runEnd{ev, fmt.Errorf("%w while package %q ran: %s", ErrStopped, r.id, r.state())}
		}
	}
	for _, r := range m.watching {
		r.stopTimers()
	}
	clear(m.runs)
	clear(m.byUID)
	clear(m.watching)
}

// subscribe serves a Subscribe. The answer is what lets a subscriber run a
// package knowing it will see its first event: a Subscribe that went
// unanswered left it guessing.
// cancelLocal cancels the run started by a Run whose context ended. From
// then on the run's events go to subscribers only: Run has returned, and
// its callback may be gone.
func (m *managerActor) cancelLocal(ctx pa.Context, msg *cancelLocal) cancelReply {
	for _, r := range m.runs {
		if r.finished != msg.finished {
			continue
		}
		var halted *Event
		r.onEvent = func(e *Event) {
			if halted == nil && e.GetType() == EventType_HALTED {
				halted = e
			}
		}
		r.halt(ctx, PackageOutcome_PACKAGE_OUTCOME_CANCELLED, fmt.Sprintf("cancelled: the context of Run ended (%v)", msg.why))
		if halted == nil {
			// It had halted already (budget, deadline): say where it is.
			halted = r.doneEvent(EventType_HALTED, r.outcome, r.reason)
		}
		r.onEvent = nil
		state := r.where("")
		r.settle(ctx)
		return cancelReply{found: true, ev: halted, state: state}
	}
	return cancelReply{}
}

func (m *managerActor) subscribe(ctx pa.Context, msg *Subscribe) {
	s, answer := m.party(ctx, msg.GetSubscriber())
	if s == nil {
		// Nobody to subscribe and nobody to tell: only the log can say it.
		ctx.Logger().Warn("manager: Subscribe with no sender and no subscriber refused: send it with Request, or name the subscriber", "manager", ctx.Self().GetId())
		return
	}
	if future.Is(s) {
		ctx.Send(answer, &PackageRefused{Reason: fmt.Sprintf("subscription refused: %s is a future (RequestFuture), which takes one answer, not a stream of events; name the actor to receive them in subscriber", s)})
		return
	}
	if n := max(len(s.GetId()), len(s.GetAddress())); n > update.MaxIDLength {
		// The manager keeps what it is given: bounded like any PID in an
		// update.
		ctx.Send(answer, &PackageRefused{Reason: fmt.Sprintf("subscription refused: the subscriber's id or address is %d bytes, over the limit of %d (update.MaxIDLength)", n, update.MaxIDLength)})
		return
	}
	ack := &Subscribed{Subscriber: update.RefOf(s)}
	if slices.ContainsFunc(m.subscribers, s.Equal) {
		// One subscription per subscriber: events are not doubled.
		ack.Already, ack.Subscribers = true, uint32(len(m.subscribers))
		ctx.Send(answer, ack)
		return
	}
	if len(m.subscribers) >= m.cfg.MaxSubscribers {
		ctx.Send(answer, &PackageRefused{Reason: fmt.Sprintf("subscription refused: the manager has %d subscribers, its MaxSubscribers limit", len(m.subscribers))})
		return
	}
	m.subscribers = append(m.subscribers, s)
	ack.Subscribers = uint32(len(m.subscribers))
	ctx.Send(answer, ack)
}

// unsubscribe serves an Unsubscribe; the sender, if any, is told.
func (m *managerActor) unsubscribe(ctx pa.Context, msg *Unsubscribe) {
	s, _ := m.party(ctx, msg.GetSubscriber())
	if s == nil {
		ctx.Logger().Warn("manager: Unsubscribe with no sender and no subscriber ignored", "manager", ctx.Self().GetId())
		return
	}
	i := slices.IndexFunc(m.subscribers, s.Equal)
	if i >= 0 {
		m.subscribers = slices.Delete(m.subscribers, i, i+1)
	}
	if ctx.Sender() != nil {
		ctx.Respond(&Unsubscribed{Subscriber: update.RefOf(s), Was: i >= 0})
	}
}

// party finds who a Subscribe or Unsubscribe is for, the subscriber it
// names or else its sender, and who gets the answer: the sender, or the
// subscriber when it came with a plain Send.
func (m *managerActor) party(ctx pa.Context, named *update.ActorRef) (subscriber, answer *pa.PID) {
	subscriber, answer = named.PID(), ctx.Sender()
	if subscriber == nil {
		subscriber = answer
	}
	if answer == nil {
		answer = subscriber
	}
	return subscriber, answer
}

// runDocument serves a RunPackage from another actor or process.
func (m *managerActor) runDocument(ctx pa.Context, msg *RunPackage) {
	if n := len(msg.GetDocument()); n > m.cfg.MaxDocumentBytes {
		ctx.Respond(&PackageRefused{Reason: fmt.Sprintf("the document is %d bytes, over the manager's MaxDocumentBytes limit of %d", n, m.cfg.MaxDocumentBytes)})
		return
	}
	format, err := parseFormat(msg.GetFormat())
	if err != nil {
		ctx.Respond(&PackageRefused{Reason: err.Error()})
		return
	}
	pkg, err := manifest.LoadLimited(bytes.NewReader(msg.GetDocument()), format, manifest.Limits{MaxBytes: m.cfg.MaxDocumentBytes})
	if err == nil {
		var plan *manifest.Plan
		if plan, err = m.start(ctx, pkg, msg.GetDryRun(), nil, nil); err == nil {
			var text strings.Builder
			if msg.GetSummary() {
				_ = plan.Summary(&text) // a Builder does not fail
			} else {
				_ = plan.Format(&text)
			}
			_, _, actors := plan.Counts()
			ctx.Respond(&PackageAccepted{PackageId: pkg.ID, Plan: text.String(), DryRun: msg.GetDryRun(), Actors: uint32(actors)})
			return
		}
	}
	refused := &PackageRefused{Reason: err.Error()}
	if pkg != nil {
		refused.PackageId = clip(pkg.ID, m.cfg.MaxIDBytes, "MaxIDBytes")
	}
	var verr *manifest.ValidationError
	if errors.As(err, &verr) {
		for _, p := range verr.Problems {
			refused.Problems = append(refused.Problems, p.String())
		}
	}
	ctx.Respond(refused)
}

// start plans a package and, unless a dry run, starts it.
func (m *managerActor) start(ctx pa.Context, pkg *manifest.Package, dryRun bool, onEvent func(*Event), finished chan runEnd) (*manifest.Plan, error) {
	if len(pkg.ID) > m.cfg.MaxIDBytes {
		// Checked first: the id is echoed in every answer and event.
		return nil, fmt.Errorf("manager: the package id is %d bytes, over the manager's MaxIDBytes limit of %d", len(pkg.ID), m.cfg.MaxIDBytes)
	}
	plan, err := manifest.Build(pkg, m.node.Catalog(), m.node.Directory())
	if err != nil || dryRun {
		return plan, err
	}
	if m.runs[pkg.ID] != nil {
		return nil, fmt.Errorf("%w: package %q is already running", ErrBusy, pkg.ID)
	}
	for _, u := range pkg.Updates {
		if other, busy := m.kinds[u.Kind]; busy {
			return nil, fmt.Errorf("%w: kind %s is being updated by package %q; wait for it to end or cancel it", ErrBusy, u.Kind, other)
		}
		if w := m.after[u.Kind]; w != nil {
			return nil, fmt.Errorf("%w: kind %s is being rolled back by package %q, which brings a group back in line after its end; wait for its PACKAGE_REVISED", ErrBusy, u.Kind, w.id)
		}
	}
	m.seq++
	r := newRun(m, plan, m.seq, onEvent, finished)
	m.runs[r.id] = r
	m.byUID[r.uid] = r
	for _, u := range pkg.Updates {
		m.kinds[u.Kind] = r.id
	}
	r.begin(ctx)
	return plan, nil
}

func (m *managerActor) end(r *run) {
	delete(m.runs, r.id)
	delete(m.byUID, r.uid)
	for k, id := range m.kinds {
		if id == r.id {
			delete(m.kinds, k)
		}
	}
}

// track records a member whose update (or rollback) is in flight, so that
// its result finds it.
func (m *managerActor) track(ms *memberState) {
	m.members[memberKey{ms.m.Name, ms.u.r.uid}] = ms
}

func (m *managerActor) untrack(ms *memberState) {
	delete(m.members, memberKey{ms.m.Name, ms.u.r.uid})
}

func (m *managerActor) onResult(ctx pa.Context, res *update.UpdateResult) {
	ms := m.members[memberKey{res.GetActor(), res.GetUpdateId()}]
	if ms == nil {
		return // not ours
	}
	if len(res.GetReason()) > m.cfg.MaxReasonBytes {
		res = proto.CloneOf(res) // the sender may still hold it
		res.Reason = clip(res.Reason, m.cfg.MaxReasonBytes, "MaxReasonBytes")
	}
	if ms.writtenOff {
		ms.u.r.onLate(ctx, ms, res)
		return
	}
	if ms.rollingBack {
		ms.u.r.onRollback(ctx, ms, res)
		return
	}
	ms.u.r.onResult(ctx, ms, res)
}

func (m *managerActor) onProbation(ctx pa.Context, res *update.ProbationResult) {
	if r := m.lookup(res.GetUpdateId()); r != nil {
		r.onProbation(ctx, res)
		return
	}
	// The package is over and nothing of it is watched: the event still
	// goes out, named by the package (the update id ends in "#sequence").
	// The result may come from anywhere: what is echoed is bounded.
	id := res.GetUpdateId()
	if i := strings.LastIndexByte(id, '#'); i >= 0 {
		id = id[:i]
	}
	limit := m.cfg.MaxReasonBytes
	m.emit(nil, &Event{
		PackageId: clip(id, limit, "MaxReasonBytes"), Type: EventType_PROBATION_ENDED,
		Actor: clip(res.GetActor(), limit, "MaxReasonBytes"), Kind: clip(res.GetKind(), limit, "MaxReasonBytes"),
		FromVersion: res.GetProbationVersion(), ToVersion: res.GetVersion(), Probation: res.GetOutcome(),
		Reason: clip(res.GetReason(), limit, "MaxReasonBytes"), LatencyNs: res.GetDurationNs(),
	})
}

func (m *managerActor) emit(r *run, e *Event) {
	if r != nil && r.onEvent != nil {
		r.onEvent(e)
	}
	for _, s := range m.subscribers {
		// Subscribers in this process share the event: it is read-only.
		m.node.Root().Send(s, e)
	}
}

// parseFormat reads RunPackage.format: an unknown one is refused rather
// than read as YAML, which failed later with a confusing parse error.
func parseFormat(s string) (manifest.Format, error) {
	const longest = 16 // no format's name is longer; the error echoes it
	if len(s) > longest {
		s = clip(s, longest, "format name length")
	}
	return manifest.ParseFormat(s)
}

// authorize asks the node's access control (molt.Authorize) whether a
// message from outside the manager may act: a message sent in this process
// may; one from another process only if the node's RemoteConfig.Allow
// accepts its authenticated origin. A refused request is answered with
// PackageRefused, a refused result or event is dropped; either way
// molt.Authorize has logged it with its origin.
func (m *managerActor) authorize(ctx pa.Context) error {
	switch ctx.Message().(type) {
	case *RunPackage, *CancelPackage, *Subscribe, *Unsubscribe, *update.UpdateResult, *update.ProbationResult:
	default:
		return nil // the manager's own messages, and protoactor's
	}
	err := molt.Authorize(ctx)
	if err != nil && ctx.Sender() != nil {
		switch ctx.Message().(type) {
		case *RunPackage, *CancelPackage, *Subscribe, *Unsubscribe:
			ctx.Respond(&PackageRefused{Reason: err.Error()})
		}
	}
	return err
}
