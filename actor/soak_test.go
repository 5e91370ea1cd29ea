package actor_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"slices"
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

// The fault-injection soak: numbered senders keep several actors busy while
// updaters move each actor up and down between three versions, half of the
// updates given a fault, a tenth of them in each phase that can fail. Every
// abort is checked from inside the actor: the state it resumes with must be
// deep-equal to the state it had when it was notified. At the end every
// sender's messages must have arrived once each and in order, and the
// goroutines must be back to where they were.
//
// It runs for a second or two in CI; MOLT_SOAK=5m runs it for five minutes.
// (It took the place of an end-to-end test of one actor and 1,200 updates
// that asserted the same things with fewer faults and no state comparison.)

// soakFault is the fault an update is given. The updater writes it into the
// update id; the notified behaviour reads it from there and carries it in its
// state, so that the migration and the new version see it too.
type soakFault int

const (
	faultNone soakFault = iota
	faultNotifyPanic
	faultNeverStable
	faultInvariantBefore
	faultMigrationError
	faultMigrationPanic
	faultInvariantAfter
	faultVersionChangedPanic
	faultUnknownVersion
	numFaults
)

var faultNames = [numFaults]string{
	"none", "panic in UpdateComing", "never stable (deadline)", "old invariant broken",
	"migration error", "migration panic", "new invariant broken", "panic in VersionChanged", "unknown version",
}

// want is the outcome and the phase an update given f must end with.
func (f soakFault) want() (update.Outcome, update.Phase) {
	switch f {
	case faultNotifyPanic:
		return update.Outcome_OUTCOME_ABORTED, update.Phase_PHASE_NOTIFICATION
	case faultNeverStable:
		return update.Outcome_OUTCOME_ABORTED, update.Phase_PHASE_PREPARATION
	case faultInvariantBefore:
		return update.Outcome_OUTCOME_ABORTED, update.Phase_PHASE_STATE_CHECKING
	case faultMigrationError, faultMigrationPanic, faultInvariantAfter:
		return update.Outcome_OUTCOME_ABORTED, update.Phase_PHASE_STATE_TRANSFER
	case faultVersionChangedPanic:
		return update.Outcome_OUTCOME_ABORTED, update.Phase_PHASE_REPLACEMENT
	case faultUnknownVersion:
		return update.Outcome_OUTCOME_REJECTED, update.Phase_PHASE_INITIALIZATION
	}
	return update.Outcome_OUTCOME_COMMITTED, update.Phase_PHASE_REPLACEMENT
}

// drawFault gives each phase that can fail a tenth of the updates (the
// state transfer's tenth shared by its three faults), a few a version that
// does not exist, and the rest none.
func drawFault(rng *rand.Rand) soakFault {
	switch r := rng.IntN(100); {
	case r < 10:
		return faultNotifyPanic
	case r < 20:
		return faultNeverStable
	case r < 30:
		return faultInvariantBefore
	case r < 34:
		return faultMigrationError
	case r < 37:
		return faultMigrationPanic
	case r < 40:
		return faultInvariantAfter
	case r < 50:
		return faultVersionChangedPanic
	case r < 53:
		return faultUnknownVersion
	}
	return faultNone
}

// armedAfter is what a migration writes in the new state's Fault when the
// old one was given faultInvariantAfter: the new state's invariant check
// fails on it, the old state's does not.
const armedAfter = -1

const soakSenders = 4

type soakMsg struct {
	Sender int
	Seq    uint64
}

type soakPing struct{}

type soakSnapshot struct{}

// soakView is what every version reports of itself.
type soakView struct {
	Version               uint32
	Count, Last           [soakSenders]uint64
	Duplicated, Reordered uint64
}

// soakStats is what the behaviours report from inside.
type soakStats struct {
	aborts, corrupted atomic.Uint64
	firstCorruption   atomic.Pointer[string]
}

// soakProbe is shared by the three versions: the fault it was given, and
// the hooks. Fault is exported so that migrations carry it.
type soakProbe struct {
	Fault    int
	draining bool
	before   any // a deep copy of the state when it was notified
	stats    *soakStats
}

