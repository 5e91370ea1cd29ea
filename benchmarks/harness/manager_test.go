package harness_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/molt-go/molt/benchmarks/harness"
	"github.com/molt-go/molt/update/manager"
)

// managerScenarios are the update manager's scenarios, registered after
// the built-in ones.
var managerScenarios = []string{"group-update", "fleet-update"}

// TestFleet updates a small fleet as a group and as a whole, back and
// forth, and checks the versions and the events.
func TestFleet(t *testing.T) {
	ctx := context.Background()
	if _, err := harness.NewFleet(ctx, 0); err == nil {
		t.Error("NewFleet(0) succeeded, want an error")
	}
	f, err := harness.NewFleet(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	}()
	if f.Size() != 5 || f.Version() != 1 {
		t.Fatalf("new fleet: size %d at version %d, want 5 at 1", f.Size(), f.Version())
	}
	if err := f.Verify(); err != nil {
		t.Fatal(err)
	}

	var staged, committed, updated int
	d, done, err := f.UpdateGroup(ctx, func(e *manager.Event) {
		switch e.GetType() {
		case manager.EventType_GROUP_STAGED:
			staged++
		case manager.EventType_GROUP_COMMITTED:
			committed++
		case manager.EventType_ACTOR_UPDATED:
			updated++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if d <= 0 || done.GetUpdated() != 5 || f.Version() != 2 {
		t.Errorf("group update: %v, %d updated, fleet at version %d; want a duration, 5 updated, version 2", d, done.GetUpdated(), f.Version())
	}
	if staged != 1 || committed != 1 || updated != 5 {
		t.Errorf("group update: %d GROUP_STAGED, %d GROUP_COMMITTED, %d ACTOR_UPDATED events; want 1, 1 and 5", staged, committed, updated)
	}
	if err := f.Verify(); err != nil {
		t.Fatal(err)
	}

	for _, want := range []uint32{1, 2, 1} {
		updated = 0
		_, done, err := f.UpdateAll(ctx, func(e *manager.Event) {
			if e.GetType() == manager.EventType_ACTOR_UPDATED && e.GetToVersion() == want {
				updated++
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if done.GetUpdated() != 5 || updated != 5 || f.Version() != want {
			t.Errorf("fleet update to %d: %d updated, %d events, fleet at version %d", want, done.GetUpdated(), updated, f.Version())
		}
		if err := f.Verify(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestManagerScenarios runs group-update and fleet-update small and checks
// their registration, cases, figures, JSON and charts.
func TestManagerScenarios(t *testing.T) {
	var names []string
	for _, s := range harness.Scenarios() {
		names = append(names, s.Name)
	}
	want := append(slices.Clone(builtin), managerScenarios...)
	if len(names) < len(want) || !slices.Equal(names[:len(want)], want) {
		t.Fatalf("registered scenarios %v, want %v first", names, want)
	}

	cfg := tiny
	cfg.GroupSizes = []int{2, 4}
	cfg.FleetSizes = []int{10, 50}
	wantCases := map[string][]string{
		"group-update": {"group/2", "group/4"},
		"fleet-update": {"fleet/10", "fleet/50"},
	}
	if erlangInstalled() {
		wantCases["fleet-update"] = []string{"fleet/10", "fleet/10/erlang", "fleet/50", "fleet/50/erlang"}
	}
	// fleet-update announces the Erlang peer's cases whether or not erl is
	// there, and reports progress for them either way.
	announced := map[string]int{"group-update": 2, "fleet-update": 4}
	var results []*harness.Result
	for _, name := range managerScenarios {
		s, _ := harness.Lookup(name)
		if n := s.CaseCount(cfg); n != announced[name] {
			t.Errorf("%s announces %d cases, want %d", name, n, announced[name])
		}
		progressed := 0
		cfg.Progress = func(scenario, _ string) {
			if scenario != name {
				t.Errorf("progress reported for scenario %q while %q runs", scenario, name)
			}
			progressed++
		}
		res, err := s.Measure(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		results = append(results, res)
		if progressed != announced[name] {
			t.Errorf("%s: reported progress %d times, want %d", name, progressed, announced[name])
		}
		var got []string
		for _, c := range res.Cases {
			got = append(got, c.Name)
			if c.Latency == nil || c.Latency.Count != int64(cfg.Count) {
				t.Errorf("%s/%s: latency %+v, want %d samples", name, c.Name, c.Latency, cfg.Count)
			}
		}
		if !slices.Equal(got, wantCases[name]) {
			t.Errorf("%s: cases %v, want %v", name, got, wantCases[name])
		}
	}

	group, fleet := results[0], results[1]
	for _, c := range group.Cases {
		for _, fig := range []string{"plan_p50_ns", "staged_p50_ns", "committed_p50_ns", "actor_p50_ns"} {
			if v, ok := c.Figure(fig); !ok || v <= 0 {
				t.Errorf("group-update/%s: %s = %v, %v; want a positive duration", c.Name, fig, v, ok)
			}
		}
		// Under tiny, one warm-up package: its group staged, then committed.
		staged, _ := c.Figure("staged_p50_ns")
		committed, _ := c.Figure("committed_p50_ns")
		if staged > committed {
			t.Errorf("group-update/%s: staged after %v, committed after %v: want staged first", c.Name, staged, committed)
		}
	}
	for _, c := range fleet.Cases {
		figures := []string{"updates_per_s", "run_updates_per_s", "plan_p50_ns", "actor_p50_ns", "allocs_per_update", "spawn_per_s"}
		switch {
		case strings.HasSuffix(c.Name, "/erlang"):
			figures = []string{"updates_per_s", "spawn_per_s"}
		case erlangInstalled():
			figures = append(figures, "vs_erlang_ratio")
		}
		for _, fig := range figures {
			if v, ok := c.Figure(fig); !ok || v <= 0 {
				t.Errorf("fleet-update/%s: %s = %v, %v; want positive", c.Name, fig, v, ok)
			}
		}
	}
	if fleet.Parameters["max_in_flight"] != harness.FleetMaxInFlight {
		t.Errorf("fleet-update parameters %v, want max_in_flight %d", fleet.Parameters, harness.FleetMaxInFlight)
	}

	// The charts, from the results and from their JSON, as a user would
	// redraw them.
	var buf bytes.Buffer
	if err := harness.WriteJSON(&buf, results...); err != nil {
		t.Fatal(err)
	}
	var decoded []*harness.Result
	if err := json.Unmarshal(buf.Bytes(), &decoded); err != nil {
		t.Fatal(err)
	}
	for _, rs := range [][]*harness.Result{results, decoded} {
		dir := t.TempDir()
		if _, err := harness.Plot(dir, rs...); err != nil {
			t.Fatalf("Plot: %v", err)
		}
		for _, chart := range []string{"latency-vs-group-size", "fleet-rate-vs-fleet-size"} {
			for _, ext := range []string{".svg", ".png"} {
				if fi, err := os.Stat(filepath.Join(dir, chart+ext)); err != nil || fi.Size() == 0 {
					t.Errorf("chart %s%s not written: %v", chart, ext, err)
				}
			}
		}
	}
}
