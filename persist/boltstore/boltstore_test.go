package boltstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/molt-go/molt/persist"
	"github.com/molt-go/molt/persist/boltstore"
	"github.com/molt-go/molt/persist/storetest"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t *testing.T, path string, opts ...boltstore.Option) *boltstore.Store {
	t.Helper()
	s, err := boltstore.Open(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStore runs the conformance suite with fsync on, as in production.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) persist.Store {
		return open(t, filepath.Join(t.TempDir(), "snapshots.db"))
	})
}

func TestDamaged(t *testing.T) {
	storetest.RunDamaged(t, func(t *testing.T) persist.Store {
		return open(t, filepath.Join(t.TempDir(), "snapshots.db"), boltstore.NoSync())
	}, func(t *testing.T, s persist.Store, name string, edit func([]byte) []byte) persist.Store {
		path := s.(*boltstore.Store).Path()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("molt.snapshots.v1"))
			return b.Put([]byte(name), edit(b.Get([]byte(name))))
		})
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		return open(t, path, boltstore.NoSync())
	})
}

// TestReopen checks that snapshots, sequences and deletions outlive Close.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "snapshots.db")
	s := open(t, path)
	for _, n := range []string{"a", "b", "c"} {
		if err := s.Save(ctx, n, storetest.Snapshot(n, 5, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path)
	defer s.Close()
	for _, n := range []string{"a", "b"} {
		e, err := s.Load(ctx, n)
		if err != nil || e.GetSequence() != 5 || storetest.CheckSnapshot(e, n) != nil {
			t.Errorf("Load %q after reopening: %v, %v", n, e, err)
		}
	}
	if _, err := s.Load(ctx, "c"); !errors.Is(err, persist.ErrNotFound) {
		t.Errorf("Load of a deleted name after reopening: %v", err)
	}
	if err := s.Save(ctx, "a", storetest.Snapshot("a", 4, 100)); !errors.Is(err, persist.ErrStale) {
		t.Errorf("Save of an older sequence after reopening: %v, want ErrStale", err)
	}
}

// TestLocked checks that a second Open of a file in use fails within its
// timeout, with an error that says why, and succeeds once the file is
// closed. (bbolt's lock is flock(2), which a second descriptor of the same
// process contends for as another process would; TestKill checks it
// against a real process too.)
func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snapshots.db")
	s := open(t, path)
	start := time.Now()
	_, err := boltstore.Open(path, boltstore.WithOpenTimeout(100*time.Millisecond))
	if !errors.Is(err, boltstore.ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("second Open took %v with a timeout of 100ms", d)
	}
	t.Log(err)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path, boltstore.WithOpenTimeout(100*time.Millisecond))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNotABoltFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "not.db")
	if err := os.WriteFile(path, make([]byte, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := boltstore.Open(path); err == nil {
		s.Close()
		t.Fatal("Open of a file of zeros succeeded")
	} else {
		t.Log(err)
	}
}

// TestCanceledInBatch checks that a Save whose context ends while it waits
// for its batch writes nothing.
func TestCanceledInBatch(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "snapshots.db"), boltstore.WithBatchDelay(200*time.Millisecond))
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := s.Save(ctx, "a", storetest.Snapshot("a", 1, 10))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Save whose context expired in its batch: %v", err)
	}
	if _, err := s.Load(context.Background(), "a"); !errors.Is(err, persist.ErrNotFound) {
		t.Errorf("Load after a canceled Save: %v, want ErrNotFound", err)
	}
}

// TestCloseDuringSaves checks that Saves racing with Close either succeed
// or return ErrClosed.
func TestCloseDuringSaves(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "snapshots.db"), boltstore.NoSync())
	errs := make(chan error, 8)
	saved := make(chan struct{}, 8)
	for i := range 8 {
		go func() {
			var err error
			for seq := uint64(1); err == nil; seq++ {
				err = s.Save(context.Background(), "n", storetest.Snapshot("n", seq*8+uint64(i), 64))
				if errors.Is(err, persist.ErrStale) {
					err = nil
				}
				if err == nil && seq == 3 {
					saved <- struct{}{}
				}
			}
			errs <- err
		}()
	}
	for range 8 { // Close once every writer has saved a few times
		select {
		case <-saved:
		case <-time.After(10 * time.Second):
			t.Fatal("the Saves made no progress within 10s")
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		select {
		case err := <-errs:
			if !errors.Is(err, persist.ErrClosed) {
				t.Errorf("Save racing Close: %v, want ErrClosed", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a Save did not return within 10s of Close")
		}
	}
}
