package main_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/benchmarks/harness"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update/manager"
	"github.com/molt-go/molt/update/manifest"
)

// The update manager's benchmarks: all-or-nothing groups and fleets, run
// as update packages through manager.Run, as an operator would.

type memberV1 struct{ N int }

func (*memberV1) Receive(actor.Context) {}

type memberV2 struct{ N, M int64 }

func (*memberV2) Receive(actor.Context) {}

func managerNode(b *testing.B) (*molt.Node, *manager.Manager) {
	b.Helper()
	cat := registry.New()
	must(b, registry.Register(cat, "member", 1, func() *memberV1 { return &memberV1{} }))
	must(b, registry.Register(cat, "member", 2, func() *memberV2 { return &memberV2{} }))
	must(b, registry.Migrate(cat, "member", 1, 2, func(o *memberV1) (*memberV2, error) { return &memberV2{N: int64(o.N)}, nil }))
	must(b, registry.Migrate(cat, "member", 2, 1, func(o *memberV2) (*memberV1, error) { return &memberV1{N: int(o.N)}, nil }))
	node := molt.NewNode(cat)
	return node, manager.Spawn(node)
}

func spawnMembers(b *testing.B, node *molt.Node, n int) []string {
	b.Helper()
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("m%07d", i)
		_, err := node.Spawn("member", 1, molt.WithName(names[i]))
		must(b, err)
	}
	return names
}

func runPackage(b *testing.B, m *manager.Manager, pkg *manifest.Package) *manager.Event {
	b.Helper()
	done, err := m.Run(context.Background(), pkg, nil)
	must(b, err)
	if done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED {
		b.Fatalf("package %s: %v", pkg.ID, done)
	}
	return done
}

// BenchmarkGroupUpdate updates an all-or-nothing group of 2, 16 and 256
// actors back and forth; one op is one group update, from manager.Run to
// the package's end (planning, staging every member, committing them all).
// Target: a 16-actor group in 100 µs or less.
func BenchmarkGroupUpdate(b *testing.B) {
	for _, size := range []int{2, 16, 256} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			node, m := managerNode(b)
			defer node.Shutdown()
			defer m.Stop()
			names := spawnMembers(b, node, size)
			rec := harness.NewRecorder()
			b.ResetTimer()
			for i := range b.N {
				pkg := &manifest.Package{
					ID:      fmt.Sprintf("group-%d", i),
					Updates: []manifest.KindUpdate{{Kind: "member", To: uint32(2 - i%2), Targets: manifest.Targets{Actors: names}}},
					Groups:  []manifest.Group{{Name: "all", Members: names}},
				}
				start := time.Now()
				runPackage(b, m, pkg)
				rec.Record(time.Since(start))
			}
			b.StopTimer()
			reportLatency(b, "", rec)
		})
	}
}

// BenchmarkFleetUpdate updates a fleet of 100,000 small actors back and
// forth, one package per direction (all-at-once, 1,024 in flight); one op is
// one actor updated. Reported: "updates/s". Target: 250,000 updates/s.
func BenchmarkFleetUpdate(b *testing.B) {
	const fleet = 100_000
	node, m := managerNode(b)
	defer node.Shutdown()
	defer m.Stop()
	spawnMembers(b, node, fleet)
	b.ResetTimer()
	updated := 0
	for i := 0; updated < b.N; i++ {
		pkg := &manifest.Package{
			ID:      fmt.Sprintf("fleet-%d", i),
			Updates: []manifest.KindUpdate{{Kind: "member", To: uint32(2 - i%2), Targets: manifest.Targets{All: true}}},
			Rollout: manifest.Rollout{MaxInFlight: 1024},
		}
		updated += int(runPackage(b, m, pkg).GetUpdated())
	}
	b.ReportMetric(float64(updated)/b.Elapsed().Seconds(), "updates/s")
}
