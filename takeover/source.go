package takeover

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// ServiceName is the name of the takeover service actor on every node that
// serves takeovers.
const ServiceName = "molt-takeover"

// DefaultDeadline bounds one actor's move when a Begin gives none.
const DefaultDeadline = 5 * time.Second

// MaxBatch bounds the actors of one Export.
const MaxBatch = 4096

// ErrServing is returned by Serve when the node already runs a takeover
// service.
var ErrServing = errors.New("takeover: a takeover service runs on the node already")

// Source is a node's takeover service: the actor a new process asks to
// take this process's actors over. Every node that may be taken over runs
// one (Serve); it needs the node's remote (molt.WithRemote), and admits
// requests from other processes as the node's access control says
// (molt.Authorize), as it does UpdateActor.
type Source struct {
	pid  *pa.PID
	node *molt.Node
	svc  *service
}

// Serve starts the takeover service of node under ServiceName. onFinish,
// if not nil, is called (on the service's goroutine) when a takeover
// finishes: the process may then close its listeners and, once its
// forwarders have nothing left to forward, exit.
func Serve(node *molt.Node, onFinish func(*Finished)) (*Source, error) {
	svc := &service{node: node, onFinish: onFinish, batches: map[uint64]*batch{}}
	props := pa.PropsFromProducer(func() pa.Actor { return svc }, pa.WithDispatcher(node.Dispatcher()))
	pid, err := node.Root().SpawnNamed(props, ServiceName)
	if errors.Is(err, pa.ErrNameExists) {
		return nil, fmt.Errorf("%w: an actor named %q exists", ErrServing, ServiceName)
	}
	if err != nil {
		return nil, fmt.Errorf("takeover: spawn %q: %w", ServiceName, err)
	}
	serving.Store(node, svc)
	return &Source{pid: pid, node: node, svc: svc}, nil
}

// PID returns the service's PID.
func (s *Source) PID() *pa.PID { return s.pid }

// Progress returns how the latest takeover of this node goes, as its
// source.
func (s *Source) Progress() *Progress { return s.svc.progress() }

// Stop stops the service and waits, at most ten seconds, until it has.
func (s *Source) Stop() {
	serving.Delete(s.node)
	_ = s.node.Root().StopFuture(s.pid).Wait()
}

// serving maps each node to its service, for the requester's progress.
var serving sync.Map // *molt.Node → *service

// service is the source's actor. Everything but progress runs on its
// goroutine.
type service struct {
	node     *molt.Node
	onFinish func(*Finished)

	id        string
	requester string
	deadline  time.Duration
	started   time.Time
	heard     time.Time // the requester's latest request
	finished  bool
	batches   map[uint64]*batch
	queue     []pending // movable actors not asked for yet
	moving    int       // exports started and not ended
	ops       []op      // exports and decisions waiting for a place in the window
	busy      int       // exports and decisions sent and not answered
	actors    int
	moved     int
	failed    int

	// mu guards everything: the service's Receive, the exports' answers
	// (on the actors' goroutines: cheaper than a message each) and
	// Progress.
	mu      sync.Mutex
	shown   *Progress
	request *Progress // the requester side's progress, when this node takes over
}

// batch is one Export, from staging to the decisions.
type batch struct {
	moves     map[string]*move // by actor name
	waiting   int              // moves without their staged (or failed) answer
	undecided int              // moves without their final answer
	exportTo  *pa.PID          // where Exported goes
	exported  bool
	decideTo  *pa.PID // where Decided goes, once Imported came
	decided   *Decided
}

type move struct {
	inWindow bool // an export or decision of it is sent and not answered
	pid      *pa.PID
	updateID string
	staged   *molt.Exported
	final    *update.UpdateResult
	failure  string // why it never staged
}

// window is how many actors the source works on at once (an export or a
// decision sent to each, not answered yet). Sending a whole batch at once
// makes that many mailboxes runnable at once, and molt's dispatcher then
// starts a goroutine for each, which grows a new stack for the deep path
// of sealing a state: measured, a batch of 1,000 took 121 µs per actor
// that way.
const window = 64

// op is an export or a decision waiting for its place in the window; run
// sends it and reports whether it did.
type op struct {
	st  *move
	run func() bool
}

// issue queues an op and sends what the window allows; s.mu is held.
func (s *service) issue(st *move, run func() bool) {
	s.ops = append(s.ops, op{st, run})
	s.pump()
}

