package harness_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/molt-go/molt/benchmarks/harness"
)

// tiny is a configuration under which every built-in scenario takes a
// fraction of a second, even under the race detector.
var tiny = harness.Config{
	Count:       3,
	Warmup:      time.Nanosecond,
	Repetitions: 1,
	StateSizes:  []int{1 << 10, 64 << 10},
	HeldCounts:  []int{0, 50},
	IdleActors:  200,
}

// builtin are the scenarios this package registers, in order.
var builtin = []string{"update-latency", "state-size", "held-messages", "pause", "throughput", "idle-memory"}

// TestBuiltinScenarios runs every built-in scenario small and checks that
// each measures the cases it announces, with the samples asked for, and
// that the charts are drawn.
func TestBuiltinScenarios(t *testing.T) {
	var names []string
	for _, s := range harness.Scenarios() {
		names = append(names, s.Name)
	}
	if !slices.Equal(names[:len(builtin)], builtin) {
		t.Fatalf("registered scenarios %v, want %v first", names, builtin)
	}

	var results []*harness.Result
	for _, name := range builtin {
		s, _ := harness.Lookup(name)
		progressed := 0
		cfg := tiny
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
		if res.Scenario != name || res.Description == "" || res.Environment == nil || res.Parameters == nil {
			t.Errorf("%s: result lacks its name, description, environment or parameters: %+v", name, res)
		}
		if progressed != s.CaseCount(cfg) {
			t.Errorf("%s: reported progress %d times, announced %d cases", name, progressed, s.CaseCount(cfg))
		}
		if len(res.Cases) == 0 {
			t.Fatalf("%s: no cases", name)
		}
		for _, c := range res.Cases {
			if c.Latency != nil && c.Latency.Count != int64(tiny.Count) {
				t.Errorf("%s/%s: %d latency samples, want %d", name, c.Name, c.Latency.Count, tiny.Count)
			}
			if c.Latency == nil && len(c.Figures) == 0 {
				t.Errorf("%s/%s: neither latency nor figures", name, c.Name)
			}
		}
	}

	// The cases the docs and charts rely on.
	want := map[string][]string{
		"update-latency": {"counter/codec", "counter/clone", "counter/pure", "counter/codec/request", "protoactor-floor"},
		"state-size":     {"1KB/codec", "1KB/clone", "1KB/pure", "64KB/codec", "64KB/clone", "64KB/pure"},
		"held-messages":  {"overtake/0", "overtake/50", "park/0", "park/50"},
		"pause":          {"gap/update", "gap/no-update", "round-trip"},
		"throughput":     {"1x1/protoactor", "1x1/molt", "1x1/molt-pa-dispatcher", "4x32/protoactor", "4x32/molt", "4x32/molt-pa-dispatcher"},
		"idle-memory":    {"protoactor", "molt"},
	}
	if erlangInstalled() {
		want["update-latency"] = append(want["update-latency"], "erlang")
	}
	for _, res := range results {
		var got []string
		for _, c := range res.Cases {
			got = append(got, c.Name)
		}
		if !slices.Equal(got, want[res.Scenario]) {
			t.Errorf("%s: cases %v, want %v", res.Scenario, got, want[res.Scenario])
		}
	}
	// Every molt case of update-latency has its ratios to the peers.
	ratios := []string{"vs_floor_p50_ratio", "vs_floor_p99_ratio"}
	if erlangInstalled() {
		ratios = append(ratios, "vs_erlang_p50_ratio", "vs_erlang_p99_ratio")
	}
	for _, name := range want["update-latency"][:4] {
		for _, fig := range ratios {
			if v, ok := results[0].Case(name).Figure(fig); !ok || v <= 0 {
				t.Errorf("update-latency/%s: %s = %v, %v; want a positive ratio", name, fig, v, ok)
			}
		}
	}
	park := results[2].Case("park/50")
	if held, _ := park.Figure("held"); held != 50 {
		t.Errorf("park/50: the update held %v messages, want the 50 queued", held)
	}
	if ratio, ok := results[4].Case("1x1/molt").Figure("vs_protoactor_ratio"); !ok || ratio <= 0 {
		t.Errorf("1x1/molt: vs_protoactor_ratio = %v, %v; want a positive ratio", ratio, ok)
	}
	if b, _ := results[5].Case("molt").Figure("bytes_per_actor"); b <= 0 {
		t.Errorf("idle-memory: molt bytes per actor = %v, want positive", b)
	}

	dir := t.TempDir()
	files, err := harness.Plot(dir, results...)
	if err != nil {
		t.Fatalf("Plot: %v", err)
	}
	for _, chart := range []string{"latency-cdf", "latency-vs-state-size", "latency-vs-held-messages", "pause-cdf"} {
		for _, ext := range []string{".svg", ".png"} {
			path := filepath.Join(dir, chart+ext)
			data, err := os.ReadFile(path)
			if err != nil || len(data) == 0 {
				t.Errorf("chart %s not written (%v); Plot wrote %v", path, err, files)
				continue
			}
			if ext == ".svg" && !bytes.Contains(data, []byte("<svg")) || ext == ".png" && !bytes.HasPrefix(data, []byte("\x89PNG")) {
				t.Errorf("%s is not a%s file", path, ext)
			}
		}
	}
}

// TestRegister checks the scenario registry's rules.
func TestRegister(t *testing.T) {
	run := func(context.Context, harness.Config) (*harness.Result, error) {
		return &harness.Result{Cases: []*harness.Case{{Name: "only"}}}, nil
	}
	if err := harness.Register(harness.Scenario{Name: "update-latency", Run: run}); err == nil {
		t.Error("registering a second update-latency succeeded, want an error")
	}
	if err := harness.Register(harness.Scenario{Name: "no-run"}); err == nil {
		t.Error("registering a scenario without Run succeeded, want an error")
	}
	if err := harness.Register(harness.Scenario{Name: "test-extra", Description: "registered by a test", Run: run}); err != nil {
		t.Fatalf("registering a new scenario: %v", err)
	}
	s, ok := harness.Lookup("test-extra")
	if !ok || s.CaseCount(harness.Config{}) != 1 {
		t.Fatalf("Lookup(test-extra) = %v, %v; want it, with one case", s.Name, ok)
	}
	res, err := s.Measure(context.Background(), harness.Config{})
	if err != nil || res.Scenario != "test-extra" || res.Description != "registered by a test" || res.Environment == nil {
		t.Errorf("Measure filled in %+v, %v; want the scenario's name, description and environment", res, err)
	}
	if all := harness.Scenarios(); all[len(all)-1].Name != "test-extra" {
		t.Errorf("the new scenario is not last in %v", all)
	}
}

// TestUpdateLatencyRounds checks that update-latency, given a duration,
// measures every case and peer in as many rounds as repetitions, and
// says so.
func TestUpdateLatencyRounds(t *testing.T) {
	s, _ := harness.Lookup("update-latency")
	res, err := s.Measure(context.Background(), harness.Config{Duration: 20 * time.Millisecond, Warmup: 2 * time.Millisecond, Repetitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Parameters["rounds"] != 2 {
		t.Errorf("parameters %v, want rounds 2", res.Parameters)
	}
	for _, c := range res.Cases {
		// At least one update per round.
		if c.Latency == nil || c.Latency.Count < 2 {
			t.Errorf("%s: latency %+v, want at least 2 samples", c.Name, c.Latency)
		}
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "in 2 rounds of 1/2 of the measuring time") }) {
		t.Errorf("notes %q do not say the cases ran in 2 rounds", res.Notes)
	}
}
