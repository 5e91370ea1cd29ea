package takeover

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Errors returned by Run.
var (
	// ErrRefused is returned when the source refused the takeover (another
	// one runs, a credential was refused, the request was invalid); the
	// error gives its reason. Nothing moved.
	ErrRefused = errors.New("takeover: refused by the source")
	// ErrUnreachable is returned when the source did not answer Begin.
	ErrUnreachable = errors.New("takeover: the source did not answer")
)

// Config says how a takeover runs. The zero value moves every actor this
// binary can run, at the highest version it runs of each kind.
type Config struct {
	// Deadline bounds one actor's move in the source, from its hold to the
	// decision; 0 means DefaultDeadline. An actor whose move is not
	// decided by twice the deadline resumes in the source.
	Deadline time.Duration
	// BatchSize is how many actors one Export moves; 0 means 64.
	BatchSize int
	// Parallel is how many batches are in flight at once; 0 means 2.
	// More batches in flight move a fleet little faster on two cores and
	// hold each actor much longer (100,000 actors here: 2 in flight, 6 s
	// and a pause p99 of 20 ms; 8 in flight, 5 to 8 s and 75 to 150 ms).
	Parallel int
	// Versions gives the version to run each kind at; a kind not listed
	// runs at the highest version the catalogue can run.
	Versions map[string]uint32
	// Spawn are options for every actor this process starts (Persistent,
	// protoactor props); the name and labels are the source's.
	Spawn []molt.SpawnOption
	// Progress, if not nil, is called after each batch, from one
	// goroutine at a time.
	Progress func(*Progress)
	// ID names the takeover; "" makes one from the time.
	ID string
}

func (c Config) withDefaults() Config {
	if c.Deadline == 0 {
		c.Deadline = DefaultDeadline
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 64
	}
	c.BatchSize = min(c.BatchSize, MaxBatch)
	if c.Parallel <= 0 {
		c.Parallel = 2
	}
	if c.ID == "" {
		c.ID = fmt.Sprintf("takeover-%d", time.Now().UnixNano())
	}
	return c
}

// Report says what a takeover did.
type Report struct {
	ID string
	// Movable is how many actors the source offered; Moved of them run
	// here now, Failed stay in the source (Failures says why).
	Movable, Moved, Failed int
	// Staying counts the source's named actors this binary cannot run;
	// StayingSample names some, with why.
	Staying       int
	StayingSample []Failure
	Failures      []Failure
	// Total is the takeover's time, from Begin to Finish.
	Total time.Duration
	// Pauses has, for each moved actor, the time it took no message: from
	// the start of its hold in the source (the preparation phase) to its
	// release here, by the wall clock of each process, which on one
	// machine is the same clock. Sorted ascending.
	Pauses []time.Duration
}

// Failure is an actor that did not move, and why.
type Failure struct {
	Name, Reason string
}

// Pause returns the q-quantile (0 to 1) of the pauses, 0 when none moved.
func (r *Report) Pause(q float64) time.Duration {
	if len(r.Pauses) == 0 {
		return 0
	}
	i := int(q * float64(len(r.Pauses)-1))
	return r.Pauses[max(0, min(i, len(r.Pauses)-1))]
}

// Run takes over, into node, the named molt actors of the process whose
// node listens at from (host:port): batch by batch, each actor is held and
// sealed there, migrated and started here under the same name (held), and
// released once the source committed its move; the source then forwards to
// it every message held or still arriving, in order. An actor whose move
// fails, or is not decided in time, resumes in the source with its state
// untouched; actors already moved stay moved.
//
// node must run remote (molt.WithRemote) and should run Serve, so that a
// later process can take over from it in turn. ctx bounds the whole
// takeover: when it ends, no further batch starts, and batches in flight
// finish or abort within their deadline.
//
// Run returns ErrUnreachable or ErrRefused when nothing moved; otherwise
// the report, and an error if some batch could not complete (the report
// says which actors failed and why).
func Run(ctx context.Context, node *molt.Node, from string, cfg Config) (*Report, error) {
	cfg = cfg.withDefaults()
	r := &runner{node: node, cfg: cfg, source: pa.NewPID(from, ServiceName), start: time.Now(), from: from, targets: map[string]uint32{}}
	r.report.ID = cfg.ID
	if err := r.begin(ctx); err != nil {
		return nil, err
	}
	err := r.batches(ctx)
	if ferr := r.finish(); err == nil {
		err = ferr
	}
	r.report.Total = time.Since(r.start)
	slices.Sort(r.report.Pauses)
	r.progress(true, err)
	return &r.report, err
}

type runner struct {
	node   *molt.Node
	cfg    Config
	source *pa.PID
	from   string
	start  time.Time

	targets  map[string]uint32 // the version each kind runs at here; set by begin
	mu       sync.Mutex        // guards report and progress
	report   Report
	inFlight int
	batch    atomic.Uint64
}

