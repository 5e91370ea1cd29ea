package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
)

// The kinds the built-in scenarios measure. Each has two versions of
// different state shapes, and a migration each way, so that an actor can be
// updated back and forth for as long as a case runs.

// waitFor bounds every wait of the harness: an operation that takes longer
// has hung, and fails saying what did not happen.
const waitFor = 30 * time.Second

// Isolation is how a migration's input is kept apart from the live state,
// so that an aborted update leaves the old state exactly as it was.
type Isolation string

// The isolation modes a built-in kind can be registered with.
const (
	// IsolateCodec is molt's default: the state is copied by a round trip
	// through its version's codec (msgpack) before the first migration.
	IsolateCodec Isolation = "codec"
	// IsolateClone gives each version a registry.Clone, a hand-written deep
	// copy.
	IsolateClone Isolation = "clone"
	// IsolatePure declares the migrations registry.Pure: they never modify
	// their input, so no copy is made.
	IsolatePure Isolation = "pure"
)

// Isolations lists the isolation modes in the order the scenarios run them.
var Isolations = []Isolation{IsolateCodec, IsolateClone, IsolatePure}

// migrationOptions returns the options that declare migrations Pure under
// iso.
func (iso Isolation) migrationOptions() []registry.MigrationOption {
	if iso == IsolatePure {
		return []registry.MigrationOption{registry.Pure()}
	}
	return nil
}

func (iso Isolation) valid() error {
	switch iso {
	case IsolateCodec, IsolateClone, IsolatePure:
		return nil
	}
	return fmt.Errorf("harness: unknown isolation %q: use %q, %q or %q", iso, IsolateCodec, IsolateClone, IsolatePure)
}

// Messages of the built-in kinds.
type (
	// tick is the user message a stream or a queue is made of.
	tick struct{}
	// getCount asks for the number of ticks received.
	getCount struct{ reply chan int64 }
	// gate blocks the actor inside Receive until open is closed, so that
	// messages pile up in its mailbox; entered is signalled once it blocks.
	gate struct {
		entered chan<- struct{}
		open    <-chan struct{}
	}
	// finish ends the job a "job" actor started on its gate.
	finish struct{}
)

func (g *gate) pass() {
	g.entered <- struct{}{}
	<-g.open
}

// --- "counter": a small state, no hooks: stable between any two messages. ---

type counterV1 struct{ N int }

func (c *counterV1) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *tick:
		c.N++
	case *getCount:
		m.reply <- int64(c.N)
	case *gate:
		m.pass()
	}
}

type counterV2 struct{ N, Total int64 }

func (c *counterV2) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *tick:
		c.N++
		c.Total++
	case *getCount:
		m.reply <- c.N
	case *gate:
		m.pass()
	}
}

func counterCatalog(iso Isolation) (*registry.Catalog, error) {
	if err := iso.valid(); err != nil {
		return nil, err
	}
	var v1, v2 []registry.VersionOption
	if iso == IsolateClone {
		v1 = append(v1, registry.Clone(func(c *counterV1) *counterV1 { cp := *c; return &cp }))
		v2 = append(v2, registry.Clone(func(c *counterV2) *counterV2 { cp := *c; return &cp }))
	}
	cat := registry.New()
	return cat, errors.Join(
		registry.Register(cat, "counter", 1, func() *counterV1 { return &counterV1{} }, v1...),
		registry.Register(cat, "counter", 2, func() *counterV2 { return &counterV2{} }, v2...),
		registry.Migrate(cat, "counter", 1, 2, func(o *counterV1) (*counterV2, error) {
			return &counterV2{N: int64(o.N), Total: int64(o.N)}, nil
		}, iso.migrationOptions()...),
		registry.Migrate(cat, "counter", 2, 1, func(o *counterV2) (*counterV1, error) {
			return &counterV1{N: int(o.N)}, nil
		}, iso.migrationOptions()...),
	)
}

// CounterTarget is the built-in small-state target: kind "counter", whose
// version 1 holds an int and version 2 two int64s, updated 1→2, 2→1, …
// under the given isolation.
func CounterTarget(iso Isolation) (Target, error) {
	cat, err := counterCatalog(iso)
	if err != nil {
		return Target{}, err
	}
	return Target{
		Name:       "counter/" + string(iso),
		Catalog:    cat,
		Kind:       "counter",
		Parameters: Params{"kind": "counter", "isolation": string(iso)},
	}, nil
}

// --- "job": a small state with hooks: not stable while a job runs. ---

// jobV1 starts a job on a gate and is not stable until the job's finish
// message, which it admits while an update holds the other messages.
type jobV1 struct {
	N    int
	Busy bool
}

func (j *jobV1) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *tick:
		j.N++
	case *getCount:
		m.reply <- int64(j.N)
	case *gate:
		j.Busy = true
		m.pass()
	case *finish:
		j.Busy = false
	}
}

func (j *jobV1) Stable() bool       { return !j.Busy }
func (j *jobV1) Admit(msg any) bool { _, ok := msg.(*finish); return ok }

type jobV2 struct {
	N, Total int64
	Busy     bool
}

func (j *jobV2) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *tick:
		j.N++
		j.Total++
	case *getCount:
		m.reply <- j.N
	case *gate:
		j.Busy = true
		m.pass()
	case *finish:
		j.Busy = false
	}
}

func (j *jobV2) Stable() bool       { return !j.Busy }
func (j *jobV2) Admit(msg any) bool { _, ok := msg.(*finish); return ok }