func (p *soakProbe) notified(ctx pa.Context, n *update.Notice, data any) {
	p.before = data
	f, _ := strconv.Atoi(n.UpdateID[strings.LastIndexByte(n.UpdateID, '/')+1:])
	p.Fault = f
	if soakFault(f) == faultNotifyPanic {
		panic("soak: armed to fail in notification")
	}
	// Drain through one message of its own, so that preparation admits a
	// message and asks Stable again.
	p.draining = true
	ctx.Send(ctx.Self(), &flush{})
}

func (p *soakProbe) Stable() bool {
	return !p.draining && soakFault(p.Fault) != faultNeverStable
}

func (p *soakProbe) Admit(m any) bool { _, ok := m.(*flush); return ok }

func (p *soakProbe) CheckInvariants() error {
	if soakFault(p.Fault) == faultInvariantBefore || p.Fault == armedAfter {
		return errArmed
	}
	return nil
}

// handle takes the messages every version treats alike; data is a deep
// copy of the state, taken only when needed.
func (p *soakProbe) handle(ctx pa.Context, data func() any) bool {
	switch ctx.Message().(type) {
	case *flush:
		p.draining = false
	case *update.Aborted:
		if p.before != nil {
			if now := data(); !reflect.DeepEqual(p.before, now) {
				p.stats.corrupted.Add(1)
				s := fmt.Sprintf("notified with %+v, resumed with %+v", p.before, now)
				p.stats.firstCorruption.CompareAndSwap(nil, &s)
			}
		}
		p.stats.aborts.Add(1)
		p.Fault, p.draining, p.before = 0, false, nil
	case *update.VersionChanged:
		if soakFault(p.Fault) == faultVersionChangedPanic {
			panic("soak: armed to fail in replacement")
		}
		p.Fault, p.before = 0, nil
	case *soakPing:
		ctx.Respond(true)
	default:
		return false
	}
	return true
}

// track counts one numbered message; it returns the new last number.
func track(v *soakView, last, count *uint64, seq uint64) {
	switch {
	case seq <= *last:
		v.Duplicated++
	case seq != *last+1:
		v.Reordered++
	}
	if seq > *last {
		*last = seq
	}
	*count++
}

// Version 1: two arrays.
type soakV1 struct {
	soakProbe
	Last, Count [soakSenders]uint64
	Dup, Reord  uint64
}

func (s *soakV1) data() any {
	return [4]any{s.Last, s.Count, s.Dup, s.Reord}
}

func (s *soakV1) UpdateComing(ctx pa.Context, n *update.Notice) { s.notified(ctx, n, s.data()) }

func (s *soakV1) Receive(ctx pa.Context) {
	if s.handle(ctx, s.data) {
		return
	}
	switch m := ctx.Message().(type) {
	case *soakMsg:
		var v soakView
		track(&v, &s.Last[m.Sender], &s.Count[m.Sender], m.Seq)
		s.Dup += v.Duplicated
		s.Reord += v.Reordered
	case *soakSnapshot:
		ctx.Respond(soakView{Version: 1, Last: s.Last, Count: s.Count, Duplicated: s.Dup, Reordered: s.Reord})
	}
}

// Version 2: a map by sender name.
type soakSenderV2 struct{ Last, Count uint64 }

type soakV2 struct {
	soakProbe
	Senders   map[string]soakSenderV2
	Anomalies struct{ Dup, Reord uint64 }
}

func (s *soakV2) data() any { return [2]any{maps.Clone(s.Senders), s.Anomalies} }

func (s *soakV2) UpdateComing(ctx pa.Context, n *update.Notice) { s.notified(ctx, n, s.data()) }

func (s *soakV2) Receive(ctx pa.Context) {
	if s.handle(ctx, s.data) {
		return
	}
	switch m := ctx.Message().(type) {
	case *soakMsg:
		k := "s" + strconv.Itoa(m.Sender)
		e := s.Senders[k]
		var v soakView
		track(&v, &e.Last, &e.Count, m.Seq)
		s.Senders[k] = e
		s.Anomalies.Dup += v.Duplicated
		s.Anomalies.Reord += v.Reordered
	case *soakSnapshot:
		v := soakView{Version: 2, Duplicated: s.Anomalies.Dup, Reordered: s.Anomalies.Reord}
		for k, e := range s.Senders {
			i, _ := strconv.Atoi(strings.TrimPrefix(k, "s"))
			v.Last[i], v.Count[i] = e.Last, e.Count
		}
		ctx.Respond(v)
	}
}