// pump sends queued ops while the window has room; s.mu is held.
func (s *service) pump() {
	for s.busy < window && len(s.ops) > 0 {
		o := s.ops[0]
		s.ops[0] = op{}
		s.ops = s.ops[1:]
		s.busy++
		o.st.inWindow = true
		if !o.run() {
			s.busy--
			o.st.inWindow = false
		}
	}
}

// settled frees the window's place of an op answered; s.mu is held.
func (s *service) settled(st *move) {
	if st.inWindow {
		st.inWindow = false
		s.busy--
	}
}

// pending is a movable actor and the version it will run.
type pending struct {
	name string
	pid  *pa.PID
	to   uint32
}

func (s *service) Receive(ctx pa.Context) {
	switch ctx.Message().(type) {
	case *Begin, *Export, *Imported, *Finish, *Status:
	default:
		return
	}
	msg := ctx.Message().(proto.Message)
	if err := molt.Authorize(ctx); err != nil {
		s.refuse(ctx, "", err.Error())
		return
	}
	if _, ok := msg.(*Status); ok {
		respond(ctx, s.status())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.heard = time.Now()
	switch m := msg.(type) {
	case *Begin:
		s.begin(ctx, m)
	case *Export:
		if s.current(ctx, m.GetTakeoverId()) {
			s.export(ctx, m)
		}
	case *Imported:
		if s.current(ctx, m.GetTakeoverId()) {
			s.imported(ctx, m)
		}
	case *Finish:
		if s.current(ctx, m.GetTakeoverId()) {
			s.finish(ctx)
		}
	}
	s.publish()
}

func respond(ctx pa.Context, m proto.Message) {
	if to := ctx.Sender(); to != nil {
		ctx.Send(to, m)
	}
}

func (s *service) refuse(ctx pa.Context, id, reason string) {
	respond(ctx, &Refused{TakeoverId: id, Reason: reason})
}

// current checks that a request belongs to the takeover in progress.
func (s *service) current(ctx pa.Context, id string) bool {
	switch {
	case s.id == "":
		s.refuse(ctx, id, "no takeover was begun on this node; send Begin first")
	case id != s.id:
		s.refuse(ctx, id, fmt.Sprintf("takeover %q is the one in progress here, not %q", s.id, id))
	case s.finished:
		s.refuse(ctx, id, fmt.Sprintf("takeover %q has finished", id))
	default:
		return true
	}
	return false
}

func (s *service) inFlight() int { return s.moving }

func (s *service) begin(ctx pa.Context, m *Begin) {
	id := m.GetTakeoverId()
	if id == "" || len(id) > update.MaxIDLength {
		s.refuse(ctx, id, fmt.Sprintf("a takeover id must be 1 to %d bytes", update.MaxIDLength))
		return
	}
	if n := s.inFlight(); s.id != "" && n > 0 {
		s.refuse(ctx, id, fmt.Sprintf("takeover %q from %s has %d actors in flight; wait for it to end", s.id, s.requester, n))
		return
	}
	deadline := DefaultDeadline
	if d := m.GetDeadline(); d != nil {
		deadline = d.AsDuration()
		if err := d.CheckValid(); err != nil || deadline < update.MinDeadline || deadline > update.MaxDeadline {
			s.refuse(ctx, id, fmt.Sprintf("deadline %v is out of range: give one from %v to %v, or none for %v", deadline, update.MinDeadline, update.MaxDeadline, DefaultDeadline))
			return
		}
	}
	plans := make(map[string]*KindPlan, len(m.GetKinds()))
	for _, k := range m.GetKinds() {
		plans[k.GetKind()] = k
	}
	s.id, s.requester, s.deadline, s.started = id, m.GetRequester().GetAddress(), deadline, time.Now()
	s.finished, s.batches, s.queue, s.ops, s.busy = false, map[uint64]*batch{}, nil, nil, 0
	s.moving, s.actors, s.moved, s.failed = 0, 0, 0, 0
	inv := &Inventory{TakeoverId: id}
	stay := func(name, why string) {
		inv.Staying++
		if len(inv.StayingSample) < maxSample {
			inv.StayingSample = append(inv.StayingSample, &Outcome{Name: name, Reason: why})
		}
	}
	s.node.Directory().Range("", func(e registry.Entry) bool {
		name := e.PID.GetId()
		if !named(name) {
			return true
		}
		k := plans[e.Kind]
		switch {
		case k == nil:
			stay(name, fmt.Sprintf("the new process runs no %s", e.Kind))
		case !slices.Contains(k.GetReadable(), e.Version):
			stay(name, fmt.Sprintf("the new process cannot migrate %s version %d to version %d", e.Kind, e.Version, k.GetTarget()))
		default:
			s.queue = append(s.queue, pending{name: name, pid: e.PID, to: k.GetTarget()})
		}
		return true
	})
	// Move in name order: deterministic, and a person reading progress
	// can tell how far it got.
	slices.SortFunc(s.queue, func(a, b pending) int { return strings.Compare(a.name, b.name) })
	inv.Movable = uint32(len(s.queue))
	s.actors = len(s.queue)
	respond(ctx, inv)
}

// maxSample bounds the staying actors an Inventory names.
const maxSample = 100

// named says whether an id is one a user gave (WithName): protoactor's
// generated ids start with "$", and only named actors can be found again
// in the new process.
func named(id string) bool { return id != "" && id[0] != '$' }

func (s *service) export(ctx pa.Context, m *Export) {
	count := int(m.GetCount())
	if count == 0 || count > MaxBatch {
		s.refuse(ctx, s.id, fmt.Sprintf("an Export asks for 1 to %d actors, not %d", MaxBatch, count))
		return
	}
	if _, dup := s.batches[m.GetBatch()]; dup {
		s.refuse(ctx, s.id, fmt.Sprintf("batch %d was exported already", m.GetBatch()))
		return
	}
	count = min(count, len(s.queue))
	picked := s.queue[:count]
	s.queue = s.queue[count:]
	b := &batch{moves: make(map[string]*move, count), exportTo: ctx.Sender()}
	s.batches[m.GetBatch()] = b
	num := m.GetBatch()
	for i, p := range picked {
		name := p.name
		st := &move{updateID: fmt.Sprintf("%s/%d/%d", s.id, num, i)}
		if len(st.updateID) > update.MaxIDLength {
			st.updateID = fmt.Sprintf("takeover/%d/%d", num, i)
		}
		b.moves[name] = st
		st.pid = p.pid // Export refuses it if it stopped since
		b.waiting++
		b.undecided++
		s.moving++
		req := &update.UpdateActor{UpdateId: st.updateID, ToVersion: p.to, Deadline: durationpb.New(s.deadline)}
		s.issue(st, func() bool {
			err := s.node.Export(st.pid, req, func(e molt.Exported) { s.answered(num, name, e) })
			if err != nil {
				st.failure = err.Error()
				b.waiting--
				b.undecided--
				s.moving--
				s.maybeExported(num, b)
				return false
			}
			return true
		})
	}
	s.maybeExported(num, b)
}

// answered records an export's answer; it runs on the actor's goroutine.
func (s *service) answered(num uint64, name string, a molt.Exported) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.batches[num]
	if b == nil {
		return
	}
	st := b.moves[name]
	if st == nil {
		return
	}
	s.settled(st)
	defer s.pump()
	if a.Result.GetOutcome() == update.Outcome_OUTCOME_STAGED {
		if st.staged == nil {
			st.staged = &a
			b.waiting--
		}
	} else if st.final == nil {
		st.final = a.Result
		b.undecided--
		s.moving--
		if st.staged == nil {
			// Refused or aborted before it staged.
			b.waiting--
			st.failure = a.Result.GetReason()
		}
		if a.Result.GetOutcome() == update.Outcome_OUTCOME_COMMITTED {
			s.moved++
		} else {
			s.failed++
		}
	}
	s.maybeExported(num, b)
	s.maybeDecided(num, b)
}

