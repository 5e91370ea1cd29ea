package protoactorstore_test

import (
	"context"
	"fmt"
	"log"

	"github.com/asynkron/protoactor-go/persistence"
	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/persist/protoactorstore"
)

// inMemoryProvider makes protoactor's in-memory provider state a
// persistence.Provider, as a setup's own provider already is.
type inMemoryProvider struct{ *persistence.InMemoryProvider }

func (p inMemoryProvider) GetState() persistence.ProviderState { return p.InMemoryProvider }

func Example() {
	provider := inMemoryProvider{persistence.NewInMemoryProvider(100)}
	store := protoactorstore.New(provider)
	defer store.Close()
	ctx := context.Background()

	snap := envelope.New("counter", 1, "msgpack", []byte{0x81, 0xa1, 'N', 0x2a})
	snap.Name, snap.Sequence = "counter-1", 7
	if err := store.Save(ctx, "counter-1", snap); err != nil {
		log.Fatal(err)
	}
	got, err := store.Load(ctx, "counter-1")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(got.GetKind(), got.GetVersion(), got.GetSequence())

	// The provider holds the envelope as its snapshot of the actor name,
	// at the envelope's sequence.
	_, index, _ := provider.GetSnapshot("counter-1")
	fmt.Println(index)
	// Output:
	// counter 1 7
	// 7
}
