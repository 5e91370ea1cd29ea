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
)

// managerActor is the update manager: it plans packages, runs them one per
// kind at a time, and tells subscribers how they go.
type managerActor struct {
	node        *molt.Node
	runs        map[string]*run   // by package id
	byUID       map[string]*run   // by the run's update id, for results
	kinds       map[string]string // kind -> id of the package updating it
	members     map[memberKey]*memberState
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
		finished chan *Event
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

func newManagerActor(node *molt.Node) *managerActor {
	return &managerActor{
		node:    node,
		runs:    map[string]*run{},
		byUID:   map[string]*run{},
		kinds:   map[string]string{},
		members: map[memberKey]*memberState{},
	}
}

func (m *managerActor) Receive(ctx pa.Context) {
	switch msg := ctx.Message().(type) {
	case *RunPackage:
		m.runDocument(ctx, msg)
	case *runLocal:
		plan, err := m.start(ctx, msg.pkg, msg.dryRun, msg.onEvent, msg.finished)
		msg.reply <- localReply{plan, err}
	case *CancelPackage:
		if r := m.runs[msg.GetPackageId()]; r != nil {
			r.halt(ctx, PackageOutcome_PACKAGE_OUTCOME_CANCELLED, "cancelled on request")
			r.settle(ctx)
			ctx.Respond(&PackageAccepted{PackageId: r.id})
		} else {
			ctx.Respond(&PackageRefused{PackageId: msg.GetPackageId(), Reason: fmt.Sprintf("no package %q is running", msg.GetPackageId())})
		}
	case *Subscribe:
		if s := ctx.Sender(); s != nil {
			m.subscribers = append(m.subscribers, s)
		}
	case *Unsubscribe:
		m.unsubscribe(ctx.Sender())
	case *update.UpdateResult:
		m.onResult(ctx, msg)
	case *sweep:
		if r := m.byUID[msg.id]; r != nil {
			r.sweep(ctx)
		}
	case *update.ProbationResult:
		if r := m.byUID[msg.GetUpdateId()]; r != nil {
			r.onProbation(ctx, msg)
		} else {
			// The package is over: the event still goes out.
			m.emit(nil, &Event{
				PackageId: msg.GetUpdateId(), Type: EventType_PROBATION_ENDED, Actor: msg.GetActor(), Kind: msg.GetKind(),
				FromVersion: msg.GetProbationVersion(), ToVersion: msg.GetVersion(), Probation: msg.GetOutcome(),
				Reason: msg.GetReason(), LatencyNs: msg.GetDurationNs(),
			})
		}
	case *packageDeadline:
		if r := m.byUID[msg.id]; r != nil {
			r.halt(ctx, PackageOutcome_PACKAGE_OUTCOME_HALTED, fmt.Sprintf("the package deadline of %v passed", r.pkg.Quiescence.Package.Duration))
			r.settle(ctx)
		}
	case *nextBatch:
		if r := m.byUID[msg.id]; r != nil {
			r.resume(ctx, msg)
		}
	}
}

// runDocument serves a RunPackage from another actor or process.
func (m *managerActor) runDocument(ctx pa.Context, msg *RunPackage) {
	format := manifest.FormatYAML
	if strings.EqualFold(msg.GetFormat(), "json") {
		format = manifest.FormatJSON
	}
	pkg, err := manifest.Load(bytes.NewReader(msg.GetDocument()), format)
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
		refused.PackageId = pkg.ID
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
func (m *managerActor) start(ctx pa.Context, pkg *manifest.Package, dryRun bool, onEvent func(*Event), finished chan *Event) (*manifest.Plan, error) {
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
		return // not ours, or a late answer
	}
	if ms.rollingBack {
		ms.u.r.onRollback(ctx, ms, res)
		return
	}
	ms.u.r.onResult(ctx, ms, res)
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
