package harness_test

import (
	"math"
	"testing"
	"time"

	"github.com/molt-go/molt/benchmarks/harness"
)

// within reports whether got is within the recorder's precision (0.1 %) of
// want.
func within(got, want time.Duration) bool {
	return math.Abs(float64(got-want)) <= 0.001*float64(want)+1
}

// TestRecorderQuantilesOnKnownData records 1 µs, 2 µs, …, 10,000 µs, once
// each, and checks every percentile against the exact nearest-rank value.
func TestRecorderQuantilesOnKnownData(t *testing.T) {
	r := harness.NewRecorder()
	// Recorded in a scrambled order: quantiles do not depend on it.
	for i := range 10_000 {
		r.Record(time.Duration((i*7919)%10_000+1) * time.Microsecond)
	}
	if r.Count() != 10_000 {
		t.Fatalf("Count() = %d after 10,000 samples", r.Count())
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{
		{0.5, 5000 * time.Microsecond},
		{0.9, 9000 * time.Microsecond},
		{0.99, 9900 * time.Microsecond},
		{0.999, 9990 * time.Microsecond},
		{1, 10_000 * time.Microsecond},
		{0.0001, 1 * time.Microsecond},
	} {
		if got := r.Quantile(c.q); !within(got, c.want) {
			t.Errorf("Quantile(%v) = %v, want %v within 0.1%%", c.q, got, c.want)
		}
	}
	s := r.Summary()
	for _, c := range []struct {
		name      string
		got, want int64
	}{
		{"count", s.Count, 10_000},
		{"min", s.MinNs, int64(time.Microsecond)},
		{"mean", s.MeanNs, int64(5000500 * time.Nanosecond)},
		{"p50", s.P50Ns, int64(5000 * time.Microsecond)},
		{"p90", s.P90Ns, int64(9000 * time.Microsecond)},
		{"p99", s.P99Ns, int64(9900 * time.Microsecond)},
		{"p99.9", s.P999Ns, int64(9990 * time.Microsecond)},
		{"max", s.MaxNs, int64(10_000 * time.Microsecond)},
	} {
		if c.name == "count" && c.got != c.want || !within(time.Duration(c.got), time.Duration(c.want)) {
			t.Errorf("Summary().%s = %d, want %d within 0.1%%", c.name, c.got, c.want)
		}
	}
}

// TestRecorderTail checks the tail percentiles on a bimodal distribution:
// 990 fast samples and 10 slow ones, so p99 is the last fast sample and
// p99.9 a slow one.
func TestRecorderTail(t *testing.T) {
	r := harness.NewRecorder()
	for range 990 {
		r.Record(2 * time.Microsecond)
	}
	for range 10 {
		r.Record(time.Second)
	}
	s := r.Summary()
	if !within(time.Duration(s.P99Ns), 2*time.Microsecond) {
		t.Errorf("p99 = %v, want 2µs: 990 of 1,000 samples are 2µs", time.Duration(s.P99Ns))
	}
	if !within(time.Duration(s.P999Ns), time.Second) {
		t.Errorf("p99.9 = %v, want 1s: the top 10 of 1,000 samples are 1s", time.Duration(s.P999Ns))
	}
	if !within(time.Duration(s.P50Ns), 2*time.Microsecond) || !within(time.Duration(s.MaxNs), time.Second) {
		t.Errorf("p50 = %v and max = %v, want 2µs and 1s", time.Duration(s.P50Ns), time.Duration(s.MaxNs))
	}
}

// TestRecorderEmptyAndClamped checks that an empty recorder reports zeros
// and that out-of-range values are clamped, not dropped.
func TestRecorderEmptyAndClamped(t *testing.T) {
	r := harness.NewRecorder()
	if got := *r.Summary(); got != (harness.Latency{}) {
		t.Errorf("empty Summary() = %+v, want zeros", got)
	}
	if r.Quantile(0.5) != 0 || r.CDF() != nil {
		t.Errorf("empty recorder: Quantile(0.5) = %v, CDF() = %v, want 0 and nil", r.Quantile(0.5), r.CDF())
	}
	r.Record(-time.Second)
	r.Record(24 * time.Hour)
	if r.Count() != 2 {
		t.Fatalf("Count() = %d after two out-of-range samples, want 2: they are clamped, not dropped", r.Count())
	}
	if got := r.Quantile(0); got != time.Nanosecond {
		t.Errorf("a negative sample became %v, want 1ns", got)
	}
	if got := r.Quantile(1); !within(got, 10*time.Minute) {
		t.Errorf("a 24h sample became %v, want 10m, the recorder's ceiling", got)
	}
}

// TestRecorderCDF checks that the cumulative distribution rises from the
// smallest sample to 1 at the largest.
func TestRecorderCDF(t *testing.T) {
	r := harness.NewRecorder()
	for i := 1; i <= 100; i++ {
		r.Record(time.Duration(i) * time.Millisecond)
	}
	cdf := r.CDF()
	if len(cdf) != 100 {
		t.Fatalf("CDF has %d points for 100 distinct samples, want 100", len(cdf))
	}
	for i := 1; i < len(cdf); i++ {
		if cdf[i].Ns <= cdf[i-1].Ns || cdf[i].Fraction <= cdf[i-1].Fraction {
			t.Fatalf("CDF is not increasing at %d: %+v then %+v", i, cdf[i-1], cdf[i])
		}
	}
	if last := cdf[len(cdf)-1]; last.Fraction != 1 || !within(time.Duration(last.Ns), 100*time.Millisecond) {
		t.Errorf("CDF ends at %+v, want fraction 1 at 100ms", last)
	}
	if half := cdf[49]; half.Fraction != 0.5 || !within(time.Duration(half.Ns), 50*time.Millisecond) {
		t.Errorf("CDF point 50 is %+v, want fraction 0.5 at 50ms", half)
	}

	other := harness.NewRecorder()
	other.Record(time.Second)
	r.Merge(other)
	if r.Count() != 101 || !within(r.Quantile(1), time.Second) {
		t.Errorf("after Merge: Count() = %d, max %v, want 101 and 1s", r.Count(), r.Quantile(1))
	}
}