// ask sends a request to the source and waits for its answer, at most d.
func (r *runner) ask(msg proto.Message, d time.Duration) (any, error) {
	res, err := r.node.Root().RequestFuture(r.source, msg, d).Result()
	if err != nil {
		return nil, err
	}
	if ref, ok := res.(*Refused); ok {
		return nil, fmt.Errorf("%w: %s", ErrRefused, ref.GetReason())
	}
	return res, nil
}

func (r *runner) begin(ctx context.Context) error {
	begin := &Begin{TakeoverId: r.cfg.ID, Requester: update.RefOf(pa.NewPID(r.node.System().Address(), ServiceName)), Deadline: durationpb.New(r.cfg.Deadline)}
	cat := r.node.Catalog()
	for _, kind := range cat.Kinds() {
		target, ok := r.cfg.Versions[kind]
		if !ok {
			target = highestRunnable(r.node, kind)
		}
		if target == 0 {
			continue
		}
		r.targets[kind] = target
		k := &KindPlan{Kind: kind, Target: target}
		for _, v := range cat.Versions(kind) {
			if v == target {
				k.Readable = append(k.Readable, v)
			} else if _, err := cat.Plan(kind, v, target); err == nil {
				// Plan also compares the message interfaces: messages
				// held in the source come along.
				k.Readable = append(k.Readable, v)
			}
		}
		begin.Kinds = append(begin.Kinds, k)
	}
	wait := 10 * time.Second
	if d, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(d))
	}
	res, err := r.ask(begin, wait)
	if err != nil {
		if errors.Is(err, ErrRefused) {
			return err
		}
		return fmt.Errorf("%w: Begin to %v: %v; is the old process running with molt remote and takeover.Serve, at that address?", ErrUnreachable, r.source, err)
	}
	inv, ok := res.(*Inventory)
	if !ok {
		return fmt.Errorf("takeover: the source answered Begin with %T", res)
	}
	r.report.Movable, r.report.Staying = int(inv.GetMovable()), int(inv.GetStaying())
	for _, o := range inv.GetStayingSample() {
		r.report.StayingSample = append(r.report.StayingSample, Failure{o.GetName(), o.GetReason()})
	}
	r.progress(false, nil)
	return nil
}

