package actor_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The "seq" kind counts numbered messages per sender in three versions whose
// states have different shapes, and checks on every message that each
// sender's numbers arrive in order. Every version can be armed to fail its
// next update in a chosen phase.

const senders = 8

type numbered struct {
	Sender int
	Seq    uint64
}

// arm makes the next update fail in Phase (0 disarms).
type arm struct{ Phase update.Phase }

// flush is what a draining version sends itself; it is admitted while held.
type flush struct{}

type snapshot struct{}

type ping struct{}

// view is the state as every version reports it.
type view struct {
	Version    uint32
	Count      [senders]uint64
	Last       [senders]uint64
	Violations uint64
}

var errArmed = errors.New("armed to fail")

// faults is shared by the three versions: the armed phase, its hooks.
type faults struct {
	Fail     int32
	draining bool
}

func (f *faults) failIn(p update.Phase) bool { return f.Fail == int32(p) }

func (f *faults) UpdateComing(ctx pa.Context, _ *update.Notice) {
	if f.failIn(update.Phase_PHASE_NOTIFICATION) {
		panic("armed to fail in notification")
	}
	f.draining = true
	ctx.Send(ctx.Self(), &flush{})
}

func (f *faults) Stable() bool {
	if f.failIn(update.Phase_PHASE_PREPARATION) {
		return false
	}
	return !f.draining
}

func (f *faults) Admit(m any) bool {
	_, ok := m.(*flush)
	return ok
}

func (f *faults) CheckInvariants() error {
	if f.failIn(update.Phase_PHASE_STATE_CHECKING) {
		return errArmed
	}
	return nil
}

// common handles the messages every version treats alike; it reports
// whether it did.
func (f *faults) common(ctx pa.Context) bool {
	switch m := ctx.Message().(type) {
	case *arm:
		f.Fail = int32(m.Phase)
		ctx.Respond(true)
	case *flush:
		f.draining = false
	case *update.Aborted:
		f.Fail, f.draining = 0, false
	case *update.VersionChanged:
		if f.failIn(update.Phase_PHASE_REPLACEMENT) {
			panic("armed to fail in replacement")
		}
	case *ping:
		ctx.Respond(true)
	default:
		return false
	}
	return true
}

// Version 1: two slices.
type seqV1 struct {
	faults
	Last, Count []uint64
	Violations  uint64
}

func newSeqV1() *seqV1 {
	return &seqV1{Last: make([]uint64, senders), Count: make([]uint64, senders)}
}

func (s *seqV1) Receive(ctx pa.Context) {
	if s.common(ctx) {
		return
	}
	switch m := ctx.Message().(type) {
	case *numbered:
		if m.Seq != s.Last[m.Sender]+1 {
			s.Violations++
		}
		s.Last[m.Sender] = m.Seq
		s.Count[m.Sender]++
	case *snapshot:
		v := view{Version: 1, Violations: s.Violations}
		copy(v.Last[:], s.Last)
		copy(v.Count[:], s.Count)
		ctx.Respond(v)
	}
}

// Version 2: a map by sender name.
type senderV2 struct{ Last, Count uint64 }

type seqV2 struct {
	faults
	Senders map[string]*senderV2
	Bad     int64
}

func newSeqV2() *seqV2 { return &seqV2{Senders: map[string]*senderV2{}} }

func (s *seqV2) Receive(ctx pa.Context) {
	if s.common(ctx) {
		return
	}
	switch m := ctx.Message().(type) {
	case *numbered:
		k := "s" + strconv.Itoa(m.Sender)
		e := s.Senders[k]
		if e == nil {
			e = &senderV2{}
			s.Senders[k] = e
		}
		if m.Seq != e.Last+1 {
			s.Bad++
		}
		e.Last = m.Seq
		e.Count++
	case *snapshot:
		v := view{Version: 2, Violations: uint64(s.Bad)}
		for k, e := range s.Senders {
			i, _ := strconv.Atoi(strings.TrimPrefix(k, "s"))
			v.Last[i], v.Count[i] = e.Last, e.Count
		}
		ctx.Respond(v)
	}
}

// Version 3: a list of entries, plus a running total.
type entryV3 struct {
	ID          int
	Last, Count uint64
}

type seqV3 struct {
	faults
	Entries    []entryV3
	Total      uint64
	Violations uint64
}

func newSeqV3() *seqV3 { return &seqV3{} }

