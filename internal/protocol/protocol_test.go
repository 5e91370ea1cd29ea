package protocol_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/internal/protocol"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// The protocol runs here without an actor system: a fake host records what
// the protocol asks of it, so each phase can be driven and failed on its own.

type fakeHost struct {
	kind      string
	version   uint32
	behavior  pa.Actor
	holding   bool
	held      int
	log       []string
	delivered []any
}

func (h *fakeHost) Kind() string       { return h.kind }
func (h *fakeHost) Version() uint32    { return h.version }
func (h *fakeHost) Behavior() pa.Actor { return h.behavior }
func (h *fakeHost) Hold(admit bool) {
	h.holding = true
	h.log = append(h.log, fmt.Sprintf("hold admit=%v", admit))
}
func (h *fakeHost) Release()  { h.holding = false; h.log = append(h.log, "release") }
func (h *fakeHost) Held() int { return h.held }
func (h *fakeHost) Deliver(_ pa.Context, b pa.Actor, m any) {
	h.delivered = append(h.delivered, m)
	b.Receive(&fakeContext{message: m})
}
func (h *fakeHost) Validate(req *update.UpdateActor) error { return req.Validate() }

func (h *fakeHost) Move(_ pa.Context, to *pa.PID) {
	h.log = append(h.log, "move to "+to.GetId())
}
func (h *fakeHost) Install(v uint32, b pa.Actor, _ *registry.Adapters) {
	h.version, h.behavior = v, b
	h.log = append(h.log, fmt.Sprintf("install %d", v))
}

// fakeContext is the little of actor.Context the protocol and the test
// behaviours use.
type fakeContext struct {
	pa.Context
	message any
}

func (c *fakeContext) Self() *pa.PID   { return pa.NewPID("test", "a") }
func (c *fakeContext) Message() any    { return c.message }
func (c *fakeContext) Sender() *pa.PID { return nil }

// box is a behaviour whose every hook can be made to fail; Items is its
// state. Its two versions share the type so that one fault table serves both.
type box struct {
	Items    []int
	Failing  string // the hook that fails: "notify", "stable", "never-stable", "old-invariant", "new-invariant", "changed"
	Stable_  bool
	Notified bool
	Aborted  *update.Aborted
	notice   *update.Notice
}

type boxV2 struct{ box }

func (b *box) UpdateComing(_ pa.Context, n *update.Notice) {
	b.Notified = true
	b.notice = n
	if b.Failing == "notify" {
		panic("notify fails")
	}
}

func (b *box) Stable() bool {
	switch b.Failing {
	case "stable":
		panic("stable fails")
	case "never-stable":
		return false
	}
	return b.Stable_
}

func (b *box) CheckInvariants() error {
	if b.Failing == "old-invariant" {
		return errors.New("old invariant broken")
	}
	return nil
}

func (b *boxV2) CheckInvariants() error {
	if b.Failing == "new-invariant" {
		return errors.New("new invariant broken")
	}
	return nil
}

func (b *box) Receive(ctx pa.Context) {
	if a, ok := ctx.Message().(*update.Aborted); ok {
		b.Aborted = a
	}
}

func (b *boxV2) Receive(ctx pa.Context) {
	if _, ok := ctx.Message().(*update.VersionChanged); ok && b.Failing == "changed" {
		panic("VersionChanged fails")
	}
}

