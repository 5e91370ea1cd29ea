package etcdstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/molt-go/molt/persist/etcdstore"
	"github.com/molt-go/molt/persist/etcdstore/etcdtest"
	"github.com/molt-go/molt/persist/storetest"
)

// benchState is the state size of the benchmarks' snapshots.
const benchState = 1 << 10

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func benchStore(b *testing.B, endpoint string) *etcdstore.Store {
	b.Helper()
	s, err := etcdstore.Open(config(endpoint), etcdstore.WithPrefix(fmt.Sprintf("/molt-bench/%d/", prefixes.Add(1))))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkSave measures Saves of 1 KiB states to a one-member etcd on
// loopback (each a transaction etcd commits after its fsync): one caller
// at a time, and many at once (one name each, as actors do), whose
// transactions etcd batches into shared commits.
func BenchmarkSave(b *testing.B) {
	e := etcdtest.Start(b)
	ctx := context.Background()
	b.Run("sequential", func(b *testing.B) {
		s := benchStore(b, e.Endpoint)
		snap := storetest.Snapshot("actor", 0, benchState)
		b.SetBytes(benchState)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			snap.Sequence = uint64(i)
			if err := s.Save(ctx, "actor", snap); err != nil {
				b.Fatal(err)
			}
		}
		reportRate(b)
	})
	b.Run("parallel", func(b *testing.B) {
		s := benchStore(b, e.Endpoint)
		var ids atomic.Int64
		b.SetParallelism(32) // 32 × GOMAXPROCS callers
		b.SetBytes(benchState)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			name := fmt.Sprint("actor-", ids.Add(1))
			snap := storetest.Snapshot(name, 0, benchState)
			for seq := uint64(0); pb.Next(); seq++ {
				snap.Sequence = seq
				if err := s.Save(ctx, name, snap); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportRate(b)
	})
}

// BenchmarkLoad measures linearizable Loads of 1 KiB snapshots.
func BenchmarkLoad(b *testing.B) {
	e := etcdtest.Start(b)
	ctx := context.Background()
	s := benchStore(b, e.Endpoint)
	const names = 64
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
		var ids atomic.Int64
		b.SetParallelism(8)
		b.SetBytes(benchState)
		b.RunParallel(func(pb *testing.PB) {
			name := fmt.Sprint("actor-", ids.Add(1)%names)
			for pb.Next() {
				if _, err := s.Load(ctx, name); err != nil {
					b.Error(err)
					return
				}
			}
		})
		reportRate(b)
	})
}