func (s *seqV3) CheckInvariants() error {
	if err := s.faults.CheckInvariants(); err != nil {
		return err
	}
	var sum uint64
	for _, e := range s.Entries {
		sum += e.Count
	}
	if sum != s.Total {
		return fmt.Errorf("total %d is not the sum of the counts %d", s.Total, sum)
	}
	return nil
}

func (s *seqV3) Receive(ctx pa.Context) {
	if s.common(ctx) {
		return
	}
	switch m := ctx.Message().(type) {
	case *numbered:
		i := 0
		for i < len(s.Entries) && s.Entries[i].ID != m.Sender {
			i++
		}
		if i == len(s.Entries) {
			s.Entries = append(s.Entries, entryV3{ID: m.Sender})
		}
		e := &s.Entries[i]
		if m.Seq != e.Last+1 {
			s.Violations++
		}
		e.Last = m.Seq
		e.Count++
		s.Total++
	case *snapshot:
		v := view{Version: 3, Violations: s.Violations}
		for _, e := range s.Entries {
			v.Last[e.ID], v.Count[e.ID] = e.Last, e.Count
		}
		ctx.Respond(v)
	}
}

// failTransfer is the migrations' fault: it also mutates its input, which
// isolation must undo.
func failTransfer(f *faults, scribble func()) error {
	if f.failIn(update.Phase_PHASE_STATE_TRANSFER) {
		scribble()
		return errArmed
	}
	return nil
}