// batches runs Export after Export, cfg.Parallel at a time, until the
// source has no actor left to offer or ctx ends.
func (r *runner) batches(ctx context.Context) error {
	var (
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
		drained atomic.Bool
	)
	fail := func(err error) { errOnce.Do(func() { first = err }) }
	for w := 0; w < r.cfg.Parallel; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !drained.Load() && ctx.Err() == nil {
				more, err := r.one(r.batch.Add(1))
				if err != nil {
					fail(err)
					drained.Store(true)
					return
				}
				if !more {
					drained.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil && !drained.Load() {
		first = fmt.Errorf("takeover: stopped before every actor moved: %w", ctx.Err())
	}
	return first
}

// one moves one batch. It reports whether the source may have more.
func (r *runner) one(num uint64) (bool, error) {
	res, err := r.ask(&Export{TakeoverId: r.cfg.ID, Batch: num, Count: uint32(r.cfg.BatchSize)}, 2*r.cfg.Deadline+10*time.Second)
	if err != nil {
		return false, fmt.Errorf("takeover: batch %d: Export: %w", num, err)
	}
	ex, ok := res.(*Exported)
	if !ok {
		return false, fmt.Errorf("takeover: batch %d: the source answered Export with %T", num, res)
	}
	if len(ex.GetSealed()) == 0 && len(ex.GetFailed()) == 0 {
		return false, nil
	}
	r.track(len(ex.GetSealed()))
	defer r.track(-len(ex.GetSealed()))

	imp := &Imported{TakeoverId: r.cfg.ID, Batch: num}
	failed := make(map[string]string, len(ex.GetFailed()))
	for _, f := range ex.GetFailed() {
		failed[f.GetName()] = f.GetReason()
	}
	// Start every sealed actor here, held; wait until each has handled
	// VersionChanged.
	type started struct {
		pid *pa.PID
		err error
	}
	ready := make(chan started, len(ex.GetSealed()))
	pids := make(map[string]*pa.PID, len(ex.GetSealed()))
	sealed := make(map[string]int64, len(ex.GetSealed()))
	timeout := time.NewTimer(r.cfg.Deadline)
	defer timeout.Stop()
	broken := make(map[string]string)
	waiting := make(map[string]bool, min(importWindow, len(ex.GetSealed())))
	// await takes ready answers until at most limit imports wait for
	// theirs, and reports false if the deadline passed first.
	await := func(limit int) bool {
		for len(waiting) > limit {
			select {
			case s := <-ready:
				delete(waiting, s.pid.GetId())
				if s.err != nil {
					broken[s.pid.GetId()] = s.err.Error()
				}
			case <-timeout.C:
				return false
			}
		}
		return true
	}
	late := false
	for _, s := range ex.GetSealed() {
		e := s.GetEnvelope()
		if late {
			imp.Failed = append(imp.Failed, &Outcome{Name: e.GetName(), Reason: fmt.Sprintf("the batch did not start here within %v", r.cfg.Deadline)})
			continue
		}
		target := r.targets[e.GetKind()] // the source offers only kinds that have one
		pid, err := r.node.Import(e, target, func(p *pa.PID, err error) { ready <- started{p, err} }, r.cfg.Spawn...)
		if err != nil {
			imp.Failed = append(imp.Failed, &Outcome{Name: e.GetName(), Reason: err.Error()})
			continue
		}
		pids[e.GetName()] = pid
		sealed[e.GetName()] = e.GetSealedUnixNanos()
		waiting[e.GetName()] = true
		late = !await(importWindow - 1)
	}
	if late || !await(0) {
		for name := range waiting {
			broken[name] = fmt.Sprintf("it did not start here within %v", r.cfg.Deadline)
		}
	}
	for name, pid := range pids {
		if why, bad := broken[name]; bad {
			imp.Failed = append(imp.Failed, &Outcome{Name: name, Reason: why})
			r.node.Discard(pid)
			delete(pids, name)
			continue
		}
		imp.Placed = append(imp.Placed, &Placed{Name: name, Pid: update.RefOf(pid)})
	}

	dec, err := r.decide(imp)
	if err != nil {
		// The source never answered: it is gone (a source that lives
		// answers, from its record, even after its deadline). Actors it
		// committed run nowhere else, and the others died with it.
		for _, pid := range pids {
			r.node.Release(pid)
		}
		return false, fmt.Errorf("takeover: batch %d: %w; its %d actors were released here", num, err, len(pids))
	}
	var pauses []time.Duration
	var fails []Failure
	for _, o := range dec.GetOutcomes() {
		pid := pids[o.GetName()]
		switch {
		case o.GetCommitted() && pid != nil:
			r.node.Release(pid)
			pauses = append(pauses, pause(sealed[o.GetName()], o.GetResult()))
		case pid != nil:
			r.node.Discard(pid)
			fails = append(fails, Failure{o.GetName(), o.GetReason()})
		default:
			reason := o.GetReason()
			if why, ok := failed[o.GetName()]; ok && reason == "" {
				reason = why
			}
			fails = append(fails, Failure{o.GetName(), reason})
		}
	}
	r.mu.Lock()
	r.report.Moved += len(pauses)
	r.report.Failed += len(fails)
	r.report.Pauses = append(r.report.Pauses, pauses...)
	r.report.Failures = append(r.report.Failures, fails...)
	r.mu.Unlock()
	r.progress(false, nil)
	return true, nil
}

// decide sends Imported until the source answers with its decisions: a
// source that lives answers within twice the deadline, since by then each
// of the batch's actors has committed or aborted.
func (r *runner) decide(imp *Imported) (*Decided, error) {
	until := time.Now().Add(2*r.cfg.Deadline + 5*time.Second)
	var last error
	for time.Now().Before(until) {
		res, err := r.ask(imp, max(time.Second, time.Until(until)))
		if err == nil {
			if d, ok := res.(*Decided); ok {
				return d, nil
			}
			err = fmt.Errorf("the source answered Imported with %T", res)
		}
		last = err
		if errors.Is(err, ErrRefused) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("no decision from the source within %v: %v", 2*r.cfg.Deadline+5*time.Second, last)
}

func (r *runner) finish() error {
	_, err := r.ask(&Finish{TakeoverId: r.cfg.ID}, 10*time.Second)
	if err != nil {
		return fmt.Errorf("takeover: Finish: %w", err)
	}
	return nil
}

func (r *runner) track(n int) {
	r.mu.Lock()
	r.inFlight += n
	r.mu.Unlock()
}

// progress publishes where the takeover is, to Config.Progress and to
// this node's takeover service.
func (r *runner) progress(done bool, err error) {
	r.mu.Lock()
	p := &Progress{
		TakeoverId: r.cfg.ID, Role: "requester", Peer: r.from, Done: done,
		Actors: uint32(r.report.Movable), Moved: uint32(r.report.Moved), Failed: uint32(r.report.Failed),
		InFlight: uint32(r.inFlight), Elapsed: durationpb.New(time.Since(r.start)),
	}
	if err != nil {
		p.Error = err.Error()
	}
	if r.cfg.Progress != nil {
		r.cfg.Progress(p)
	}
	r.mu.Unlock()
	showRequest(r.node, p)
}

// importWindow is how many imported actors may wait to start at once, for
// the reason the source has its window: a whole batch started at once is
// a goroutine per actor.
const importWindow = 64

// pause returns how long an actor sealed at sealed (Unix nanoseconds) and
// moved with result res has been held, now that it is released.
func pause(sealed int64, res *update.UpdateResult) time.Duration {
	held := sealed - res.GetPreparationNs() - res.GetStateCheckingNs()
	return time.Duration(time.Now().UnixNano() - held)
}

// highestRunnable returns the highest version of kind the node's catalogue
// can run, or 0.
func highestRunnable(node *molt.Node, kind string) uint32 {
	infos, _ := node.Catalog().Describe(kind)
	for i := len(infos) - 1; i >= 0; i-- {
		if !infos[i].StateOnly {
			return infos[i].Version
		}
	}
	return 0
}
