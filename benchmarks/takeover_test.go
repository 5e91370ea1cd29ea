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
// Each op also moves the same fleet with takeover/internal/floor, the
// least a takeover costs on protoactor (one message to each actor for its
// state, the batch across, a plain actor spawned from each, one message
// back to each old actor to forward), in the same batches and with the
// same remote settings, and reports its "floor-total-ms" and
// "floor-pause-p99-ms", and molt's over the floor's as "total-vs-floor" and
// "pause-p99-vs-floor": absolute times move with the machine, the ratios
// much less.
//
// One op is one takeover between two fresh processes, then one floor
// between two others; spawning the fleets is not timed. Run it with
// -benchtime 1x and -count 5 for medians:
//
//	go test -run '^$' -bench BenchmarkTakeover -benchtime 1x -count 5 ./benchmarks/
func BenchmarkTakeover(b *testing.B) {
	bin := proctest.Build(b, "github.com/molt-go/molt/takeover/internal/fleet")
	floorBin := proctest.Build(b, "github.com/molt-go/molt/takeover/internal/floor")
	for _, actors := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("actors=%d", actors), func(b *testing.B) {
			if testing.Short() && actors > 1000 {
				b.Skip("-short: the fleets over 1,000 actors take minutes at -benchtime 10x")
			}
			var total, p50, p99, most, ftotal, fp99, rtotal, rp99 []float64
			for range b.N {
				rep := moveFleet(b, bin, actors)
				if rep["moved"] != float64(actors) {
					b.Fatalf("moved %v of %d actors", rep["moved"], actors)
				}
				floor := moveFleet(b, floorBin, actors)
				if floor["moved"] != float64(actors) {
					b.Fatalf("the floor moved %v of %d actors", floor["moved"], actors)
				}
				total = append(total, rep["total-ms"])
				p50 = append(p50, rep["pause-p50-ms"])
				p99 = append(p99, rep["pause-p99-ms"])
				most = append(most, rep["pause-max-ms"])
				ftotal = append(ftotal, floor["total-ms"])
				fp99 = append(fp99, floor["pause-p99-ms"])
				rtotal = append(rtotal, rep["total-ms"]/floor["total-ms"])
				rp99 = append(rp99, rep["pause-p99-ms"]/floor["pause-p99-ms"])
			}
			b.ReportMetric(median(total), "total-ms")
			b.ReportMetric(median(p50), "pause-p50-ms")
			b.ReportMetric(median(p99), "pause-p99-ms")
			b.ReportMetric(median(most), "pause-max-ms")
			b.ReportMetric(float64(actors)/median(total)*1000, "actors/s")
			b.ReportMetric(median(ftotal), "floor-total-ms")
			b.ReportMetric(median(fp99), "floor-pause-p99-ms")
			b.ReportMetric(median(rtotal), "total-vs-floor")
			b.ReportMetric(median(rp99), "pause-p99-vs-floor")
		})
	}
}

// moveFleet starts a source of n actors with bin (the fleet or the floor),
// then a requester that moves them, timed, and returns the requester's
// report.
func moveFleet(b *testing.B, bin string, n int) map[string]float64 {
	b.StopTimer()
	defer b.StartTimer()
	src := proctest.Open(b, 10*time.Second, bin, "-role", "source", "-actors", strconv.Itoa(n))
	addr := strings.Fields(src.Expect("addr ", 5*time.Minute))[1]
	b.StartTimer()
	req := proctest.Open(b, 10*time.Second, bin, "-role", "requester", "-from", addr)
	line := req.Expect("report ", 5*time.Minute)
	b.StopTimer()
	rep := proctest.Fields(b, line)
	// Done with both: gone before the next measurement starts.
	req.Kill()
	src.Kill()
	if rep["moved"] != float64(n) {
		b.Logf("%s moved %v of %d actors; stderr:\n%s", bin, rep["moved"], n, req.Stderr())
	}
	return rep
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