func seqCatalog(t testing.TB) *registry.Catalog {
	cat := registry.New()
	must(t, registry.Register(cat, "seq", 1, newSeqV1))
	must(t, registry.Register(cat, "seq", 2, newSeqV2))
	must(t, registry.Register(cat, "seq", 3, newSeqV3))
	must(t, registry.Migrate(cat, "seq", 1, 2, func(o *seqV1) (*seqV2, error) {
		if err := failTransfer(&o.faults, func() { o.Count[0] += 1000 }); err != nil {
			return nil, err
		}
		n := newSeqV2()
		n.faults = o.faults
		n.Bad = int64(o.Violations)
		for i := range o.Last {
			if o.Count[i] > 0 {
				n.Senders["s"+strconv.Itoa(i)] = &senderV2{Last: o.Last[i], Count: o.Count[i]}
			}
		}
		return n, nil
	}))
	must(t, registry.Migrate(cat, "seq", 2, 1, func(o *seqV2) (*seqV1, error) {
		if err := failTransfer(&o.faults, func() { o.Senders["s0"] = &senderV2{Count: 99} }); err != nil {
			return nil, err
		}
		n := newSeqV1()
		n.faults = o.faults
		n.Violations = uint64(o.Bad)
		for k, e := range o.Senders {
			i, err := strconv.Atoi(strings.TrimPrefix(k, "s"))
			if err != nil || i < 0 || i >= senders {
				return nil, fmt.Errorf("bad sender key %q", k)
			}
			n.Last[i], n.Count[i] = e.Last, e.Count
		}
		return n, nil
	}))
	must(t, registry.Migrate(cat, "seq", 2, 3, func(o *seqV2) (*seqV3, error) {
		if err := failTransfer(&o.faults, func() { o.Bad = -1 }); err != nil {
			return nil, err
		}
		n := newSeqV3()
		n.faults = o.faults
		n.Violations = uint64(o.Bad)
		for i := 0; i < senders; i++ {
			if e := o.Senders["s"+strconv.Itoa(i)]; e != nil {
				n.Entries = append(n.Entries, entryV3{ID: i, Last: e.Last, Count: e.Count})
				n.Total += e.Count
			}
		}
		return n, nil
	}))
	must(t, registry.Migrate(cat, "seq", 3, 2, func(o *seqV3) (*seqV2, error) {
		if err := failTransfer(&o.faults, func() { o.Entries = append(o.Entries, entryV3{ID: 0, Count: 5}) }); err != nil {
			return nil, err
		}
		n := newSeqV2()
		n.faults = o.faults
		n.Bad = int64(o.Violations)
		for _, e := range o.Entries {
			n.Senders["s"+strconv.Itoa(e.ID)] = &senderV2{Last: e.Last, Count: e.Count}
		}
		return n, nil
	}))
	return cat
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func request(t testing.TB, node *molt.Node, pid *pa.PID, msg any) any {
	t.Helper()
	v, err := node.Root().RequestFuture(pid, msg, 10*time.Second).Result()
	if err != nil {
		t.Fatalf("no answer from %v to %T within 10s: %v", pid, msg, err)
	}
	return v
}

// TestUpdatesUnderLoadLoseNothing is the end-to-end guarantee: 8 senders
// number their messages while the actor is updated more than 1000 times up
// and down between three versions, some updates made to fail in each phase
// that can fail. Every message is processed exactly once, each sender's order
// holds, the state is what the messages imply, and each update ends as its
// fault says it must.
func TestUpdatesUnderLoadLoseNothing(t *testing.T) {
	updates := 1200
	if testing.Short() {
		updates = 200
	}
	node := molt.NewNode(seqCatalog(t))
	defer node.Shutdown()
	pid, err := node.Spawn("seq", 1)
	must(t, err)

	var stop atomic.Bool
	sent := make([]uint64, senders)
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := uint64(1); ; seq++ {
				node.Root().Send(pid, &numbered{Sender: s, Seq: seq})
				sent[s] = seq
				if seq%256 == 0 {
					// Pace the senders by the actor, so the queue stays short.
					if _, err := node.Root().RequestFuture(pid, &ping{}, 10*time.Second).Result(); err != nil {
						t.Errorf("sender %d: no answer to ping: %v", s, err)
						return
					}
					if stop.Load() {
						return
					}
				}
			}
		}()
	}

	rng := rand.New(rand.NewPCG(1, 2))
	faultPhases := []update.Phase{
		update.Phase_PHASE_NOTIFICATION, update.Phase_PHASE_PREPARATION, update.Phase_PHASE_STATE_CHECKING,
		update.Phase_PHASE_STATE_TRANSFER, update.Phase_PHASE_REPLACEMENT,
	}
	version := uint32(1)
	outcomes := map[string]int{}
	for i := 0; i < updates; i++ {
		to := uint32(rng.IntN(3)) + 1
		for to == version {
			to = uint32(rng.IntN(3)) + 1
		}
		req := &update.UpdateActor{ToVersion: to, UpdateId: strconv.Itoa(i)}
		wantPhase := update.Phase_PHASE_REPLACEMENT
		wantOutcome := update.Outcome_OUTCOME_COMMITTED
		switch r := rng.IntN(20); {
		case r < len(faultPhases):
			wantPhase, wantOutcome = faultPhases[r], update.Outcome_OUTCOME_ABORTED
			request(t, node, pid, &arm{Phase: wantPhase})
			if wantPhase == update.Phase_PHASE_PREPARATION {
				req.Deadline = durationpb.New(2 * time.Millisecond)
			}
		case r == len(faultPhases):
			req.ToVersion = 9
			wantPhase, wantOutcome = update.Phase_PHASE_INITIALIZATION, update.Outcome_OUTCOME_REJECTED
		}
		res, err := node.Update(context.Background(), pid, req)
		if err != nil {
			t.Fatalf("update %d to version %d: %v", i, req.ToVersion, err)
		}
		if res.GetOutcome() != wantOutcome || res.GetPhase() != wantPhase {
			t.Fatalf("update %d from %d to %d: got %v in %v (%s), want %v in %v",
				i, version, req.ToVersion, res.GetOutcome(), res.GetPhase(), res.GetReason(), wantOutcome, wantPhase)
		}
		if res.GetUpdateId() != req.UpdateId || res.GetFromVersion() != version {
			t.Fatalf("update %d: result names update %q from version %d, want %q from %d", i, res.GetUpdateId(), res.GetFromVersion(), req.UpdateId, version)
		}
		if wantOutcome == update.Outcome_OUTCOME_COMMITTED {
			version = to
		}
		if e, _ := node.Directory().Lookup(pid); e.Version != version {
			t.Fatalf("update %d: directory says version %d, want %d", i, e.Version, version)
		}
		outcomes[res.GetOutcome().String()+" in "+res.GetPhase().String()]++
	}
	stop.Store(true)
	wg.Wait()
	if t.Failed() {
		return
	}

	v := request(t, node, pid, &snapshot{}).(view)
	if v.Version != version {
		t.Errorf("the actor runs version %d, want %d", v.Version, version)
	}
	if v.Violations != 0 {
		t.Errorf("%d messages arrived out of their sender's order", v.Violations)
	}
	for s := 0; s < senders; s++ {
		if v.Count[s] != sent[s] || v.Last[s] != sent[s] {
			t.Errorf("sender %d sent %d messages; the actor processed %d, the last numbered %d", s, sent[s], v.Count[s], v.Last[s])
		}
	}
	t.Logf("outcomes: %v; messages per sender: %v", outcomes, sent)
}
