package manager_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/molt-go/molt/update/manager"
	"github.com/molt-go/molt/update/manifest"
)

// BenchmarkFleetRate updates a fleet back and forth between versions 1 and
// 2 with one package per direction; one op is one actor updated.
func BenchmarkFleetRate(b *testing.B) {
	const n = 100_000
	node, m := setup(b)
	spawnFleet(b, node, n)
	b.ResetTimer()
	updated := 0
	for i := 0; updated < b.N; i++ {
		to := uint32(2 - i%2)
		pkg := &manifest.Package{
			ID:      fmt.Sprintf("fleet-%d", i),
			Updates: []manifest.KindUpdate{{Kind: "acct", To: to, Targets: manifest.Targets{All: true}}},
			Rollout: manifest.Rollout{MaxInFlight: 512},
		}
		start := time.Now()
		done, _ := run(b, m, pkg)
		if done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED {
			b.Fatalf("package: %v", done)
		}
		b.Logf("%d updates in %v: %.0f/s", done.GetUpdated(), time.Since(start), float64(done.GetUpdated())/time.Since(start).Seconds())
		updated += int(done.GetUpdated())
	}
	b.ReportMetric(float64(updated)/b.Elapsed().Seconds(), "updates/s")
}

// BenchmarkGroup16 updates an all-or-nothing group of 16 back and forth;
// one op is one group update, from Run to PACKAGE_DONE.
func BenchmarkGroup16(b *testing.B) {
	node, m := setup(b)
	var names []string
	for i := 0; i < 16; i++ {
		names = append(names, fmt.Sprintf("g%02d", i))
	}
	spawn(b, node, "acct", names...)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pkg := groupPackage(fmt.Sprintf("g-%d", i), names...)
		pkg.Updates[0].From = nil
		pkg.Updates[0].To = uint32(2 - i%2)
		done, _ := run(b, m, pkg)
		if done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED {
			b.Fatalf("package: %v", done)
		}
	}
}
