package update_test

import (
	"strings"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/types/known/durationpb"
)

// TestValidateNamesEachBound: every duration and length a request carries
// is checked, out-of-range values are printed as sent (a 5e9 s deadline is
// valid protobuf but saturates a time.Duration), and the reason names the
// bound and its constant.
func TestValidateNamesEachBound(t *testing.T) {
	long := strings.Repeat("x", update.MaxIDLength+1)
	cases := []struct {
		name string
		req  *update.UpdateActor
		says []string
	}{
		{"huge deadline", &update.UpdateActor{ToVersion: 2, Deadline: &durationpb.Duration{Seconds: 5e9}},
			[]string{"1388888h53m20s", "maximum", "10m0s", "update.MaxDeadline"}},
		{"deadline beyond time.Duration", &update.UpdateActor{ToVersion: 2, Deadline: &durationpb.Duration{Seconds: 3e11}},
			[]string{"300000000000s", "maximum"}},
		{"most negative deadline", &update.UpdateActor{ToVersion: 2, Deadline: &durationpb.Duration{Seconds: -315576000000}},
			[]string{"-315576000000s", "positive"}},
		{"deadline beyond protobuf's range", &update.UpdateActor{ToVersion: 2, Deadline: &durationpb.Duration{Seconds: 1 << 62}},
			[]string{"invalid deadline", "update.MaxDeadline"}},
		{"1ns deadline", &update.UpdateActor{ToVersion: 2, Deadline: durationpb.New(time.Nanosecond)},
			[]string{"1ns", "minimum", "1ms", "update.MinDeadline"}},
		{"just under the minimum", &update.UpdateActor{ToVersion: 2, Deadline: durationpb.New(update.MinDeadline - 1)},
			[]string{"minimum"}},
		{"huge probation", &update.UpdateActor{ToVersion: 2, Probation: &update.Probation{Duration: &durationpb.Duration{Seconds: 5e9}}},
			[]string{"1388888h53m20s", "update.MaxProbation"}},
		{"negative probation", &update.UpdateActor{ToVersion: 2, Probation: &update.Probation{Duration: &durationpb.Duration{Nanos: -1}}},
			[]string{"probation duration", "out of range"}},
		{"mixed-sign probation", &update.UpdateActor{ToVersion: 2, Probation: &update.Probation{Duration: &durationpb.Duration{Seconds: 1, Nanos: -1}}},
			[]string{"invalid probation duration"}},
		{"update_id", &update.UpdateActor{ToVersion: 2, UpdateId: long}, []string{"update_id", "update.MaxIDLength"}},
		{"group size", &update.UpdateActor{ToVersion: 2, UpdateId: "g", Stage: true, Group: make([]string, update.MaxGroupMembers+1)},
			[]string{"group", "update.MaxGroupMembers"}},
		{"group member", &update.UpdateActor{ToVersion: 2, UpdateId: "g", Stage: true, Group: []string{"a", long}},
			[]string{"group member 1", "update.MaxIDLength"}},
		{"report_to address", &update.UpdateActor{ToVersion: 2, Probation: &update.Probation{Messages: 1, ReportTo: &update.ActorRef{Address: long, Id: "x"}}},
			[]string{"report_to address", "update.MaxIDLength"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.req.Validate()
			if err == nil {
				t.Fatal("valid, want an error")
			}
			for _, want := range c.says {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q does not say %q", err, want)
				}
			}
		})
	}
	for _, ok := range []*update.UpdateActor{
		{ToVersion: 2, Deadline: durationpb.New(update.MinDeadline)},
		{ToVersion: 2, Deadline: durationpb.New(update.MaxDeadline)},
		{ToVersion: 2, UpdateId: strings.Repeat("x", update.MaxIDLength), Stage: true, Group: make([]string, update.MaxGroupMembers)},
		{ToVersion: 2, Probation: &update.Probation{Duration: durationpb.New(update.MaxProbation), ReportTo: update.RefOf(pa.NewPID("nonhost", "m"))}},
	} {
		if err := ok.Validate(); err != nil {
			t.Errorf("a request at the bounds was refused: %v", err)
		}
	}
	if err := (&update.AbortUpdate{UpdateId: "u", Reason: strings.Repeat("r", update.MaxReasonLength+1)}).Validate(); err == nil || !strings.Contains(err.Error(), "update.MaxReasonLength") {
		t.Errorf("an oversized abort reason: %v, want it refused naming update.MaxReasonLength", err)
	}
	if err := (&update.CommitUpdate{UpdateId: long}).Validate(); err == nil || !strings.Contains(err.Error(), "update.MaxIDLength") {
		t.Errorf("an oversized commit id: %v, want it refused naming update.MaxIDLength", err)
	}
}

// TestActorRefRoundTrip: RefOf and PID name the same actor; an empty
// reference names none.
func TestActorRefRoundTrip(t *testing.T) {
	pid := pa.NewPID("host:1", "a/b")
	if back := update.RefOf(pid).PID(); !back.Equal(pid) {
		t.Fatalf("RefOf(%v).PID() = %v", pid, back)
	}
	if update.RefOf(nil) != nil || (*update.ActorRef)(nil).PID() != nil || (&update.ActorRef{Address: "x"}).PID() != nil {
		t.Fatal("a missing reference must name no PID")
	}
}
