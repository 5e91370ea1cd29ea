package main_test

import (
	"testing"

	"github.com/molt-go/molt/benchmarks/harness"
)

// The benchmarks run the harness's fixtures, the same code as the runner's
// scenarios, b.N operations at a time.

func must(b *testing.B, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// reportLatency reports the p50 and p99 of rec under the given metric
// prefix ("" gives "p50-ns" and "p99-ns").
func reportLatency(b *testing.B, prefix string, rec *harness.Recorder) {
	b.ReportMetric(float64(rec.Quantile(0.50)), prefix+"p50-ns")
	b.ReportMetric(float64(rec.Quantile(0.99)), prefix+"p99-ns")
}
