package main_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/molt-go/molt/internal/proctest"
)

// BenchmarkTakeover moves a fleet of small actors (a map and two counters
// each) from one process to a new one (takeover.Run with its default
// batches), with no load, and reports per takeover:
//   - "total-ms": from Begin to Finish, as the new process measures it;
//   - "pause-p99-ms" (and p50, max): the time an actor took no message,
//     from the start of its hold in the old process to its release in the
//     new one, the 99th percentile over the fleet.
//
// One op is one takeover between two fresh processes; spawning the fleet
// is not timed. Run it with -benchtime 1x and -count 5 for medians:
//
//	go test -run '^$' -bench BenchmarkTakeover -benchtime 1x -count 5 ./benchmarks/
func BenchmarkTakeover(b *testing.B) {
	bin := proctest.Build(b, "github.com/molt-go/molt/takeover/internal/fleet")
	for _, actors := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("actors=%d", actors), func(b *testing.B) {
			if testing.Short() && actors > 1000 {
				b.Skip("-short: the fleets over 1,000 actors take minutes at -benchtime 10x")
			}
			var total, p50, p99, most []float64
			for range b.N {
				b.StopTimer()
				src := proctest.Open(b, 10*time.Second, bin, "-role", "source", "-actors", strconv.Itoa(actors))
				addr := strings.Fields(src.Expect("addr ", 5*time.Minute))[1]
				b.StartTimer()
				req := proctest.Open(b, 10*time.Second, bin, "-role", "requester", "-from", addr)
				rep := proctest.Fields(b, req.Expect("report ", 5*time.Minute))
				b.StopTimer()
				if rep["moved"] != float64(actors) {
					b.Fatalf("moved %v of %d actors; stderr:\n%s", rep["moved"], actors, req.Stderr())
				}
				total = append(total, rep["total-ms"])
				p50 = append(p50, rep["pause-p50-ms"])
				p99 = append(p99, rep["pause-p99-ms"])
				most = append(most, rep["pause-max-ms"])
				b.StartTimer()
			}
			b.ReportMetric(median(total), "total-ms")
			b.ReportMetric(median(p50), "pause-p50-ms")
			b.ReportMetric(median(p99), "pause-p99-ms")
			b.ReportMetric(median(most), "pause-max-ms")
			b.ReportMetric(float64(actors)/median(total)*1000, "actors/s")
		})
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
