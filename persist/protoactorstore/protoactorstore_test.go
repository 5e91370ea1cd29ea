package protoactorstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/asynkron/protoactor-go/persistence"
	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/persist"
	"github.com/molt-go/molt/persist/protoactorstore"
	"github.com/molt-go/molt/persist/storetest"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// provider is the persistence.Provider of an in-memory provider (which
// is a ProviderState, not a Provider).
type provider struct{ state persistence.ProviderState }

func (p provider) GetState() persistence.ProviderState { return p.state }

func inMemory() provider { return provider{persistence.NewInMemoryProvider(100)} }

func TestInMemoryProvider(t *testing.T) {
	storetest.Run(t, func(*testing.T) persist.Store { return protoactorstore.New(inMemory()) })
}

// anyState is a provider state that keeps each snapshot as an anypb.Any and
// hands back another message type, as providers that serialize do.
type anyState struct {
	persistence.ProviderState
	wrap func(proto.Message) proto.Message
}

func (a anyState) PersistSnapshot(name string, i int, m proto.Message) {
	a.ProviderState.PersistSnapshot(name, i, a.wrap(m))
}

// TestAnyProvider runs the suite against a provider that hands back an
// anypb.Any holding the envelope's bytes rather than the envelope.
func TestAnyProvider(t *testing.T) {
	storetest.Run(t, func(t *testing.T) persist.Store {
		return protoactorstore.New(provider{anyState{persistence.NewInMemoryProvider(100), func(m proto.Message) proto.Message {
			a, err := anypb.New(m)
			if err != nil {
				t.Error(err)
			}
			// The Any's value bytes, as an unknown-field message: the wire
			// form of the envelope, in a type that is not one.
			raw := &emptypb.Empty{}
			raw.ProtoReflect().SetUnknown(a.GetValue())
			return raw
		}}})
	})
}

// TestDamaged edits the snapshot in the provider: the damaged bytes are
// stored as an unknown-field message whose wire form they are.
func TestDamaged(t *testing.T) {
	states := map[persist.Store]persistence.ProviderState{}
	storetest.RunDamaged(t, func(*testing.T) persist.Store {
		p := inMemory()
		s := protoactorstore.New(p)
		states[s] = p.state
		return s
	}, func(t *testing.T, s persist.Store, name string, edit func([]byte) []byte) persist.Store {
		state := states[s]
		snap, i, ok := state.GetSnapshot(name)
		if !ok {
			t.Fatal("no snapshot to damage")
		}
		data, err := proto.Marshal(snap.(proto.Message))
		if err != nil {
			t.Fatal(err)
		}
		raw := &emptypb.Empty{}
		raw.ProtoReflect().SetUnknown(edit(data))
		state.PersistSnapshot(name, i, raw)
		return s
	})
}

// TestForeignSnapshot checks what Load does with a provider's snapshot
// that is no envelope: another message, or a value of another type.
func TestForeignSnapshot(t *testing.T) {
	p := inMemory()
	s := protoactorstore.New(p)
	defer s.Close()
	ctx := context.Background()
	p.state.PersistSnapshot("any", 1, &anypb.Any{TypeUrl: "example.com/x", Value: []byte("x")})
	if _, err := s.Load(ctx, "any"); !errors.Is(err, envelope.ErrMalformed) {
		t.Errorf("Load of an anypb.Any that holds no envelope: %v, want ErrMalformed", err)
	}
	// A snapshot written by the adapter, handed back as bytes.
	data, err := envelope.Marshal(storetest.Snapshot("bytes", 4, 32))
	if err != nil {
		t.Fatal(err)
	}
	bytesState := bytesProvider{p.state, data}
	bs := protoactorstore.New(provider{bytesState})
	defer bs.Close()
	if e, err := bs.Load(ctx, "bytes"); err != nil || e.GetSequence() != 4 || storetest.CheckSnapshot(e, "bytes") != nil {
		t.Errorf("Load of a snapshot handed back as bytes: %v, %v", e, err)
	}
	if err := bs.Save(ctx, "bytes", storetest.Snapshot("bytes", 3, 32)); !errors.Is(err, persist.ErrStale) {
		t.Errorf("Save under a snapshot handed back as bytes: %v, want ErrStale", err)
	}
	wrong := bytesProvider{p.state, 42}
	ws := protoactorstore.New(provider{wrong})
	defer ws.Close()
	if _, err := ws.Load(ctx, "x"); !errors.Is(err, envelope.ErrMalformed) {
		t.Errorf("Load of an int snapshot: %v, want ErrMalformed", err)
	}
}

// bytesProvider hands back a fixed value as every snapshot.
type bytesProvider struct {
	persistence.ProviderState
	value any
}

func (b bytesProvider) GetSnapshot(string) (any, int, bool) { return b.value, 1, true }

// TestIndex checks that the snapshot index the provider sees is the
// envelope's sequence.
func TestIndex(t *testing.T) {
	p := inMemory()
	s := protoactorstore.New(p)
	defer s.Close()
	if err := s.Save(context.Background(), "a", storetest.Snapshot("a", 42, 8)); err != nil {
		t.Fatal(err)
	}
	if _, i, _ := p.state.GetSnapshot("a"); i != 42 {
		t.Errorf("snapshot index %d, want 42", i)
	}
	if err := s.Save(context.Background(), "b", storetest.Snapshot("b", 1<<64-1, 8)); err != nil {
		t.Fatal(err)
	}
	if _, i, _ := p.state.GetSnapshot("b"); i <= 0 {
		t.Errorf("snapshot index %d for the largest sequence, want it capped, positive", i)
	}
}
