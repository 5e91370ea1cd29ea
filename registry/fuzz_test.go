package registry_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/proto"
)

// fuzzState has the field shapes a state usually has: integers, strings,
// slices, maps and a nested struct. No floats: NaN would defeat the equality
// check of the round trip.
type fuzzState struct {
	N      int64
	U      uint32
	Small  int8
	Flag   bool
	Name   string
	Items  []int64
	Names  []string
	Blob   []byte
	Tags   map[string]int
	Groups map[string][]int
	Nested *fuzzInner
}

type fuzzInner struct {
	ID    int
	Notes []string
}

func (*fuzzState) Receive(actor.Context) {}

func newFuzzState() *fuzzState { return &fuzzState{} }

// FuzzDecodeMsgpack checks Catalog.Decode with the msgpack codec: any input
// gives a state or ErrCodec, never a panic, and a state it accepts encodes
// and decodes again to an equal state.
func FuzzDecodeMsgpack(f *testing.F) {
	c := registry.New()
	if err := registry.Register(c, "fuzz", 1, newFuzzState); err != nil {
		f.Fatal(err)
	}
	seeds := []*fuzzState{
		{},
		{N: -1, U: 1 << 31, Small: -128, Flag: true, Name: "counter"},
		{Items: []int64{1, -2, 1 << 40}, Names: []string{"a", "", "ü"}, Blob: []byte{0, 1, 2}},
		{Items: []int64{}, Names: []string{}, Blob: []byte{}, Tags: map[string]int{}},
		{Tags: map[string]int{"x": 1, "y": -1}, Groups: map[string][]int{"g": {1, 2}, "h": nil}},
		{Nested: &fuzzInner{ID: 7, Notes: []string{"n"}}},
	}
	for _, s := range seeds {
		data, err := c.Encode("fuzz", 1, s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add([]byte{0xc0})

	f.Fuzz(func(t *testing.T, data []byte) {
		state, err := c.Decode("fuzz", 1, data)
		if err != nil {
			if !errors.Is(err, registry.ErrCodec) {
				t.Fatalf("Decode error %v does not wrap ErrCodec", err)
			}
			if state != nil {
				t.Fatalf("Decode returned %v with error %v", state, err)
			}
			return
		}
		again, err := c.Encode("fuzz", 1, state)
		if err != nil {
			t.Fatalf("a decoded state %+v does not encode: %v", state, err)
		}
		back, err := c.Decode("fuzz", 1, again)
		if err != nil {
			t.Fatalf("the encoding % x of a decoded state does not decode: %v", again, err)
		}
		if !reflect.DeepEqual(state, back) {
			t.Fatalf("round trip changed the state:\n got %+v\nwant %+v", back, state)
		}
	})
}

// FuzzDecodeProtobuf checks the Protobuf codec on update.UpdateResult: any
// input decodes or returns an error, never panics, and a message it accepts
// encodes and decodes again to an equal message.
func FuzzDecodeProtobuf(f *testing.F) {
	seeds := []*update.UpdateResult{
		{},
		{UpdateId: "u-1", Outcome: update.Outcome_OUTCOME_COMMITTED, Kind: "counter", Actor: "nonhost/$1",
			FromVersion: 1, ToVersion: 2, Phase: update.Phase_PHASE_REPLACEMENT, HeldMessages: 3,
			InitializationNs: 10, TotalNs: 1 << 40},
		{Outcome: update.Outcome_OUTCOME_REJECTED, Reason: "no migration path", TotalNs: -1},
	}
	for _, s := range seeds {
		data, err := registry.Protobuf.Encode(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{0xff, 0xff})

	f.Fuzz(func(t *testing.T, data []byte) {
		var m update.UpdateResult
		if err := registry.Protobuf.Decode(data, &m); err != nil {
			return
		}
		again, err := registry.Protobuf.Encode(&m)
		if err != nil {
			t.Fatalf("a decoded message %v does not encode: %v", &m, err)
		}
		var back update.UpdateResult
		if err := registry.Protobuf.Decode(again, &back); err != nil {
			t.Fatalf("the encoding % x of a decoded message does not decode: %v", again, err)
		}
		if !proto.Equal(&m, &back) {
			t.Fatalf("round trip changed the message:\n got %v\nwant %v", &back, &m)
		}
	})
}