func boxCatalog(t *testing.T) *registry.Catalog {
	t.Helper()
	cat := registry.New()
	for _, err := range []error{
		registry.Register(cat, "box", 1, func() *box { return &box{} }),
		registry.Register(cat, "box", 2, func() *boxV2 { return &boxV2{} }),
		registry.Migrate(cat, "box", 1, 2, func(o *box) (*boxV2, error) {
			n := &boxV2{box: *o}
			n.Items = append([]int(nil), o.Items...)
			o.Items = append(o.Items[:0], -1) // scribble on the input: isolation must undo it
			switch o.Failing {
			case "migrate":
				return nil, errors.New("migration fails")
			case "migrate-panic":
				panic("migration panics")
			}
			return n, nil
		}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return cat
}

// TestPhases drives one update per case and checks where it stops, what it
// reports, and that an abort leaves the old behaviour with its old state.
func TestPhases(t *testing.T) {
	cases := []struct {
		failing   string
		deadline  time.Duration
		outcome   update.Outcome
		phase     update.Phase
		reason    string
		installed uint32
	}{
		{"", 0, update.Outcome_OUTCOME_COMMITTED, update.Phase_PHASE_REPLACEMENT, "", 2},
		{"notify", 0, update.Outcome_OUTCOME_ABORTED, update.Phase_PHASE_NOTIFICATION, "UpdateComing panicked: notify fails", 1},
		{"stable", 0, update.Outcome_OUTCOME_ABORTED, update.Phase_PHASE_PREPARATION, "Stable panicked: stable fails", 1},
		{"old-invariant", 0, update.Outcome_OUTCOME_ABORTED, update.Phase_PHASE_STATE_CHECKING, "the old state breaks its invariants: old invariant broken", 1},
		{"migrate", 0, update.Outcome_OUTCOME_ABORTED, update.Phase_PHASE_STATE_TRANSFER, "box 1→2: migration fails", 1},
		{"migrate-panic", 0, update.Outcome_OUTCOME_ABORTED, update.Phase_PHASE_STATE_TRANSFER, "box 1→2 panicked: migration panics", 1},
		{"new-invariant", 0, update.Outcome_OUTCOME_ABORTED, update.Phase_PHASE_STATE_TRANSFER, "the migrated state breaks its invariants: new invariant broken", 1},
		{"changed", 0, update.Outcome_OUTCOME_ABORTED, update.Phase_PHASE_REPLACEMENT, "receiving VersionChanged panicked: VersionChanged fails", 1},
	}
	for _, c := range cases {
		name := c.failing
		if name == "" {
			name = "commit"
		}
		t.Run(name, func(t *testing.T) {
			old := &box{Items: []int{1, 2, 3}, Failing: c.failing, Stable_: true}
			want := *old
			want.Items = []int{1, 2, 3}
			want.Notified = true
			h := &fakeHost{kind: "box", version: 1, behavior: old, held: 4}
			u := protocol.Start(&fakeContext{}, boxCatalog(t), h, &update.UpdateActor{ToVersion: 2, UpdateId: "u1"})
			if !u.Done() {
				t.Fatal("an update of a stable actor did not finish within Start")
			}
			res := u.Result()
			if res.GetOutcome() != c.outcome || res.GetPhase() != c.phase {
				t.Fatalf("got %v in %v (%s), want %v in %v", res.GetOutcome(), res.GetPhase(), res.GetReason(), c.outcome, c.phase)
			}
			if !strings.Contains(res.GetReason(), c.reason) {
				t.Errorf("reason %q does not say %q", res.GetReason(), c.reason)
			}
			if h.version != c.installed {
				t.Errorf("the host runs version %d, want %d", h.version, c.installed)
			}
			if h.holding {
				t.Error("the host still holds its messages")
			}
			if res.GetHeldMessages() != 4 || res.GetUpdateId() != "u1" || res.GetKind() != "box" || res.GetActor() != "a" {
				t.Errorf("result fields: %v", res)
			}
			if res.GetTotalNs() <= 0 {
				t.Errorf("total time %d", res.GetTotalNs())
			}
			if c.outcome == update.Outcome_OUTCOME_COMMITTED {
				if h.delivered[0].(*update.VersionChanged).From != 1 {
					t.Errorf("the new version got %v first, want VersionChanged from 1", h.delivered)
				}
				if got := h.behavior.(*boxV2).Items; !reflect.DeepEqual(got, []int{1, 2, 3}) {
					t.Errorf("migrated state %v, want [1 2 3]", got)
				}
				return
			}
			if h.behavior != old {
				t.Fatal("after the abort the host does not run the old behaviour value")
			}
			want.Aborted, want.notice = old.Aborted, old.notice
			if !reflect.DeepEqual(*old, want) {
				t.Errorf("the old state changed:\n got  %+v\n want %+v", *old, want)
			}
			if old.Aborted == nil || old.Aborted.Phase != c.phase || old.Aborted.UpdateID != "u1" {
				t.Errorf("the old version was told %+v, want Aborted in %v", old.Aborted, c.phase)
			}
		})
	}
}

// TestPreparationWaitsForStable: an actor that is not stable is held; the
// update goes on when Continue finds it stable, and each phase's time is
// reported.
func TestPreparationWaitsForStable(t *testing.T) {
	old := &box{Items: []int{7}}
	h := &fakeHost{kind: "box", version: 1, behavior: old}
	ctx := &fakeContext{}
	u := protocol.Start(ctx, boxCatalog(t), h, &update.UpdateActor{ToVersion: 2})
	if u.Done() || !h.holding {
		t.Fatalf("an unstable actor: done=%v holding=%v, want held and waiting", u.Done(), h.holding)
	}
	u.Continue(ctx)
	if u.Done() {
		t.Fatal("the update went on while the actor is not stable")
	}
	old.Stable_ = true
	u.Continue(ctx)
	if !u.Done() || u.Result().GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("after the actor became stable: done=%v %v", u.Done(), u.Result())
	}
	r := u.Result()
	phases := []int64{r.InitializationNs, r.NotificationNs, r.PreparationNs, r.StateCheckingNs, r.StateTransferNs, r.ReplacementNs}
	var sum int64
	for i, ns := range phases {
		if ns <= 0 {
			t.Errorf("phase %v took %d ns", update.Phase(i+1), ns)
		}
		sum += ns
	}
	if sum != r.TotalNs {
		t.Errorf("the phases add up to %d ns, the total says %d", sum, r.TotalNs)
	}
	if got := strings.Join(h.log, ", "); got != "hold admit=true, install 2, release" {
		t.Errorf("host calls: %s", got)
	}
}

// TestExpireAbortsInPreparation: the deadline aborts an update that has not
// reached its stable state, and nothing after that changes it.
func TestExpireAbortsInPreparation(t *testing.T) {
	old := &box{Failing: "never-stable"}
	h := &fakeHost{kind: "box", version: 1, behavior: old}
	ctx := &fakeContext{}
	u := protocol.Start(ctx, boxCatalog(t), h, &update.UpdateActor{ToVersion: 2, Deadline: durationpb.New(time.Millisecond)})
	if d := time.Until(u.Deadline()); d > time.Millisecond {
		t.Errorf("deadline is %v away, want at most 1ms", d)
	}
	u.Expire(ctx)
	res := u.Result()
	if res.GetOutcome() != update.Outcome_OUTCOME_ABORTED || res.GetPhase() != update.Phase_PHASE_PREPARATION || !strings.Contains(res.GetReason(), "deadline of 1ms") {
		t.Fatalf("got %v in %v: %s", res.GetOutcome(), res.GetPhase(), res.GetReason())
	}
	old.Failing = ""
	old.Stable_ = true
	u.Continue(ctx)
	u.Expire(ctx)
	u.Abort(ctx, errors.New("late"))
	if res.GetOutcome() != update.Outcome_OUTCOME_ABORTED || h.version != 1 || strings.Contains(res.GetReason(), "late") {
		t.Fatalf("a finished update changed: %v, version %d", res, h.version)
	}
}

// TestRejectionTouchesNothing: a request refused in initialization neither
// notifies nor holds.
func TestRejectionTouchesNothing(t *testing.T) {
	for _, req := range []*update.UpdateActor{
		{ToVersion: 3},
		{},
		{ToVersion: 2, Deadline: durationpb.New(-time.Second)},
		{ToVersion: 2, Deadline: &durationpb.Duration{Seconds: 1, Nanos: -1}},
		{ToVersion: 2, FromVersion: 2},
	} {
		old := &box{Stable_: true}
		h := &fakeHost{kind: "box", version: 1, behavior: old}
		u := protocol.Start(&fakeContext{}, boxCatalog(t), h, req)
		res := u.Result()
		if res.GetOutcome() != update.Outcome_OUTCOME_REJECTED || res.GetPhase() != update.Phase_PHASE_INITIALIZATION || res.GetReason() == "" {
			t.Errorf("%v: got %v in %v (%q), want rejected in initialization with a reason", req, res.GetOutcome(), res.GetPhase(), res.GetReason())
		}
		if old.Notified || len(h.log) != 0 {
			t.Errorf("%v: a rejected update touched the actor: notified=%v host calls=%v", req, old.Notified, h.log)
		}
	}
}

// TestStagedUpdateWaitsForDecision: a staged update stops after state
// transfer, holding everything, and goes on only on Commit; Abort or the
// deadline leave the old version.
func TestStagedUpdateWaitsForDecision(t *testing.T) {
	for _, decision := range []string{"commit", "abort", "expire"} {
		t.Run(decision, func(t *testing.T) {
			old := &box{Items: []int{1}, Stable_: true}
			h := &fakeHost{kind: "box", version: 1, behavior: old}
			ctx := &fakeContext{}
			u := protocol.Start(ctx, boxCatalog(t), h, &update.UpdateActor{ToVersion: 2, UpdateId: "g1", Stage: true, Group: []string{"a", "b"}})
			if u.Done() || !u.Staged() || u.Result().GetOutcome() != update.Outcome_OUTCOME_STAGED {
				t.Fatalf("after Start: done=%v staged=%v %v (%s), want staged", u.Done(), u.Staged(), u.Result().GetOutcome(), u.Result().GetReason())
			}
			if n := old.notice; n == nil || !n.Staged || !slices.Equal(n.Group, []string{"a", "b"}) || n.UpdateID != "g1" {
				t.Fatalf("the notice %+v does not say staged, in group [a b]", n)
			}
			if got := strings.Join(h.log, ", "); got != "hold admit=true, hold admit=false" || h.version != 1 {
				t.Fatalf("staged: host calls %q, version %d; want held with nothing admitted, still version 1", got, h.version)
			}
			u.Continue(ctx)
			if !u.Staged() {
				t.Fatal("Continue moved a staged update on without a decision")
			}
			switch decision {
			case "commit":
				if !u.Commit(ctx) {
					t.Fatal("Commit refused a staged update")
				}
			case "abort":
				u.Abort(ctx, errors.New("the group failed"))
			case "expire":
				// Before twice its deadline a staged update keeps waiting
				// for its decision (the actor tests see it expire).
				u.Expire(ctx)
				if !u.Staged() {
					t.Fatal("Expire aborted a staged update before twice its deadline")
				}
				u.Abort(ctx, errors.New("expired"))
			}
			res := u.Result()
			if !u.Done() || h.holding {
				t.Fatalf("after %s: done=%v holding=%v", decision, u.Done(), h.holding)
			}
			if decision == "commit" {
				if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED || h.version != 2 || res.GetDecisionNs() <= 0 {
					t.Fatalf("commit: %v version %d decision %dns", res.GetOutcome(), h.version, res.GetDecisionNs())
				}
				return
			}
			if res.GetOutcome() != update.Outcome_OUTCOME_ABORTED || h.version != 1 || h.behavior != old || !reflect.DeepEqual(old.Items, []int{1}) {
				t.Fatalf("%s: %v (%s), version %d, state %v; want aborted on the old version and state", decision, res.GetOutcome(), res.GetReason(), h.version, old.Items)
			}
			if u.Commit(ctx) {
				t.Error("Commit accepted an update that is over")
			}
		})
	}
}

// TestStagedAndProbationRequestsAreChecked: what a staged update or a
// probation needs is checked in initialization.
func TestStagedAndProbationRequestsAreChecked(t *testing.T) {
	cases := []struct {
		req    *update.UpdateActor
		reason string
	}{
		{&update.UpdateActor{ToVersion: 2, Stage: true}, "needs an update_id"},
		{&update.UpdateActor{ToVersion: 2, Probation: &update.Probation{}}, "probation has no window"},
		{&update.UpdateActor{ToVersion: 2, Probation: &update.Probation{Duration: durationpb.New(-time.Second)}}, "out of range"},
		{&update.UpdateActor{ToVersion: 2, Probation: &update.Probation{Messages: 5}}, "probation needs a way back from version 2 to 1"},
	}
	for _, c := range cases {
		h := &fakeHost{kind: "box", version: 1, behavior: &box{Stable_: true}}
		res := protocol.Start(&fakeContext{}, boxCatalog(t), h, c.req).Result()
		if res.GetOutcome() != update.Outcome_OUTCOME_REJECTED || !strings.Contains(res.GetReason(), c.reason) {
			t.Errorf("%v: %v %q, want rejected saying %q", c.req, res.GetOutcome(), res.GetReason(), c.reason)
		}
	}
}

// TestExportSealsThenMovesOrResumes: an export runs the first four phases
// here, seals the state in the fifth and waits; committed, the host moves;
// aborted, the old behaviour resumes with its state.
func TestExportSealsThenMovesOrResumes(t *testing.T) {
	for _, decision := range []string{"commit", "abort", "old-invariant"} {
		t.Run(decision, func(t *testing.T) {
			old := &box{Items: []int{4, 5}, Stable_: true}
			if decision == "old-invariant" {
				old.Failing = decision
			}
			h := &fakeHost{kind: "box", version: 1, behavior: old}
			ctx := &fakeContext{}
			// Version 7 is unknown here: the process the actor moves to
			// migrates it.
			u := protocol.StartExport(ctx, boxCatalog(t), h, &update.UpdateActor{ToVersion: 7, UpdateId: "mv"})
			if decision == "old-invariant" {
				if res := u.Result(); !u.Done() || res.GetPhase() != update.Phase_PHASE_STATE_CHECKING || u.Sealed() != nil || h.holding {
					t.Fatalf("an export of a state that breaks its invariants: %v in %v, sealed %v, holding %v", res.GetOutcome(), res.GetPhase(), u.Sealed(), h.holding)
				}
				return
			}
			if !u.Staged() || !u.Export() {
				t.Fatalf("after StartExport: staged=%v (%v: %s)", u.Staged(), u.Result().GetOutcome(), u.Result().GetReason())
			}
			if n := old.notice; n == nil || !n.Moving || !n.Staged || n.From != 1 || n.To != 7 {
				t.Fatalf("the notice %+v does not say the actor moves from 1 to 7", n)
			}
			e := u.Sealed()
			if e == nil || e.GetKind() != "box" || e.GetVersion() != 1 || e.Check() != nil {
				t.Fatalf("sealed %v, want a valid box version 1 envelope", e)
			}
			back, err := boxCatalog(t).Open(e, 1)
			if err != nil || !reflect.DeepEqual(back.(*box).Items, []int{4, 5}) {
				t.Fatalf("the sealed state opens to %+v, %v", back, err)
			}
			if u.Commit(ctx) {
				t.Fatal("Commit (without a destination) accepted an export")
			}
			if decision == "commit" {
				if !u.CommitTo(ctx, pa.NewPID("elsewhere", "b")) {
					t.Fatal("CommitTo refused a staged export")
				}
				res := u.Result()
				if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED || res.GetPhase() != update.Phase_PHASE_REPLACEMENT || !slices.Contains(h.log, "move to b") || h.holding {
					t.Fatalf("commit: %v in %v, host calls %v, holding %v", res.GetOutcome(), res.GetPhase(), h.log, h.holding)
				}
				return
			}
			u.Abort(ctx, errors.New("the new process died"))
			if res := u.Result(); res.GetOutcome() != update.Outcome_OUTCOME_ABORTED || h.behavior != old || h.holding || old.Aborted == nil || !reflect.DeepEqual(old.Items, []int{4, 5}) {
				t.Fatalf("abort: %v, behaviour kept %v, holding %v, told %v, state %v", res.GetOutcome(), h.behavior == old, h.holding, old.Aborted, old.Items)
			}
		})
	}
	// A plain staged update cannot be committed elsewhere.
	h := &fakeHost{kind: "box", version: 1, behavior: &box{Stable_: true}}
	u := protocol.Start(&fakeContext{}, boxCatalog(t), h, &update.UpdateActor{ToVersion: 2, UpdateId: "s", Stage: true})
	if u.CommitTo(&fakeContext{}, pa.NewPID("elsewhere", "b")) {
		t.Fatal("CommitTo accepted an update that is not an export")
	}
}

// TestReleasedUpdateKeepsWhatItHandedOut: an Update given back by Release
// serves a later update, but what it handed out (the result, the Retired
// for the old behaviour, the VersionChanged the new one received) stays as
// it was, and the later update has another Epoch.
func TestReleasedUpdateKeepsWhatItHandedOut(t *testing.T) {
	cat := boxCatalog(t)
	run := func(id string) (*protocol.Update, *update.VersionChanged) {
		t.Helper()
		h := &fakeHost{kind: "box", version: 1, behavior: &box{Stable_: true}}
		u := protocol.Start(&fakeContext{}, cat, h, &update.UpdateActor{ToVersion: 2, UpdateId: id})
		if !u.Done() || u.Result().GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
			t.Fatalf("update %s: done %v, %v (%s), want committed within Start", id, u.Done(), u.Result().GetOutcome(), u.Result().GetReason())
		}
		for _, m := range h.delivered {
			if vc, ok := m.(*update.VersionChanged); ok {
				return u, vc
			}
		}
		t.Fatalf("update %s: the new behaviour got no VersionChanged", id)
		return nil, nil
	}
	// sync.Pool may drop what it is given (it does so at random under the
	// race detector, and a goroutine may change P between Put and Get):
	// try until the released Update comes back.
	for range 100 {
		first, changed := run("first")
		res, retired := first.Result(), first.Retired()
		wantRes, wantRetired, wantChanged := proto.Clone(res), *retired, *changed
		ptr, epoch := first, first.Epoch()
		first.Release()
		later, _ := run("later")
		later.Retired()
		if later != ptr {
			later.Release()
			continue
		}
		if later.Epoch() == epoch {
			t.Errorf("the reused Update has the epoch %d of the update it served before", epoch)
		}
		if !proto.Equal(res, wantRes) {
			t.Errorf("a result changed once its Update served another update:\n got %v\nwant %v", res, wantRes)
		}
		if *retired != wantRetired || *changed != wantChanged {
			t.Errorf("a Retired or VersionChanged changed once its Update served another update: %+v, %+v; want %+v, %+v", *retired, *changed, wantRetired, wantChanged)
		}
		later.Release()
		return
	}
	t.Fatal("no released Update served a later update in 100 tries: the pool keeps none")
}
