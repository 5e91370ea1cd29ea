package persist_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/persist"
)

func ExampleMemory() {
	store := persist.Memory()
	defer store.Close()
	ctx := context.Background()

	snap := envelope.New("counter", 1, "msgpack", []byte{0x81, 0xa1, 'N', 0x05})
	snap.Name, snap.Sequence = "counter-1", 2
	fmt.Println(store.Save(ctx, "counter-1", snap))

	// An older writer cannot overwrite a newer snapshot.
	older := envelope.New("counter", 1, "msgpack", []byte{0x81, 0xa1, 'N', 0x04})
	older.Sequence = 1
	fmt.Println(errors.Is(store.Save(ctx, "counter-1", older), persist.ErrStale))

	got, _ := store.Load(ctx, "counter-1")
	fmt.Println(got.GetKind(), got.GetVersion(), got.GetSequence())

	_, err := store.Load(ctx, "counter-2")
	fmt.Println(errors.Is(err, persist.ErrNotFound))
	// Output:
	// <nil>
	// true
	// counter 1 2
	// true
}
