package boltstore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/persist/boltstore"
	"github.com/molt-go/molt/persist/storetest"
)

// benchState is the state size of the benchmarks' snapshots.
const benchState = 1 << 10

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkSave measures durable Saves (fsync on) of 1 KiB states: one
// caller at a time, and many at once (one name each, as actors do), whose
// Saves share commits.
func BenchmarkSave(b *testing.B) {
	b.Run("sequential", func(b *testing.B) {
		s, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		snaps := make([]*envelope.Envelope, 64)
		for i := range snaps {
			snaps[i] = storetest.Snapshot("actor", uint64(i), benchState)
		}
		ctx := context.Background()
		b.SetBytes(benchState)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			e := snaps[i%len(snaps)]
			e.Sequence = uint64(i)
			if err := s.Save(ctx, "actor", e); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b)
	})
	b.Run("parallel", func(b *testing.B) {
		s, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		var ids atomic.Int64
		b.SetParallelism(32) // 32 × GOMAXPROCS callers
		b.SetBytes(benchState)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			name := fmt.Sprint("actor-", ids.Add(1))
			e := storetest.Snapshot(name, 0, benchState)
			ctx := context.Background()
			for seq := uint64(1); pb.Next(); seq++ {
				e.Sequence = seq
				if err := s.Save(ctx, name, e); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportRate(b)
	})
}

// BenchmarkLoad measures Loads of 1 KiB states among 1,000 names, one
// caller at a time and from every core.
func BenchmarkLoad(b *testing.B) {
	s, err := boltstore.Open(filepath.Join(b.TempDir(), "bench.db"), boltstore.NoSync())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const names = 1000
	ctx := context.Background()
	for i := range names {
		name := fmt.Sprint("actor-", i)
		if err := s.Save(ctx, name, storetest.Snapshot(name, 1, benchState)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("sequential", func(b *testing.B) {
		b.SetBytes(benchState)
		for i := 0; i < b.N; i++ {
			if _, err := s.Load(ctx, fmt.Sprint("actor-", i%names)); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b)
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetBytes(benchState)
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if _, err := s.Load(ctx, fmt.Sprint("actor-", i%names)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportRate(b)
	})
}
