package manager

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
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
	switch msg := ctx.Message().(type) {
	case *RunPackage:
		m.runDocument(ctx, msg)
	case *runLocal:
		plan, err := m.start(ctx, msg.pkg, msg.dryRun, msg.onEvent, msg.finished)
		msg.reply <- localReply{plan, err}
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
		m.subscribe(ctx)
	case *Unsubscribe:
		m.unsubscribe(ctx.Sender())
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

func (m *managerActor) subscribe(ctx pa.Context) {
	s := ctx.Sender()
	if s == nil {
		return
	}
	for _, o := range m.subscribers {
		if o.Equal(s) {
			return // one subscription per subscriber: events are not doubled
		}
	}
	if len(m.subscribers) >= m.cfg.MaxSubscribers {
		ctx.Respond(&PackageRefused{Reason: fmt.Sprintf("subscription refused: the manager has %d subscribers, its MaxSubscribers limit", len(m.subscribers))})
		return
	}
	m.subscribers = append(m.subscribers, s)
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
			plan.Format(&text)
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

func (m *managerActor) unsubscribe(pid *pa.PID) {
	for i, s := range m.subscribers {
		if s.Equal(pid) {
			m.subscribers = append(m.subscribers[:i], m.subscribers[i+1:]...)
			return
		}
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
