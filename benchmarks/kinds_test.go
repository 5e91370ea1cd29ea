package benchmarks_test

import (
	"context"
	"log/slog"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The kinds and helpers the benchmarks share.

// waitFor bounds every wait of the benchmarks: a run that takes longer than
// this has hung, and fails saying what did not happen.
const waitFor = 30 * time.Second

// --- Small state: the "counter" kind, versions 1 and 2. ---

// counterV1 is version 1 of a small-state kind.
type counterV1 struct {
	N int
}

func (c *counterV1) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *tick:
		c.N++
	case *getCount:
		m.reply <- int64(c.N)
	}
}

// counterV2 is version 2: the state changes shape.
type counterV2 struct {
	N, Total int64
}

func (c *counterV2) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *tick:
		c.N++
		c.Total++
	case *getCount:
		m.reply <- c.N
	}
}

type tick struct{}

type getCount struct{ reply chan int64 }

// counterCatalog registers the counter kind with an up and a down migration;
// pure registers them as registry.Pure, so no isolating copy is made.
func counterCatalog(b *testing.B, pure bool) *registry.Catalog {
	b.Helper()
	var opts []registry.MigrationOption
	if pure {
		opts = append(opts, registry.Pure())
	}
	cat := registry.New()
	must(b, registry.Register(cat, "counter", 1, func() *counterV1 { return &counterV1{} }))
	must(b, registry.Register(cat, "counter", 2, func() *counterV2 { return &counterV2{} }))
	must(b, registry.Migrate(cat, "counter", 1, 2, func(o *counterV1) (*counterV2, error) {
		return &counterV2{N: int64(o.N), Total: int64(o.N)}, nil
	}, opts...))
	must(b, registry.Migrate(cat, "counter", 2, 1, func(o *counterV2) (*counterV1, error) {
		return &counterV1{N: int(o.N)}, nil
	}, opts...))
	return cat
}

// --- Large state: the "blob" kind, versions 1 and 2, both carrying Data. ---

// blobV1 carries a []byte of the benchmark's size.
type blobV1 struct {
	Data []byte
	Seq  int32
}

func (s *blobV1) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *fill:
		s.Data = make([]byte, m.size)
		for i := range s.Data {
			s.Data[i] = byte(i)
		}
		m.done <- struct{}{}
	case *getBlob:
		m.reply <- s.Data
	}
}

// blobV2 carries the same bytes under a state of another shape.
type blobV2 struct {
	Data []byte
	Seq  int64
}

func (s *blobV2) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*getBlob); ok {
		m.reply <- s.Data
	}
}

type fill struct {
	size int
	done chan struct{}
}

type getBlob struct{ reply chan []byte }

// blobCatalog registers the blob kind. The migrations hand the bytes over
// without copying them, so whatever copy an update makes is the isolation's.
func blobCatalog(b *testing.B, pure bool) *registry.Catalog {
	b.Helper()
	var opts []registry.MigrationOption
	if pure {
		opts = append(opts, registry.Pure())
	}
	cat := registry.New()
	must(b, registry.Register(cat, "blob", 1, func() *blobV1 { return &blobV1{} }))
	must(b, registry.Register(cat, "blob", 2, func() *blobV2 { return &blobV2{} }))
	must(b, registry.Migrate(cat, "blob", 1, 2, func(o *blobV1) (*blobV2, error) {
		return &blobV2{Data: o.Data, Seq: int64(o.Seq) + 1}, nil
	}, opts...))
	must(b, registry.Migrate(cat, "blob", 2, 1, func(o *blobV2) (*blobV1, error) {
		return &blobV1{Data: o.Data, Seq: int32(o.Seq) + 1}, nil
	}, opts...))
	return cat
}

// --- Ping-pong: one behaviour, run as a plain protoactor actor and as a
// molt kind. ---

// ping bounces between the two actors of a pair; left counts the deliveries
// still to make. Only the actor holding it touches it: each hand-over goes
// through a mailbox, which orders the accesses. The padding gives each ping
// a cache line of its own, so that pings in flight on different cores do not
// slow each other down by false sharing.
type ping struct {
	left int
	_    [56]byte
}

// pair tells a pinger its peer and where to signal the end of a chain.
type pair struct {
	peer *actor.PID
	done chan<- struct{}
}

// pinger sends every ping back to its peer until the ping has no
// deliveries left.
type pinger struct {
	peer *actor.PID
	done chan<- struct{}
}

func (p *pinger) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *ping:
		m.left--
		if m.left <= 0 {
			p.done <- struct{}{}
			return
		}
		ctx.Send(p.peer, m)
	case *pair:
		p.peer, p.done = m.peer, m.done
	}
}

// --- Pause under load: the "target" kind, whose versions share a recorder. ---

// gapRecorder tracks the delivery times of one actor: the longest gap
// between two consecutive deliveries since the last reset, and how many
// messages were delivered. Both versions of the target hold the same
// recorder (their factories capture it), so it survives every migration.
type gapRecorder struct {
	base      time.Time
	last      int64 // the actor's goroutine only
	maxGap    atomic.Int64
	delivered atomic.Int64
	// wakeAt is the delivery count at which record signals wake, so that
	// a waiter can block instead of spinning on the count.
	wakeAt atomic.Int64
	wake   chan struct{}
}

