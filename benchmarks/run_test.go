package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/molt-go/molt/benchmarks/harness"
)

// small are flags under which every scenario takes a fraction of a second.
var small = []string{"-count", "3", "-warmup", "1ns", "-reps", "1", "-sizes", "1KB", "-held", "0,20", "-actors", "100", "-groups", "2,4", "-fleets", "10,100"}

// TestRunJSONCoversEveryScenario runs the runner with -json and -plot and
// decodes its output: a JSON array with one object per registered
// scenario, each with parameters, environment and cases; the table on
// stderr; the charts in the directory.
func TestRunJSONCoversEveryScenario(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	args := append([]string{"-json", "-plot", dir, "-gomaxprocs", "1"}, small...)
	procs := runtime.GOMAXPROCS(0)
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("run %v exited %d: %s", args, code, stderr.String())
	}
	if runtime.GOMAXPROCS(0) != procs {
		t.Errorf("GOMAXPROCS is %d after the run, want it restored to %d", runtime.GOMAXPROCS(0), procs)
	}

	var doc []struct {
		Scenario    string         `json:"scenario"`
		Parameters  map[string]any `json:"parameters"`
		Environment map[string]any `json:"environment"`
		Cases       []struct {
			Name    string             `json:"name"`
			Latency map[string]float64 `json:"latency"`
			Figures map[string]float64 `json:"figures"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, stdout.String())
	}
	var want []string
	for _, s := range harness.Scenarios() {
		want = append(want, s.Name)
	}
	if len(doc) != len(want) {
		t.Fatalf("%d scenario objects, want %d (%v)", len(doc), len(want), want)
	}
	for i, obj := range doc {
		if obj.Scenario != want[i] {
			t.Errorf("object %d is scenario %q, want %q", i, obj.Scenario, want[i])
		}
		if obj.Parameters["count"] != 3.0 {
			t.Errorf("%s: parameters %v, want count 3", obj.Scenario, obj.Parameters)
		}
		if obj.Environment["gomaxprocs"] != 1.0 || obj.Environment["go_version"] != runtime.Version() || obj.Environment["commit"] == "" || obj.Environment["cpu"] == "" {
			t.Errorf("%s: environment %v, want gomaxprocs 1 (the flag), the Go version, a CPU and a commit", obj.Scenario, obj.Environment)
		}
		if len(obj.Cases) == 0 {
			t.Errorf("%s: no cases", obj.Scenario)
		}
		for _, c := range obj.Cases {
			if c.Latency == nil && c.Figures == nil {
				t.Errorf("%s/%s: neither latency nor figures", obj.Scenario, c.Name)
			}
		}
	}

	// The peers and the ratios of molt to them, in the JSON and the table.
	_, noErl := exec.LookPath("erl")
	_, noErlc := exec.LookPath("erlc")
	erlang := noErl == nil && noErlc == nil
	peers := map[string][]string{
		"update-latency": {"protoactor-floor"},
		"fleet-update":   {},
	}
	ratios := map[string][]string{
		"update-latency": {"vs_floor_p50_ratio", "vs_floor_p99_ratio"},
		"fleet-update":   {},
	}
	if erlang {
		peers["update-latency"] = append(peers["update-latency"], "erlang")
		peers["fleet-update"] = append(peers["fleet-update"], "fleet/10/erlang", "fleet/100/erlang")
		ratios["update-latency"] = append(ratios["update-latency"], "vs_erlang_p50_ratio", "vs_erlang_p99_ratio")
		ratios["fleet-update"] = append(ratios["fleet-update"], "vs_erlang_ratio")
	}
	molt := map[string]string{"update-latency": "counter/codec", "fleet-update": "fleet/100"}
	for _, obj := range doc {
		if _, ok := peers[obj.Scenario]; !ok {
			continue
		}
		cases := map[string]map[string]float64{}
		for _, c := range obj.Cases {
			cases[c.Name] = c.Figures
			if c.Latency["p50_ns"] <= 0 {
				t.Errorf("%s/%s: p50 %v, want positive", obj.Scenario, c.Name, c.Latency["p50_ns"])
			}
		}
		for _, p := range peers[obj.Scenario] {
			if _, ok := cases[p]; !ok {
				t.Errorf("%s: no case %q in the JSON", obj.Scenario, p)
			}
		}
		for _, r := range ratios[obj.Scenario] {
			if v := cases[molt[obj.Scenario]][r]; v <= 0 {
				t.Errorf("%s/%s: %s = %v in the JSON, want a positive ratio", obj.Scenario, molt[obj.Scenario], r, v)
			}
		}
	}

	table := stderr.String()
	for _, label := range []string{"protoactor-floor", "vs floor p50 "} {
		if !strings.Contains(table, label) {
			t.Errorf("the table has no %q:\n%s", label, table)
		}
	}
	if erlang {
		for _, label := range []string{"fleet/100/erlang", "vs erlang p50 ", "vs erlang "} {
			if !strings.Contains(table, label) {
				t.Errorf("the table has no %q:\n%s", label, table)
			}
		}
	} else if !strings.Contains(table, "note: erlang: skipped, erl") {
		t.Errorf("without erl, the table does not say the Erlang peer was skipped:\n%s", table)
	}
	for _, s := range want {
		if !strings.Contains(table, s+" (") {
			t.Errorf("the table on stderr has no section for %s:\n%s", s, table)
		}
	}
	for _, chart := range []string{"latency-cdf", "latency-vs-state-size", "latency-vs-held-messages", "pause-cdf", "latency-vs-group-size", "fleet-rate-vs-fleet-size"} {
		for _, ext := range []string{".svg", ".png"} {
			if fi, err := os.Stat(filepath.Join(dir, chart+ext)); err != nil || fi.Size() == 0 {
				t.Errorf("chart %s%s not written: %v", chart, ext, err)
			}
		}
	}
}

// TestRunTable checks that without -json the table goes to stdout, and
// only the scenarios selected run.
func TestRunTable(t *testing.T) {
	var stdout, stderr bytes.Buffer
	args := append([]string{"-scenario", "update-latency,pause"}, small...)
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("run %v exited %d: %s", args, code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"molt benchmarks: go", "update-latency (", "counter/codec", "pause (", "gap/update", "2 scenarios in"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table has no %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "throughput (") {
		t.Errorf("throughput ran without being selected:\n%s", out)
	}
}

// TestRunFlags checks the flags' errors and -list.
func TestRunFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		say  string
	}{
		{[]string{"-scenario", "nope"}, 2, `no scenario "nope"; there are: update-latency`},
		{[]string{"extra"}, 2, "unexpected arguments"},
		{[]string{"-sizes", "big"}, 2, "-sizes"},
		{[]string{"-held", "-1"}, 2, "-held"},
		{[]string{"-groups", "0"}, 2, `-groups: "0" is not a group size`},
		{[]string{"-fleets", "1k"}, 2, `-fleets: "1k" is not a fleet size`},
		{[]string{"-count", "-1"}, 2, "cannot be negative"},
		{[]string{"-bogus"}, 2, "flag provided but not defined"},
		{[]string{"-list"}, 0, "fleet-update"},
		{[]string{"-h"}, 0, "go run ./benchmarks -quick"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), c.args, &stdout, &stderr)
		if code != c.code || !strings.Contains(stderr.String(), c.say) {
			t.Errorf("run %v: exit %d, stderr %q; want exit %d saying %q", c.args, code, stderr.String(), c.code, c.say)
		}
		if stdout.Len() != 0 {
			t.Errorf("run %v wrote to stdout: %q", c.args, stdout.String())
		}
	}
}