func jobCatalog() (*registry.Catalog, error) {
	cat := registry.New()
	return cat, errors.Join(
		registry.Register(cat, "job", 1, func() *jobV1 { return &jobV1{} }),
		registry.Register(cat, "job", 2, func() *jobV2 { return &jobV2{} }),
		registry.Migrate(cat, "job", 1, 2, func(o *jobV1) (*jobV2, error) {
			return &jobV2{N: int64(o.N), Total: int64(o.N), Busy: o.Busy}, nil
		}),
		registry.Migrate(cat, "job", 2, 1, func(o *jobV2) (*jobV1, error) {
			return &jobV1{N: int(o.N), Busy: o.Busy}, nil
		}),
	)
}

// --- "blob": a state of any size. ---

// blobV1 carries a []byte of the case's size.
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
// without copying them, so whatever copy an update makes is the
// isolation's.
func blobCatalog(iso Isolation) (*registry.Catalog, error) {
	if err := iso.valid(); err != nil {
		return nil, err
	}
	var v1, v2 []registry.VersionOption
	if iso == IsolateClone {
		v1 = append(v1, registry.Clone(func(s *blobV1) *blobV1 { return &blobV1{Data: bytes.Clone(s.Data), Seq: s.Seq} }))
		v2 = append(v2, registry.Clone(func(s *blobV2) *blobV2 { return &blobV2{Data: bytes.Clone(s.Data), Seq: s.Seq} }))
	}
	cat := registry.New()
	return cat, errors.Join(
		registry.Register(cat, "blob", 1, func() *blobV1 { return &blobV1{} }, v1...),
		registry.Register(cat, "blob", 2, func() *blobV2 { return &blobV2{} }, v2...),
		registry.Migrate(cat, "blob", 1, 2, func(o *blobV1) (*blobV2, error) {
			return &blobV2{Data: o.Data, Seq: int64(o.Seq) + 1}, nil
		}, iso.migrationOptions()...),
		registry.Migrate(cat, "blob", 2, 1, func(o *blobV2) (*blobV1, error) {
			return &blobV1{Data: o.Data, Seq: int32(o.Seq) + 1}, nil
		}, iso.migrationOptions()...),
	)
}

// BlobTarget is the built-in large-state target: kind "blob", whose
// versions both carry a []byte of size bytes (filled before the first
// update), updated 1→2, 2→1, … under the given isolation. Its Verify checks
// that the bytes came through every migration intact.
func BlobTarget(size int, iso Isolation) (Target, error) {
	cat, err := blobCatalog(iso)
	if err != nil {
		return Target{}, err
	}
	return Target{
		Name:    fmt.Sprintf("%s/%s", FormatBytes(float64(size)), iso),
		Catalog: cat,
		Kind:    "blob",
		// Copying 64 MB takes a while, longer under the race detector.
		Deadline: time.Minute,
		Prepare: func(ctx context.Context, node *molt.Node, pid *actor.PID) error {
			filled := make(chan struct{}, 1)
			node.Root().Send(pid, &fill{size: size, done: filled})
			return wait(ctx, filled, fmt.Sprintf("the blob actor to fill its %d bytes", size))
		},
		Verify: func(ctx context.Context, node *molt.Node, pid *actor.PID) error {
			reply := make(chan []byte, 1)
			node.Root().Send(pid, &getBlob{reply: reply})
			var data []byte
			if err := receive(ctx, reply, &data, "the blob actor to answer getBlob"); err != nil {
				return err
			}
			if len(data) != size {
				return fmt.Errorf("the state carries %d bytes after the updates, want %d", len(data), size)
			}
			for _, i := range []int{0, size / 2, size - 1} {
				if i >= 0 && data[i] != byte(i) {
					return fmt.Errorf("byte %d of the state is %d after the updates, want %d", i, data[i], byte(i))
				}
			}
			return nil
		},
		Parameters: Params{"kind": "blob", "state_bytes": size, "isolation": string(iso)},
	}, nil
}

// --- "pinger": the ping-pong behaviour of the throughput scenario, run as a
// plain protoactor actor and as a molt kind. ---

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

// pinger sends every ping back to its peer until the ping has no deliveries
// left.
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

// --- "idle": the behaviour of the idle-memory scenario. ---

type idle struct{ N int }

func (i *idle) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *tick:
		i.N++
	case *touch:
		i.N++
		if m.left.Add(-1) == 0 {
			close(m.done)
		}
	}
}

// --- Waiting, bounded. ---

// wait blocks until ch delivers, ctx ends or waitFor passes, and says what
// did not happen.
func wait[T any](ctx context.Context, ch <-chan T, what string) error {
	var v T
	return receive(ctx, ch, &v, what)
}

// receive is wait that keeps the value received.
func receive[T any](ctx context.Context, ch <-chan T, into *T, what string) error {
	timer := time.NewTimer(waitFor)
	defer timer.Stop()
	select {
	case v := <-ch:
		*into = v
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
	case <-timer.C:
		return fmt.Errorf("waited %v for %s", waitFor, what)
	}
}

// count asks a counter, job or target actor for the ticks it has received.
func count(ctx context.Context, root *actor.RootContext, pid *actor.PID) (int64, error) {
	reply := make(chan int64, 1)
	root.Send(pid, &getCount{reply: reply})
	var n int64
	err := receive(ctx, reply, &n, fmt.Sprintf("actor %v to answer getCount", pid))
	return n, err
}

// stop stops the actors and waits until each has stopped.
func stop(root *actor.RootContext, pids ...*actor.PID) error {
	futures := make([]*actor.Future, len(pids))
	for i, pid := range pids {
		futures[i] = root.StopFuture(pid)
	}
	var errs []error
	for i, f := range futures {
		if err := f.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("actor %v did not stop: %w", pids[i], err))
		}
	}
	return errors.Join(errs...)
}