func newGapRecorder() *gapRecorder {
	return &gapRecorder{base: time.Now(), wake: make(chan struct{}, 1)}
}

// record is called by the actor for each message delivered.
func (r *gapRecorder) record() {
	now := int64(time.Since(r.base))
	if r.last != 0 {
		gap := now - r.last
		for {
			old := r.maxGap.Load()
			if gap <= old || r.maxGap.CompareAndSwap(old, gap) {
				break
			}
		}
	}
	r.last = now
	if r.delivered.Add(1) == r.wakeAt.Load() {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// waitDelivered blocks until at least n messages have been delivered, and
// fails the benchmark if that takes longer than waitFor.
func (r *gapRecorder) waitDelivered(b *testing.B, n int64, what string) {
	b.Helper()
	r.wakeAt.Store(n)
	if r.delivered.Load() >= n {
		return
	}
	timeout := time.NewTimer(waitFor)
	defer timeout.Stop()
	// A signal may be left over from an earlier wait: look at the count
	// again after each one.
	for r.delivered.Load() < n {
		select {
		case <-r.wake:
		case <-timeout.C:
			b.Fatalf("waited %v for %s: %d of %d messages delivered", waitFor, what, r.delivered.Load(), n)
		}
	}
}

type targetV1 struct {
	N   int
	rec *gapRecorder
}

func (t *targetV1) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *tick:
		t.N++
		t.rec.record()
	case *getCount:
		m.reply <- int64(t.N)
	}
}

type targetV2 struct {
	N, Total int64
	rec      *gapRecorder
}

func (t *targetV2) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *tick:
		t.N++
		t.Total++
		t.rec.record()
	case *getCount:
		m.reply <- t.N
	}
}

// targetCatalog registers the target kind; every state it makes, by factory
// or by migration, reports to rec.
func targetCatalog(b *testing.B, rec *gapRecorder) *registry.Catalog {
	b.Helper()
	cat := registry.New()
	must(b, registry.Register(cat, "target", 1, func() *targetV1 { return &targetV1{rec: rec} }))
	must(b, registry.Register(cat, "target", 2, func() *targetV2 { return &targetV2{rec: rec} }))
	must(b, registry.Migrate(cat, "target", 1, 2, func(o *targetV1) (*targetV2, error) {
		return &targetV2{N: int64(o.N), Total: int64(o.N), rec: rec}, nil
	}))
	must(b, registry.Migrate(cat, "target", 2, 1, func(o *targetV2) (*targetV1, error) {
		return &targetV1{N: int(o.N), rec: rec}, nil
	}))
	return cat
}

// --- Helpers. ---

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// quietSystem returns a plain protoactor actor system that logs nothing,
// like a molt node's.
func quietSystem() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
}

// stop stops the actors and waits until each has stopped.
func stop(b *testing.B, root *actor.RootContext, pids ...*actor.PID) {
	b.Helper()
	for _, pid := range pids {
		if err := root.StopFuture(pid).Wait(); err != nil {
			b.Fatalf("actor %v did not stop: %v", pid, err)
		}
	}
}

// updates returns the two requests that move an actor back and forth
// between versions 1 and 2: the i-th update of a run is reqs[i%2].
func updates(deadline time.Duration) [2]*update.UpdateActor {
	var d *durationpb.Duration
	if deadline > 0 {
		d = durationpb.New(deadline)
	}
	return [2]*update.UpdateActor{{ToVersion: 2, Deadline: d}, {ToVersion: 1, Deadline: d}}
}

// applyUpdate runs one update in process and fails the benchmark unless it
// committed.
func applyUpdate(b *testing.B, node *molt.Node, pid *actor.PID, req *update.UpdateActor) *update.UpdateResult {
	res, err := node.Update(context.Background(), pid, req)
	if err != nil {
		b.Fatalf("update to version %d: %v", req.GetToVersion(), err)
	}
	if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		b.Fatalf("update to version %d did not commit: %v in phase %v: %s", req.GetToVersion(), res.GetOutcome(), res.GetPhase(), res.GetReason())
	}
	return res
}

// count asks a counter or target actor for its count.
func count(b *testing.B, root *actor.RootContext, pid *actor.PID) int64 {
	b.Helper()
	reply := make(chan int64, 1)
	root.Send(pid, &getCount{reply: reply})
	select {
	case n := <-reply:
		return n
	case <-time.After(waitFor):
		b.Fatalf("actor %v did not answer getCount within %v", pid, waitFor)
		return 0
	}
}

// percentile returns the q-quantile (0 < q <= 1) of sorted, by nearest rank.
func percentile(sorted []int64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return float64(sorted[min(max(i, 0), len(sorted)-1)])
}

// reportLatency sorts the samples (nanoseconds) and reports their p50 and
// p99 under the given metric prefix ("" gives "p50-ns" and "p99-ns").
func reportLatency(b *testing.B, prefix string, samples []int64) {
	slices.Sort(samples)
	b.ReportMetric(percentile(samples, 0.50), prefix+"p50-ns")
	b.ReportMetric(percentile(samples, 0.99), prefix+"p99-ns")
}
