package harness

import (
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/molt-go/molt/update"
)

// The range and precision of a Recorder: from 1 ns to the longest deadline
// an update may have, with three significant digits (a value is stored
// within 0.1 % of what was recorded).
const (
	lowestNs  = 1
	highestNs = int64(update.MaxDeadline)
	sigDigits = 3
)

// Recorder collects durations in an HDR histogram: constant memory
// (about 250 KB) whatever the number of samples, no allocation per sample,
// and quantiles within 0.1 % of the exact ones. It is not safe for
// concurrent use.
type Recorder struct {
	h *hdrhistogram.Histogram
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{h: hdrhistogram.New(lowestNs, highestNs, sigDigits)}
}

// Record adds one duration. Values outside the recorder's range, below
// 1 ns or above update.MaxDeadline, are clamped to it.
func (r *Recorder) Record(d time.Duration) { r.RecordNs(int64(d)) }

// RecordNs adds one duration given in nanoseconds, clamped as Record does.
func (r *Recorder) RecordNs(ns int64) {
	// Clamped, the value is always in range: RecordValue cannot fail.
	_ = r.h.RecordValue(min(max(ns, lowestNs), highestNs))
}

// Count returns the number of durations recorded.
func (r *Recorder) Count() int64 { return r.h.TotalCount() }

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of the recorded durations:
// the smallest recorded value (to the histogram's precision) that at least
// a fraction q of the samples do not exceed, with q × count rounded to the
// nearest sample, and at least the first. Quantile(0.5) is the median,
// Quantile(0) the minimum, Quantile(1) the maximum; it returns 0 when
// nothing was recorded.
func (r *Recorder) Quantile(q float64) time.Duration {
	if r.h.TotalCount() == 0 {
		return 0
	}
	v := r.h.ValueAtPercentile(100 * min(max(q, 0), 1))
	if v == 0 {
		// q × count rounded to no sample: the first one is the answer.
		v = r.h.Min()
	}
	return time.Duration(v)
}

// Merge adds every sample of other to r.
func (r *Recorder) Merge(other *Recorder) { r.h.Merge(other.h) }

// Summary returns the count, minimum, mean, p50, p90, p99, p99.9 and
// maximum of the recorded durations.
func (r *Recorder) Summary() *Latency {
	l := &Latency{Count: r.h.TotalCount()}
	if l.Count == 0 {
		return l
	}
	l.MinNs = r.h.Min()
	l.MeanNs = int64(r.h.Mean())
	l.P50Ns = int64(r.Quantile(0.50))
	l.P90Ns = int64(r.Quantile(0.90))
	l.P99Ns = int64(r.Quantile(0.99))
	l.P999Ns = int64(r.Quantile(0.999))
	l.MaxNs = r.h.Max()
	return l
}

// CDFPoint is one step of a cumulative distribution: a fraction of the
// samples took at most Ns nanoseconds.
type CDFPoint struct {
	Ns       int64
	Fraction float64
}

// CDF returns the cumulative distribution of the recorded durations, one
// point per histogram bucket that holds a sample, in increasing order; the
// last point's fraction is 1. It returns nil when nothing was recorded.
func (r *Recorder) CDF() []CDFPoint {
	total := r.h.TotalCount()
	if total == 0 {
		return nil
	}
	var out []CDFPoint
	var seen int64
	for _, bar := range r.h.Distribution() {
		if bar.Count == 0 {
			continue
		}
		seen += bar.Count
		out = append(out, CDFPoint{Ns: bar.To, Fraction: float64(seen) / float64(total)})
	}
	return out
}

// Latency summarizes a distribution of durations, in nanoseconds.
type Latency struct {
	Count  int64 `json:"count"`
	MinNs  int64 `json:"min_ns"`
	MeanNs int64 `json:"mean_ns"`
	P50Ns  int64 `json:"p50_ns"`
	P90Ns  int64 `json:"p90_ns"`
	P99Ns  int64 `json:"p99_ns"`
	P999Ns int64 `json:"p999_ns"`
	MaxNs  int64 `json:"max_ns"`
}
