package etcdstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/internal/leaktest"
	"github.com/molt-go/molt/persist"
	"github.com/molt-go/molt/persist/etcdstore"
	"github.com/molt-go/molt/persist/etcdstore/etcdtest"
	"github.com/molt-go/molt/persist/storetest"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

func TestMain(m *testing.M) { leaktest.VerifyTestMain(m) }

func config(endpoint string) clientv3.Config {
	return clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second}
}

// prefixes gives each store of a test keys of its own on the test's etcd,
// so that every store the suite opens starts empty.
var prefixes atomic.Int64

func open(t *testing.T, endpoint string, opts ...etcdstore.Option) *etcdstore.Store {
	t.Helper()
	opts = append([]etcdstore.Option{etcdstore.WithPrefix(fmt.Sprintf("/molt-test/%d/", prefixes.Add(1)))}, opts...)
	s, err := etcdstore.Open(config(endpoint), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func rawClient(t *testing.T, endpoint string) *clientv3.Client {
	t.Helper()
	cfg := config(endpoint)
	cfg.Logger = zap.NewNop()
	c, err := clientv3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestStore runs the conformance suite against a real etcd.
func TestStore(t *testing.T) {
	e := etcdtest.Start(t)
	storetest.Run(t, func(t *testing.T) persist.Store { return open(t, e.Endpoint) })
}

// TestDamaged writes records that are not whole envelopes straight into
// etcd (as another tool could): Load reports them as envelope errors.
func TestDamaged(t *testing.T) {
	e := etcdtest.Start(t)
	raw := rawClient(t, e.Endpoint)
	storetest.RunDamaged(t, func(t *testing.T) persist.Store { return open(t, e.Endpoint) },
		func(t *testing.T, s persist.Store, name string, edit func([]byte) []byte) persist.Store {
			key := s.(*etcdstore.Store).RecordKey(name)
			ctx := context.Background()
			res, err := raw.Get(ctx, key)
			if err != nil || len(res.Kvs) != 1 {
				t.Fatalf("reading %s: %v, %d records", key, err, len(res.Kvs))
			}
			if _, err := raw.Put(ctx, key, string(edit(res.Kvs[0].Value))); err != nil {
				t.Fatal(err)
			}
			return s
		})
}

// TestSharedAcrossClients: stores on separate etcd clients, as on
// separate cluster members, see each other's snapshots, and their Saves of
// one name with interleaved sequences keep the highest acknowledged one:
// the sequence check and the write are one transaction in etcd, not a
// read then a write in each client.
func TestSharedAcrossClients(t *testing.T) {
	e := etcdtest.Start(t)
	prefix := etcdstore.WithPrefix("/molt-test/shared/")
	stores := make([]*etcdstore.Store, 4)
	for i := range stores {
		s, err := etcdstore.Open(config(e.Endpoint), prefix)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		stores[i] = s
	}
	ctx := context.Background()
	if err := stores[0].Save(ctx, "grain", storetest.Snapshot("grain", 1, 32)); err != nil {
		t.Fatal(err)
	}
	if got, err := stores[1].Load(ctx, "grain"); err != nil || got.GetSequence() != 1 {
		t.Fatalf("another client loads %v, %v; want sequence 1", got.GetSequence(), err)
	}
	var (
		wg      sync.WaitGroup
		maxSeen atomic.Uint64
	)
	const perStore = 60
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Store i writes sequences i+2, i+6, ...: interleaved with the
			// others', so that many arrive after a higher one.
			for k := range perStore {
				seq := uint64(2 + i + k*len(stores))
				err := s.Save(ctx, "grain", storetest.Snapshot("grain", seq, 64))
				switch {
				case err == nil:
					for {
						m := maxSeen.Load()
						if seq <= m || maxSeen.CompareAndSwap(m, seq) {
							break
						}
					}
				case !errors.Is(err, persist.ErrStale):
					t.Errorf("Save of sequence %d: %v", seq, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := stores[3].Load(ctx, "grain")
	if err != nil {
		t.Fatal(err)
	}
	if err := storetest.CheckSnapshot(got, "grain"); err != nil {
		t.Fatal(err)
	}
	if got.GetSequence() != maxSeen.Load() {
		t.Errorf("after concurrent Saves from 4 clients the store holds sequence %d; the highest acknowledged was %d", got.GetSequence(), maxSeen.Load())
	}
}

// TestFenced: a fenced store refuses an equal sequence, so of two writers
// that loaded the same snapshot (two activations of one grain while its
// owner changes) only one writes the next: the other gets ErrStale.
func TestFenced(t *testing.T) {
	e := etcdtest.Start(t)
	prefix := etcdstore.WithPrefix("/molt-test/fenced/")
	a, err := etcdstore.Open(config(e.Endpoint), prefix, etcdstore.Fenced())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := etcdstore.Open(config(e.Endpoint), prefix, etcdstore.Fenced())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if err := a.Save(ctx, "g", storetest.Snapshot("g", 0, 16)); err != nil {
		t.Fatalf("first Save, sequence 0: %v", err)
	}
	if err := b.Save(ctx, "g", storetest.Snapshot("g", 0, 16)); !errors.Is(err, persist.ErrStale) {
		t.Fatalf("second Save of sequence 0: %v, want ErrStale", err)
	}
	if err := a.Save(ctx, "g", storetest.Snapshot("g", 5, 16)); err != nil {
		t.Fatal(err)
	}
	// Both load sequence 5 and write 6, at once: one wins.
	var wins, stale atomic.Int32
	for range 20 {
		seq := uint64(6 + wins.Load())
		var wg sync.WaitGroup
		for _, s := range []*etcdstore.Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				switch err := s.Save(ctx, "g", storetest.Snapshot("g", seq, 16)); {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, persist.ErrStale):
					stale.Add(1)
					if !strings.Contains(err.Error(), fmt.Sprintf("holds sequence %d", seq)) {
						t.Errorf("ErrStale does not name the stored sequence %d: %v", seq, err)
					}
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	if wins.Load() != 20 || stale.Load() != 20 {
		t.Errorf("20 rounds of two writers of the same next sequence: %d Saves won, %d stale; want 20 and 20", wins.Load(), stale.Load())
	}
	if got, err := b.Load(ctx, "g"); err != nil || got.GetSequence() != 25 {
		t.Errorf("Load: sequence %d, %v; want 25", got.GetSequence(), err)
	}
	// An unfenced store on the same keys keeps the interface's rule.
	u, err := etcdstore.Open(config(e.Endpoint), prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if err := u.Save(ctx, "g", storetest.Snapshot("g", 25, 20)); err != nil {
		t.Errorf("unfenced Save of the stored sequence: %v, want it replaced", err)
	}
}

// TestTooLarge: a snapshot etcd would refuse is not sent.
func TestTooLarge(t *testing.T) {
	e := etcdtest.Start(t)
	s := open(t, e.Endpoint, etcdstore.WithMaxRequest(64<<10))
	defer s.Close()
	ctx := context.Background()
	if err := s.Save(ctx, "big", storetest.Snapshot("big", 1, 64<<10)); !errors.Is(err, etcdstore.ErrTooLarge) {
		t.Fatalf("Save of 64 KiB with a 64 KiB request limit: %v, want ErrTooLarge", err)
	}
	if _, err := s.Load(ctx, "big"); !errors.Is(err, persist.ErrNotFound) {
		t.Errorf("Load after a refused Save: %v, want ErrNotFound", err)
	}
	// At etcd's default limit, a snapshot a little over it is refused by
	// the store, one under it is written.
	d := open(t, e.Endpoint)
	defer d.Close()
	if err := d.Save(ctx, "big", storetest.Snapshot("big", 1, etcdstore.DefaultMaxRequest)); !errors.Is(err, etcdstore.ErrTooLarge) {
		t.Errorf("Save of 1.5 MiB: %v, want ErrTooLarge", err)
	}
	if err := d.Save(ctx, "big", storetest.Snapshot("big", 1, etcdstore.DefaultMaxRequest-4096)); err != nil {
		t.Errorf("Save of 1.5 MiB - 4 KiB: %v; etcd refused what the store let through", err)
	}
	// The largest snapshot the store lets through, under the longest
	// name, etcd accepts: the store's estimate of a request is never
	// below etcd's count.
	long := strings.Repeat("n", envelope.MaxNameLength)
	lo, hi := etcdstore.DefaultMaxRequest-8192, etcdstore.DefaultMaxRequest
	for lo+1 < hi { // lo fits the store's limit, hi does not
		mid := (lo + hi) / 2
		if err := d.Save(ctx, long, storetest.Snapshot(long, 1, mid)); errors.Is(err, etcdstore.ErrTooLarge) {
			hi = mid
		} else {
			lo = mid
			if err != nil {
				t.Fatalf("Save of a %d-byte state under a name of %d bytes: %v; etcd refused what the store let through", mid, len(long), err)
			}
		}
	}
	t.Logf("largest state the store sends under a %d-byte name: %d bytes (etcd's limit %d)", len(long), lo, etcdstore.DefaultMaxRequest)
}

// TestUnreachable: with no etcd listening, a call fails within the
// store's timeout rather than waiting for ever.
func TestUnreachable(t *testing.T) {
	s, err := etcdstore.Open(clientv3.Config{Endpoints: []string{"http://127.0.0.1:1"}, DialTimeout: time.Second}, etcdstore.WithTimeout(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.Save(context.Background(), "a", storetest.Snapshot("a", 1, 8))
	if err == nil {
		t.Fatal("Save to an unreachable etcd succeeded")
	}
	// The store's own timeout ended it, and the error says which.
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "WithTimeout") {
		t.Fatalf("Save to an unreachable etcd: %v; want the store's timeout (WithTimeout) named, wrapping context.DeadlineExceeded", err)
	}
}