// maybeExported answers Export once every actor of the batch staged or
// failed.
func (s *service) maybeExported(num uint64, b *batch) {
	if b.exported || b.waiting > 0 {
		return
	}
	b.exported = true
	out := &Exported{TakeoverId: s.id, Batch: num}
	for name, st := range b.moves {
		switch {
		case st.staged != nil && st.final == nil:
			out.Sealed = append(out.Sealed, &Sealed{Envelope: st.staged.Envelope})
		default:
			reason := st.failure
			if reason == "" && st.final != nil {
				reason = st.final.GetReason()
			}
			out.Failed = append(out.Failed, &Outcome{Name: name, Reason: reason, Result: st.final})
		}
	}
	if b.exportTo != nil {
		s.node.Root().Send(b.exportTo, out)
	}
	s.publish()
}

func (s *service) imported(ctx pa.Context, m *Imported) {
	b := s.batches[m.GetBatch()]
	if b == nil || !b.exported {
		s.refuse(ctx, s.id, fmt.Sprintf("batch %d was not exported", m.GetBatch()))
		return
	}
	if b.decided != nil {
		respond(ctx, b.decided) // a retry: the same answer
		return
	}
	if b.decideTo != nil {
		b.decideTo = ctx.Sender() // a retry while the decisions run: answer the latest asker
		return
	}
	b.decideTo = ctx.Sender()
	placed := make(map[string]*pa.PID, len(m.GetPlaced()))
	for _, p := range m.GetPlaced() {
		placed[p.GetName()] = p.GetPid().PID()
	}
	reasons := make(map[string]string, len(m.GetFailed()))
	for _, f := range m.GetFailed() {
		reasons[f.GetName()] = f.GetReason()
	}
	for name, st := range b.moves {
		if st.staged == nil || st.final != nil {
			continue // never staged, or over already (its deadline passed)
		}
		to, reason := placed[name], reasons[name]
		if reason == "" {
			reason = "the new process did not start it"
		}
		s.issue(st, func() bool {
			if st.final != nil {
				return false // over meanwhile: its deadline passed
			}
			s.node.Decide(st.pid, st.updateID, to, "takeover: "+reason)
			return true
		})
	}
	s.maybeDecided(m.GetBatch(), b)
}

