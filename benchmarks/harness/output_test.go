package harness_test

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/molt-go/molt/benchmarks/harness"
)

// measured returns a small real result of the update-latency scenario.
func measured(t *testing.T) *harness.Result {
	t.Helper()
	target, err := harness.CounterTarget(harness.IsolateCodec)
	if err != nil {
		t.Fatal(err)
	}
	res, err := harness.MeasureUpdateLatency(context.Background(), harness.Config{Count: 10, Warmup: time.Nanosecond}, target)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestJSONShape decodes what WriteJSON writes, generically, and checks
// every field a reader of -json relies on: one object per scenario with its
// parameters, its environment and its figures.
func TestJSONShape(t *testing.T) {
	res := measured(t)
	res.Notes = []string{"a note"}
	var out bytes.Buffer
	if err := harness.WriteJSON(&out, res, res); err != nil {
		t.Fatal(err)
	}
	var doc []map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatalf("WriteJSON wrote invalid JSON: %v\n%s", err, out.String())
	}
	if len(doc) != 2 {
		t.Fatalf("WriteJSON of two results wrote %d objects, want 2", len(doc))
	}
	if lines := strings.Count(strings.TrimSpace(out.String()), "\n"); lines != 3 {
		t.Errorf("the array takes %d lines, want 4: '[', one line per scenario, ']'", lines+1)
	}
	obj := doc[0]
	for _, key := range []string{"scenario", "description", "parameters", "environment", "elapsed_s", "cases", "notes"} {
		if _, ok := obj[key]; !ok {
			t.Errorf("the scenario object has no %q; it has %v", key, keys(obj))
		}
	}
	if obj["scenario"] != "update-latency" {
		t.Errorf("scenario = %v, want update-latency", obj["scenario"])
	}
	params, _ := obj["parameters"].(map[string]any)
	if params["count"] != 10.0 {
		t.Errorf("parameters = %v, want count 10", params)
	}
	env, _ := obj["environment"].(map[string]any)
	if env["go_version"] != runtime.Version() || env["gomaxprocs"] != float64(runtime.GOMAXPROCS(0)) {
		t.Errorf("environment = %v, want go_version %s and gomaxprocs %d", env, runtime.Version(), runtime.GOMAXPROCS(0))
	}
	for _, key := range []string{"cpu", "commit", "goos", "goarch", "num_cpu", "time"} {
		if v, ok := env[key]; !ok || v == "" {
			t.Errorf("environment has no %q: %v", key, env)
		}
	}
	cases, _ := obj["cases"].([]any)
	if len(cases) != 1 {
		t.Fatalf("cases = %v, want one", obj["cases"])
	}
	c, _ := cases[0].(map[string]any)
	if c["name"] != "counter/codec" {
		t.Errorf("case name = %v, want counter/codec", c["name"])
	}
	lat, _ := c["latency"].(map[string]any)
	for _, key := range []string{"count", "min_ns", "mean_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns"} {
		if v, ok := lat[key].(float64); !ok || v <= 0 {
			t.Errorf("latency.%s = %v, want a positive number", key, lat[key])
		}
	}
	if lat["count"] != 10.0 {
		t.Errorf("latency.count = %v, want 10", lat["count"])
	}
	figures, _ := c["figures"].(map[string]any)
	if _, ok := figures["actor_p50_ns"].(float64); !ok {
		t.Errorf("figures = %v, want an object with actor_p50_ns", c["figures"])
	}

	// Typed decoding gives back the same result, figures in their order.
	var typed []harness.Result
	if err := json.Unmarshal(out.Bytes(), &typed); err != nil {
		t.Fatal(err)
	}
	if got, want := typed[0].Cases[0].Figures, res.Cases[0].Figures; !reflect.DeepEqual(got, want) {
		t.Errorf("figures decoded as %v, want %v in that order", got, want)
	}
	if *typed[0].Cases[0].Latency != *res.Cases[0].Latency || *typed[0].Environment != *res.Environment {
		t.Errorf("latency or environment changed through JSON: %+v %+v", typed[0].Cases[0].Latency, typed[0].Environment)
	}
}

// TestJSONStreamEmpty checks that a run with no result is still valid JSON.
func TestJSONStreamEmpty(t *testing.T) {
	var out bytes.Buffer
	if err := harness.NewJSONStream(&out).Close(); err != nil {
		t.Fatal(err)
	}
	var doc []any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || len(doc) != 0 {
		t.Errorf("an empty stream wrote %q, want an empty JSON array", out.String())
	}
}

// TestWriteTable checks that the table has a row per case with its
// percentiles and figures in their units.
func TestWriteTable(t *testing.T) {
	res := measured(t)
	res.Cases = append(res.Cases, &harness.Case{Name: "no-latency", Figures: harness.Figures{
		{Name: "msgs_per_s", Value: 2.5e6}, {Name: "vs_protoactor_ratio", Value: 1.234}, {Name: "bytes_per_actor", Value: 2048},
	}})
	var out bytes.Buffer
	if err := harness.WriteTable(&out, res); err != nil {
		t.Fatal(err)
	}
	table := out.String()
	for _, want := range []string{"update-latency", "p50", "p99.9", "max", "counter/codec", "actor p50 ", "no-latency", "msgs 2.50M/s", "vs protoactor 1.23×", "bytes per actor 2KB"} {
		if !strings.Contains(table, want) {
			t.Errorf("the table has no %q:\n%s", want, table)
		}
	}
}

// TestFormat checks the units of the table.
func TestFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{harness.FormatDuration(930), "930ns"},
		{harness.FormatDuration(1660), "1.66µs"},
		{harness.FormatDuration(338e3), "338µs"},
		{harness.FormatDuration(4.8e6), "4.80ms"},
		{harness.FormatDuration(1.2e9), "1.20s"},
		{harness.FormatBytes(1 << 10), "1KB"},
		{harness.FormatBytes(64 << 20), "64MB"},
		{harness.FormatBytes(1536), "1.5KB"},
		{harness.FormatBytes(368.3), "368B"},
		{harness.FormatCount(3.33e6), "3.33M"},
		{harness.FormatFigure("cpu_ns_per_msg", 318), "318ns"},
		{harness.FormatFigure("copy_bytes_per_s", 2<<30), "2GB/s"},
		{harness.FormatFigure("allocs_per_update", 14.06), "14.1"},
		{harness.FormatFigure("allocs_per_group_update", 5712.4), "5.71k"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	for _, c := range []struct {
		in   string
		want int
	}{{"1KB", 1 << 10}, {"64mb", 64 << 20}, {"1.5K", 1536}, {"512", 512}} {
		if got, err := harness.ParseBytes(c.in); err != nil || got != c.want {
			t.Errorf("ParseBytes(%q) = %d, %v, want %d", c.in, got, err, c.want)
		}
	}
	if _, err := harness.ParseBytes("lots"); err == nil {
		t.Error(`ParseBytes("lots") succeeded`)
	}
}

func keys(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
