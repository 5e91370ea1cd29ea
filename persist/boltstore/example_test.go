package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/persist/boltstore"
)

func Example() {
	dir, err := os.MkdirTemp("", "boltstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "snapshots.db")

	store, err := boltstore.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	// Usually made by registry.Catalog.Seal from a live state.
	snap := envelope.New("counter", 1, "msgpack", []byte{0x81, 0xa1, 'N', 0x2a})
	snap.Name, snap.Sequence = "counter-1", 7
	if err := store.Save(ctx, "counter-1", snap); err != nil {
		log.Fatal(err)
	}
	store.Close()

	// Another process, or this one later, opens the same file.
	store, err = boltstore.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	got, err := store.Load(ctx, "counter-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.GetKind(), got.GetVersion(), got.GetSequence())
	// Output: counter 1 7
}

// A second Open of a file in use fails once its timeout passes, rather than
// waiting for ever.
func ExampleOpen_locked() {
	dir, err := os.MkdirTemp("", "boltstore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "snapshots.db")

	first, err := boltstore.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer first.Close()
	_, err = boltstore.Open(path, boltstore.WithOpenTimeout(50*time.Millisecond))
	fmt.Println(errors.Is(err, boltstore.ErrLocked))
	// Output: true
}