// maybeDecided answers Imported once every staged actor of the batch has
// its final result.
func (s *service) maybeDecided(num uint64, b *batch) {
	if b.decideTo == nil || b.decided != nil || b.undecided > 0 {
		return
	}
	out := &Decided{TakeoverId: s.id, Batch: num}
	for name, st := range b.moves {
		o := &Outcome{Name: name, Result: st.final, Reason: st.failure}
		if st.final != nil {
			o.Committed = st.final.GetOutcome() == update.Outcome_OUTCOME_COMMITTED
			if !o.Committed {
				o.Reason = st.final.GetReason()
			}
		}
		out.Outcomes = append(out.Outcomes, o)
	}
	b.decided = out
	s.node.Root().Send(b.decideTo, out)
	s.publish()
}

func (s *service) finish(ctx pa.Context) {
	s.finished = true
	out := &Finished{TakeoverId: s.id, Moved: uint32(s.moved), Stayed: uint32(s.node.Directory().Len())}
	respond(ctx, out)
	if s.onFinish != nil {
		s.onFinish(out)
	}
}

func (s *service) status() *Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.request != nil && (s.shown == nil || !s.request.GetDone()) {
		return proto.CloneOf(s.request)
	}
	return s.sourceProgress()
}

func (s *service) progress() *Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sourceProgress()
}

// sourceProgress returns the source side's progress; s.mu is held. A
// takeover whose requester went silent, with nothing in flight, is over:
// its actors that had not moved run here again.
func (s *service) sourceProgress() *Progress {
	if s.shown == nil {
		return &Progress{}
	}
	p := proto.CloneOf(s.shown)
	if silent := time.Since(s.heard); !s.finished && s.moving == 0 && silent > 2*s.deadline+5*time.Second {
		p.Done = true
		p.Error = fmt.Sprintf("abandoned: the requester has sent nothing for %v; the actors that had not moved run here", silent.Round(time.Second))
	}
	return p
}

// publish refreshes what Progress shows; s.mu is held.
func (s *service) publish() {
	if s.id == "" {
		return
	}
	p := &Progress{
		TakeoverId: s.id, Role: "source", Peer: s.requester, Done: s.finished,
		Actors: uint32(s.actors), Moved: uint32(s.moved), Failed: uint32(s.failed), InFlight: uint32(s.inFlight()),
		Elapsed: durationpb.New(time.Since(s.started)),
	}
	s.shown = p // s.mu is held
}

// showRequest records the requester side's progress on this node's
// service, for Status.
func showRequest(node *molt.Node, p *Progress) {
	v, ok := serving.Load(node)
	if !ok {
		return
	}
	s := v.(*service)
	s.mu.Lock()
	s.request = proto.CloneOf(p)
	s.mu.Unlock()
}
