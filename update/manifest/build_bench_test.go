package manifest_test

import (
	"fmt"
	"testing"

	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update/manifest"
)

// The update manager validates and builds every package it runs, so
// planning is on the path of every update: these benchmarks keep its cost
// in view for the common shapes of package.

// groupPackage updates n named actors of kind "k" to version 2, all in one
// all-or-nothing group: the package of a group update.
func groupPackage(n int) *manifest.Package {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("k-%05d", i)
	}
	return &manifest.Package{
		ID:      "group",
		Updates: []manifest.KindUpdate{{Kind: "k", From: []uint32{1}, To: 2, Targets: manifest.Targets{Actors: names}}},
		Groups:  []manifest.Group{{Name: "g", Members: names}},
	}
}

// fleetPackage updates every live actor of kind "k" to version 2, rolling.
func fleetPackage() *manifest.Package {
	return &manifest.Package{
		ID:      "fleet",
		Updates: []manifest.KindUpdate{all("k")},
		Rollout: manifest.Rollout{Strategy: "rolling", Canaries: 3, BatchSize: 100},
	}
}

// liveDirectory records n live actors of kind "k" at version 1, named as
// groupPackage names them; no actor runs: Build only reads the directory.
func liveDirectory(n int) *registry.Directory {
	dir, w := newDirectory()
	for i := range n {
		w.Add(pid(fmt.Sprintf("k-%05d", i)), "k", 1, nil)
	}
	return dir
}

func BenchmarkValidate(b *testing.B) {
	for _, n := range []int{16, 256} {
		b.Run(fmt.Sprintf("group-%d", n), func(b *testing.B) {
			p := groupPackage(n)
			b.ReportAllocs()
			for b.Loop() {
				if err := manifest.Validate(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBuild(b *testing.B) {
	cat := plainCatalog(b, "k")
	run := func(b *testing.B, p *manifest.Package, dir *registry.Directory, actors int) {
		b.ReportAllocs()
		for b.Loop() {
			plan, err := manifest.Build(p, cat, dir)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, n := plan.Counts(); n != actors {
				b.Fatalf("%d actors in the plan, want %d", n, actors)
			}
		}
	}
	for _, n := range []int{16, 256} {
		b.Run(fmt.Sprintf("group-%d", n), func(b *testing.B) {
			run(b, groupPackage(n), liveDirectory(n), n)
		})
	}
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("fleet-%d", n), func(b *testing.B) {
			run(b, fleetPackage(), liveDirectory(n), n)
		})
	}
}
