package main_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/molt-go/molt/internal/proctest"
)

// BenchmarkClusterUpgrade upgrades a three-member cluster (protoactor's
// in-memory test provider, members on loopback in one process) member by
// member: a member of the new binary joins, the grains it now owns are
// handed to it, an old member leaves and hands over every grain it holds
// (cluster.Member.Leave); the last old member gone, every grain runs the
// new version with its state (checked, grain by grain, after the timed
// part). No load runs meanwhile. It reports per upgrade:
//   - "total-ms": from the first new member's start to the last grain at
//     the new version;
//   - "pause-p99-ms" (and p50, max): the time a grain took no call, from
//     the start of its hold on the member it left to its release on the
//     one it joined, over every handover of the upgrade.
//
// One op is one upgrade of a fresh cluster, in a process of its own
// (cluster/internal/upgradebench: several protoactor remotes in one test
// process would race under -race, and protoactor's test provider leaves a
// goroutine per member); starting the cluster and its grains is not timed.
// Under -short it upgrades 300 grains, once whatever -benchtime says, so
// that CI's one short run of the benchmarks stays short.
// Run it with -benchtime 1x and -count 5 for medians:
//
//	go test -run '^$' -bench BenchmarkClusterUpgrade -benchtime 1x -count 5 ./benchmarks/
func BenchmarkClusterUpgrade(b *testing.B) {
	bin := proctest.Build(b, "github.com/molt-go/molt/cluster/internal/upgradebench")
	grains := 30000
	if testing.Short() {
		grains = 300
	}
	b.Run(fmt.Sprintf("grains=%d", grains), func(b *testing.B) {
		var total, p50, p99, most []float64
		for i := range b.N {
			if testing.Short() && i > 0 {
				break // one upgrade is the check that it works; each takes seconds
			}
			b.StopTimer()
			run := proctest.Open(b, 10*time.Second, bin, "-grains", strconv.Itoa(grains))
			rep := proctest.Fields(b, run.Expect("report ", 10*time.Minute))
			if rep["bad"] != 0 || rep["lost"] != 0 {
				b.Fatalf("%v grains with the wrong state, %v lost; stderr:\n%s", rep["bad"], rep["lost"], run.Stderr())
			}
			total = append(total, rep["total-ms"])
			p50 = append(p50, rep["pause-p50-ms"])
			p99 = append(p99, rep["pause-p99-ms"])
			most = append(most, rep["pause-max-ms"])
			b.StartTimer()
		}
		// The upgrade is timed in its process, not by the benchmark's
		// clock: ns/op says the same as total-ms.
		b.ReportMetric(median(total)*1e6, "ns/op")
		b.ReportMetric(median(total), "total-ms")
		b.ReportMetric(median(p50), "pause-p50-ms")
		b.ReportMetric(median(p99), "pause-p99-ms")
		b.ReportMetric(median(most), "pause-max-ms")
	})
}