// Version 3: a list of entries in order of first message, and a total that
// the invariant ties to the counts.
type soakEntryV3 struct {
	ID          int
	Last, Count uint64
}

type soakV3 struct {
	soakProbe
	Entries           []soakEntryV3
	Total, Dup, Reord uint64
}

func (s *soakV3) data() any { return [4]any{slices.Clone(s.Entries), s.Total, s.Dup, s.Reord} }

func (s *soakV3) UpdateComing(ctx pa.Context, n *update.Notice) { s.notified(ctx, n, s.data()) }

func (s *soakV3) CheckInvariants() error {
	if err := s.soakProbe.CheckInvariants(); err != nil {
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

func (s *soakV3) Receive(ctx pa.Context) {
	if s.handle(ctx, s.data) {
		return
	}
	switch m := ctx.Message().(type) {
	case *soakMsg:
		i := slices.IndexFunc(s.Entries, func(e soakEntryV3) bool { return e.ID == m.Sender })
		if i < 0 {
			s.Entries = append(s.Entries, soakEntryV3{ID: m.Sender})
			i = len(s.Entries) - 1
		}
		var v soakView
		e := &s.Entries[i]
		track(&v, &e.Last, &e.Count, m.Seq)
		s.Total++
		s.Dup += v.Duplicated
		s.Reord += v.Reordered
	case *soakSnapshot:
		v := soakView{Version: 3, Duplicated: s.Dup, Reordered: s.Reord}
		for _, e := range s.Entries {
			v.Last[e.ID], v.Count[e.ID] = e.Last, e.Count
		}
		ctx.Respond(v)
	}
}

// migrated is what every migration does with the probe: it fails as armed
// (after scribbling on its input, which isolation must undo), and passes the
// fault on to the new version.
func migrated(old *soakProbe, scribble func()) (soakProbe, error) {
	switch soakFault(old.Fault) {
	case faultMigrationError:
		scribble()
		return soakProbe{}, errArmed
	case faultMigrationPanic:
		scribble()
		panic("soak: armed to panic in migration")
	case faultInvariantAfter:
		return soakProbe{Fault: armedAfter}, nil
	}
	return soakProbe{Fault: old.Fault}, nil
}

func soakCatalog(t testing.TB, stats *soakStats) *registry.Catalog {
	cat := registry.New()
	// The probe's own fields are the test's, not the actor's state.
	probe := registry.Transient("soakProbe.draining", "soakProbe.before", "soakProbe.stats")
	must(t, registry.Register(cat, "soak", 1, func() *soakV1 { return &soakV1{soakProbe: soakProbe{stats: stats}} }, probe))
	must(t, registry.Register(cat, "soak", 2, func() *soakV2 {
		return &soakV2{soakProbe: soakProbe{stats: stats}, Senders: map[string]soakSenderV2{}}
	}, probe))
	must(t, registry.Register(cat, "soak", 3, func() *soakV3 { return &soakV3{soakProbe: soakProbe{stats: stats}} }, probe))
	must(t, registry.Migrate(cat, "soak", 1, 2, func(o *soakV1) (*soakV2, error) {
		p, err := migrated(&o.soakProbe, func() { o.Count[0] += 1000 })
		if err != nil {
			return nil, err
		}
		n := &soakV2{soakProbe: p, Senders: map[string]soakSenderV2{}}
		n.stats = stats
		n.Anomalies.Dup, n.Anomalies.Reord = o.Dup, o.Reord
		for i := range o.Last {
			if o.Count[i] > 0 {
				n.Senders["s"+strconv.Itoa(i)] = soakSenderV2{Last: o.Last[i], Count: o.Count[i]}
			}
		}
		return n, nil
	}))
	must(t, registry.Migrate(cat, "soak", 2, 1, func(o *soakV2) (*soakV1, error) {
		p, err := migrated(&o.soakProbe, func() { o.Senders["s0"] = soakSenderV2{Count: 99} })
		if err != nil {
			return nil, err
		}
		n := &soakV1{soakProbe: p, Dup: o.Anomalies.Dup, Reord: o.Anomalies.Reord}
		n.stats = stats
		for k, e := range o.Senders {
			i, err := strconv.Atoi(strings.TrimPrefix(k, "s"))
			if err != nil || i < 0 || i >= soakSenders {
				return nil, fmt.Errorf("bad sender key %q", k)
			}
			n.Last[i], n.Count[i] = e.Last, e.Count
		}
		return n, nil
	}))
	must(t, registry.Migrate(cat, "soak", 2, 3, func(o *soakV2) (*soakV3, error) {
		p, err := migrated(&o.soakProbe, func() { o.Anomalies.Dup = 77 })
		if err != nil {
			return nil, err
		}
		n := &soakV3{soakProbe: p, Dup: o.Anomalies.Dup, Reord: o.Anomalies.Reord}
		n.stats = stats
		for i := range soakSenders {
			if e, ok := o.Senders["s"+strconv.Itoa(i)]; ok {
				n.Entries = append(n.Entries, soakEntryV3{ID: i, Last: e.Last, Count: e.Count})
				n.Total += e.Count
			}
		}
		return n, nil
	}))
	must(t, registry.Migrate(cat, "soak", 3, 2, func(o *soakV3) (*soakV2, error) {
		p, err := migrated(&o.soakProbe, func() { o.Entries = append(o.Entries, soakEntryV3{Count: 5}) })
		if err != nil {
			return nil, err
		}
		n := &soakV2{soakProbe: p, Senders: map[string]soakSenderV2{}}
		n.stats = stats
		n.Anomalies.Dup, n.Anomalies.Reord = o.Dup, o.Reord
		for _, e := range o.Entries {
			n.Senders["s"+strconv.Itoa(e.ID)] = soakSenderV2{Last: e.Last, Count: e.Count}
		}
		return n, nil
	}))
	return cat
}

// soakDuration is how long the soak runs: MOLT_SOAK if set, else a second
// (half in -short mode).
func soakDuration(t *testing.T) time.Duration {
	if s := os.Getenv("MOLT_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			t.Fatalf("MOLT_SOAK=%q: want a positive duration such as 30s or 5m", s)
		}
		return d
	}
	if testing.Short() {
		return 500 * time.Millisecond
	}
	return time.Second
}

// TestSoakFaultsLoseNothing is the fault-injection soak described above.
func TestSoakFaultsLoseNothing(t *testing.T) {
	const actors = 4
	duration := soakDuration(t)
	baseline := runtime.NumGoroutine()

	stats := &soakStats{}
	node := molt.NewNode(soakCatalog(t, stats))
	shut := sync.OnceFunc(node.Shutdown)
	defer shut()

	pids := make([]*pa.PID, actors)
	for a := range pids {
		var err error
		pids[a], err = node.Spawn("soak", 1, molt.WithName("soak-"+strconv.Itoa(a)))
		must(t, err)
	}

	var stop atomic.Bool
	var wg sync.WaitGroup
	sent := make([][soakSenders]uint64, actors)
	for a := range actors {
		for s := range soakSenders {
			wg.Go(func() {
				for seq := uint64(1); ; seq++ {
					node.Root().Send(pids[a], &soakMsg{Sender: s, Seq: seq})
					sent[a][s] = seq
					if seq%128 != 0 {
						continue
					}
					// Paced by the actor, so that its queue stays short
					// and updates find messages to hold.
					if _, err := node.Root().RequestFuture(pids[a], &soakPing{}, 30*time.Second).Result(); err != nil {
						t.Errorf("actor %d, sender %d: no answer to a ping within 30s: %v", a, s, err)
						return
					}
					if stop.Load() {
						return
					}
				}
			})
		}
	}

	var (
		mu       sync.Mutex
		byFault  [numFaults]uint64
		versions = make([]uint32, actors)
	)
	end := time.Now().Add(duration)
	for a := range actors {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(a), 7))
			version := uint32(1)
			for i := 0; time.Now().Before(end) && !t.Failed(); i++ {
				f := drawFault(rng)
				to := version%3 + 1 + uint32(rng.IntN(2))
				if to > 3 {
					to = 1
				}
				if f == faultUnknownVersion {
					to = 9
				}
				req := &update.UpdateActor{ToVersion: to, UpdateId: fmt.Sprintf("a%d-u%d/%d", a, i, f)}
				if f == faultNeverStable {
					req.Deadline = durationpb.New(2 * time.Millisecond)
				}
				res, err := node.Update(context.Background(), pids[a], req)
				if err != nil {
					t.Errorf("actor %d, update %d to version %d (%s): %v", a, i, to, faultNames[f], err)
					return
				}
				outcome, phase := f.want()
				if res.GetUpdateId() != req.UpdateId {
					t.Errorf("actor %d, update %d: the result names update %q, want %q", a, i, res.GetUpdateId(), req.UpdateId)
					return
				}
				if res.GetOutcome() != outcome || res.GetPhase() != phase || res.GetFromVersion() != version {
					t.Errorf("actor %d, update %d from %d to %d given %q: got %v in %v from %d (%s), want %v in %v from %d",
						a, i, version, to, faultNames[f], res.GetOutcome(), res.GetPhase(), res.GetFromVersion(), res.GetReason(), outcome, phase, version)
					return
				}
				if outcome == update.Outcome_OUTCOME_COMMITTED {
					version = to
				}
				if e, _ := node.Directory().Lookup(pids[a]); e.Version != version {
					t.Errorf("actor %d, update %d: the directory says version %d, want %d", a, i, e.Version, version)
					return
				}
				mu.Lock()
				byFault[f]++
				mu.Unlock()
			}
			mu.Lock()
			versions[a] = version
			mu.Unlock()
			stop.Store(true)
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	var messages, lost, duplicated, reordered uint64
	for a := range actors {
		v := request(t, node, pids[a], &soakSnapshot{}).(soakView)
		if v.Version != versions[a] {
			t.Errorf("actor %d runs version %d, its updater expected %d", a, v.Version, versions[a])
		}
		duplicated += v.Duplicated
		reordered += v.Reordered
		for s := range soakSenders {
			messages += sent[a][s]
			if v.Count[s] < sent[a][s] {
				lost += sent[a][s] - v.Count[s]
			}
			if v.Last[s] != sent[a][s] {
				t.Errorf("actor %d, sender %d: sent %d messages, the last one processed is number %d", a, s, sent[a][s], v.Last[s])
			}
		}
	}
	var updates, faulted uint64
	var kinds []string
	for f, n := range byFault {
		updates += n
		if soakFault(f) != faultNone {
			faulted += n
			kinds = append(kinds, fmt.Sprintf("%s %d", faultNames[f], n))
		}
	}
	t.Logf("soak %v, %d actors × %d senders: %d updates (%d faulted: %s), %d messages; lost %d, duplicated %d, reordered %d; aborts seen by the actors %d, resumed with a changed state %d",
		duration, actors, soakSenders, updates, faulted, strings.Join(kinds, ", "), messages, lost, duplicated, reordered, stats.aborts.Load(), stats.corrupted.Load())

	if lost+duplicated+reordered != 0 {
		t.Errorf("messages lost %d, duplicated %d, reordered %d; want none", lost, duplicated, reordered)
	}
	if n := stats.corrupted.Load(); n != 0 {
		t.Errorf("%d aborts resumed the old version with a state that differs from the one it was notified with; the first: %s", n, *stats.firstCorruption.Load())
	}
	// Every abort after notification reaches the behaviour as Aborted.
	var notifiedAborts uint64
	for f, n := range byFault {
		if o, _ := soakFault(f).want(); o == update.Outcome_OUTCOME_ABORTED {
			notifiedAborts += n
		}
	}
	if a := stats.aborts.Load(); a != notifiedAborts {
		t.Errorf("the actors heard Aborted %d times; %d updates aborted after notification", a, notifiedAborts)
	}
	for f := soakFault(1); f < numFaults; f++ {
		if byFault[f] == 0 {
			t.Errorf("no update was given the fault %q: the soak was too short to cover every phase", faultNames[f])
		}
	}

	shut()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseline && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseline {
		t.Errorf("%d goroutines 10s after the node shut down, %d before it started", n, baseline)
	}
}
