package registry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/proto"
)

// Behaviours used across the tests. Each is a pointer to a struct with a
// Receive method; the struct is also the state.

type counterV1 struct{ Count int }

func (*counterV1) Receive(actor.Context) {}

type counterV2 struct {
	Count int64
	Label string
}

func (*counterV2) Receive(actor.Context) {}

type counterV3 struct {
	Total   int64
	Label   string
	History []int64
}

func (*counterV3) Receive(actor.Context) {}

func newV1() *counterV1 { return &counterV1{} }
func newV2() *counterV2 { return &counterV2{} }
func newV3() *counterV3 { return &counterV3{} }

// protoState is a behaviour whose state is a protobuf message: it embeds
// *update.UpdateResult, whose ProtoReflect method makes it a proto.Message.
type protoState struct{ *update.UpdateResult }

func (*protoState) Receive(actor.Context) {}

// anyState has a field of interface type, which msgpack fills with
// whatever the input holds.
type anyState struct{ Any any }

func (*anyState) Receive(actor.Context) {}

func newProtoState() *protoState { return &protoState{UpdateResult: &update.UpdateResult{}} }

// Messages.
type (
	increment struct{ By int }
	add       struct{ N int64 }
	reset     struct{}
	snapshot  struct{}
)

// jsonCodec is a user codec, to check that WithCodec is honoured.
type jsonCodec struct{}

func (jsonCodec) Name() string                       { return "json" }
func (jsonCodec) Encode(state any) ([]byte, error)   { return json.Marshal(state) }
func (jsonCodec) Decode(data []byte, into any) error { return json.Unmarshal(data, into) }

// failingCodec fails, by error or by panic, in Encode or Decode.
type failingCodec struct {
	encodeErr, decodeErr     error
	encodePanic, decodePanic bool
}

func (failingCodec) Name() string { return "failing" }

func (c failingCodec) Encode(state any) ([]byte, error) {
	if c.encodePanic {
		panic("encode exploded")
	}
	if c.encodeErr != nil {
		return nil, c.encodeErr
	}
	return registry.Msgpack.Encode(state)
}

func (c failingCodec) Decode(data []byte, into any) error {
	if c.decodePanic {
		panic("decode exploded")
	}
	if c.decodeErr != nil {
		return c.decodeErr
	}
	return registry.Msgpack.Decode(data, into)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// counterCatalog registers counter versions 1, 2 and 3 and the migrations
// 1→2 and 2→3.
func counterCatalog(t *testing.T) *registry.Catalog {
	t.Helper()
	c := registry.New()
	must(t, registry.Register(c, "counter", 1, newV1))
	must(t, registry.Register(c, "counter", 2, newV2))
	must(t, registry.Register(c, "counter", 3, newV3))
	must(t, registry.Migrate(c, "counter", 1, 2, func(s *counterV1) (*counterV2, error) {
		return &counterV2{Count: int64(s.Count), Label: "from v1"}, nil
	}))
	must(t, registry.Migrate(c, "counter", 2, 3, func(s *counterV2) (*counterV3, error) {
		return &counterV3{Total: s.Count, Label: s.Label}, nil
	}))
	return c
}

func TestRegisterValidation(t *testing.T) {
	original := func() *counterV1 { return &counterV1{Count: 1} }
	tests := []struct {
		name     string
		register func(c *registry.Catalog) error
		want     []error // any of them
	}{
		{"empty kind", func(c *registry.Catalog) error {
			return registry.Register(c, "", 1, newV1)
		}, []error{registry.ErrInvalid}},
		{"version 0", func(c *registry.Catalog) error {
			return registry.Register(c, "other", 0, newV1)
		}, []error{registry.ErrInvalid}},
		{"nil factory", func(c *registry.Catalog) error {
			return registry.Register[*counterV1](c, "other", 1, nil)
		}, []error{registry.ErrInvalid}},
		{"duplicate version", func(c *registry.Catalog) error {
			return registry.Register(c, "counter", 1, func() *counterV1 { return &counterV1{Count: 99} })
		}, []error{registry.ErrDuplicate}},
		{"duplicate version with another state type", func(c *registry.Catalog) error {
			return registry.Register(c, "counter", 1, newV2)
		}, []error{registry.ErrDuplicate}},
		{"nil accepted message", func(c *registry.Catalog) error {
			return registry.Register(c, "other", 1, newV1, registry.Accepts(&increment{}, nil))
		}, []error{registry.ErrInvalid}},
		{"clone of another state type", func(c *registry.Catalog) error {
			return registry.Register(c, "other", 1, newV1, registry.Clone(func(s *counterV2) *counterV2 { return s }))
		}, []error{registry.ErrTypeMismatch}},
		{"nil clone", func(c *registry.Catalog) error {
			return registry.Register(c, "other", 1, newV1, registry.Clone[*counterV1](nil))
		}, []error{registry.ErrTypeMismatch, registry.ErrInvalid}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := registry.New()
			must(t, registry.Register(c, "counter", 1, original))

			err := tt.register(c)
			if !isAny(err, tt.want...) {
				t.Fatalf("error = %v, want one wrapping %v", err, tt.want)
			}
			// A refused registration changes nothing.
			if got := c.Kinds(); !slices.Equal(got, []string{"counter"}) {
				t.Errorf("Kinds() = %v after a refused registration, want [counter]", got)
			}
			if got := c.Versions("counter"); !slices.Equal(got, []uint32{1}) {
				t.Errorf("Versions(counter) = %v after a refused registration, want [1]", got)
			}
			b, err := c.Instantiate("counter", 1)
			if err != nil {
				t.Fatal(err)
			}
			if s, ok := b.(*counterV1); !ok || s.Count != 1 {
				t.Errorf("Instantiate(counter, 1) = %#v, want the first factory's &counterV1{Count: 1}", b)
			}
		})
	}
}

func isAny(err error, targets ...error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

func TestMigrateValidation(t *testing.T) {
	tests := []struct {
		name    string
		migrate func(c *registry.Catalog) error
		want    error
	}{
		{"unknown kind", func(c *registry.Catalog) error {
			return registry.Migrate(c, "nope", 1, 2, func(*counterV1) (*counterV2, error) { return nil, nil })
		}, registry.ErrUnknownKind},
		{"unknown from version", func(c *registry.Catalog) error {
			return registry.Migrate(c, "counter", 7, 2, func(*counterV1) (*counterV2, error) { return nil, nil })
		}, registry.ErrUnknownVersion},
		{"unknown to version", func(c *registry.Catalog) error {
			return registry.Migrate(c, "counter", 1, 7, func(*counterV1) (*counterV2, error) { return nil, nil })
		}, registry.ErrUnknownVersion},
		{"from type is not the from version's state", func(c *registry.Catalog) error {
			return registry.Migrate(c, "counter", 2, 1, func(*counterV1) (*counterV1, error) { return nil, nil })
		}, registry.ErrTypeMismatch},
		{"to type is not the to version's state", func(c *registry.Catalog) error {
			return registry.Migrate(c, "counter", 2, 1, func(*counterV2) (*counterV2, error) { return nil, nil })
		}, registry.ErrTypeMismatch},
		{"duplicate", func(c *registry.Catalog) error {
			return registry.Migrate(c, "counter", 1, 2, func(*counterV1) (*counterV2, error) { return &counterV2{Label: "dup"}, nil })
		}, registry.ErrDuplicate},
		{"from equals to", func(c *registry.Catalog) error {
			return registry.Migrate(c, "counter", 1, 1, func(s *counterV1) (*counterV1, error) { return s, nil })
		}, registry.ErrInvalid},
		{"nil function", func(c *registry.Catalog) error {
			return registry.Migrate[*counterV2, *counterV1](c, "counter", 2, 1, nil)
		}, registry.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := counterCatalog(t)
			if err := tt.migrate(c); !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want one wrapping %v", err, tt.want)
			}
			// A refused migration changes nothing: 1→2 is still the
			// original one and there is still no way down.
			p, err := c.Plan("counter", 1, 2)
			if err != nil {
				t.Fatal(err)
			}
			out, err := p.Transfer(&counterV1{Count: 5})
			if err != nil {
				t.Fatal(err)
			}
			if want := (&counterV2{Count: 5, Label: "from v1"}); !reflect.DeepEqual(out, want) {
				t.Errorf("1→2 after a refused migration gives %+v, want %+v", out, want)
			}
			if _, err := c.Plan("counter", 2, 1); !errors.Is(err, registry.ErrNoPath) {
				t.Errorf("Plan(counter, 2, 1) after a refused migration: error = %v, want ErrNoPath", err)
			}
		})
	}
}

func TestAdaptValidation(t *testing.T) {
	toAdd := func(*reset) *add { return &add{N: 1} }
	tests := []struct {
		name  string
		adapt func(c *registry.Catalog) error
		want  error
	}{
		{"nil function", func(c *registry.Catalog) error {
			return registry.Adapt[*reset, *add](c, "counter", 2, nil)
		}, registry.ErrInvalid},
		{"unknown kind", func(c *registry.Catalog) error {
			return registry.Adapt(c, "nope", 2, toAdd)
		}, registry.ErrUnknownKind},
		{"unknown version", func(c *registry.Catalog) error {
			return registry.Adapt(c, "counter", 9, toAdd)
		}, registry.ErrUnknownVersion},
		{"duplicate", func(c *registry.Catalog) error {
			return registry.Adapt(c, "counter", 2, func(*reset) *add { return &add{N: 99} })
		}, registry.ErrDuplicate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := counterCatalog(t)
			must(t, registry.Adapt(c, "counter", 2, toAdd))
			if err := tt.adapt(c); !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want one wrapping %v", err, tt.want)
			}
			got, ok := c.Adapters("counter", 2).Adapt(&reset{})
			if want := (&add{N: 1}); !ok || !reflect.DeepEqual(got, want) {
				t.Errorf("after a refused Adapt, *reset adapts to %#v, %v; want the first adapter's %#v, true", got, ok, want)
			}
		})
	}
}

func TestInstantiateReturnsFreshValues(t *testing.T) {
	c := counterCatalog(t)
	a, err := c.Instantiate("counter", 2)
	must(t, err)
	b, err := c.Instantiate("counter", 2)
	must(t, err)
	if _, ok := a.(*counterV2); !ok {
		t.Fatalf("Instantiate(counter, 2) = %T, want *counterV2", a)
	}
	if a == b {
		t.Error("two Instantiate calls returned the same value; each must call the factory")
	}
}

func TestUnknownKindAndVersion(t *testing.T) {
	c := counterCatalog(t)
	tests := []struct {
		name    string
		kind    string
		version uint32
		want    error
	}{
		{"unknown kind", "nope", 1, registry.ErrUnknownKind},
		{"unknown version", "counter", 9, registry.ErrUnknownVersion},
		{"version 0", "counter", 0, registry.ErrUnknownVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := map[string]func() error{
				"Instantiate": func() error { _, err := c.Instantiate(tt.kind, tt.version); return err },
				"Encode":      func() error { _, err := c.Encode(tt.kind, tt.version, &counterV1{}); return err },
				"Decode":      func() error { _, err := c.Decode(tt.kind, tt.version, []byte{0x80}); return err },
				"Plan from":   func() error { _, err := c.Plan(tt.kind, tt.version, 1); return err },
				"Plan to":     func() error { _, err := c.Plan(tt.kind, 1, tt.version); return err },
			}
			for name, call := range calls {
				if err := call(); !errors.Is(err, tt.want) {
					t.Errorf("%s: error = %v, want one wrapping %v", name, err, tt.want)
				}
			}
			if got := c.Adapters(tt.kind, tt.version); got != nil {
				t.Errorf("Adapters = %v, want nil", got)
			}
		})
	}
}

func TestKindsAndVersionsAreSorted(t *testing.T) {
	c := registry.New()
	for _, v := range []uint32{3, 1, 10, 2} {
		must(t, registry.Register(c, "zeta", v, newV1))
	}
	must(t, registry.Register(c, "alpha", 1, newV1))
	if got, want := c.Kinds(), []string{"alpha", "zeta"}; !slices.Equal(got, want) {
		t.Errorf("Kinds() = %v, want %v", got, want)
	}
	if got, want := c.Versions("zeta"), []uint32{1, 2, 3, 10}; !slices.Equal(got, want) {
		t.Errorf("Versions(zeta) = %v, want %v", got, want)
	}
	if got := c.Versions("nope"); got != nil {
		t.Errorf("Versions(nope) = %v, want nil", got)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	c := counterCatalog(t)
	states := []*counterV3{
		{},
		{Total: -7, Label: "x"},
		{Total: 1 << 40, Label: "ünïcode", History: []int64{1, -2, 3}},
		{History: []int64{}},
	}
	for _, s := range states {
		data, err := c.Encode("counter", 3, s)
		must(t, err)
		got, err := c.Decode("counter", 3, data)
		must(t, err)
		if !reflect.DeepEqual(got, s) {
			t.Errorf("Decode(Encode(%+v)) = %+v", s, got)
		}
	}
}

func TestEncodeRefusesAnotherStateType(t *testing.T) {
	c := counterCatalog(t)
	for _, s := range []actor.Actor{&counterV2{}, nil, &protoState{}} {
		if _, err := c.Encode("counter", 1, s); !errors.Is(err, registry.ErrTypeMismatch) {
			t.Errorf("Encode(counter, 1, %T): error = %v, want ErrTypeMismatch", s, err)
		}
	}
}

func TestDecodeMalformedInputIsErrCodec(t *testing.T) {
	c := counterCatalog(t)
	valid, err := c.Encode("counter", 3, &counterV3{Total: 3, Label: "abc", History: []int64{1, 2}})
	must(t, err)
	inputs := map[string][]byte{
		"empty":          nil,
		"truncated":      valid[:len(valid)-2],
		"wrong type":     {0xa3, 'a', 'b', 'c'}, // a string, not a map
		"reserved byte":  {0xc1},
		"bad field type": {0x81, 0xa5, 'T', 'o', 't', 'a', 'l', 0xa1, 'x'},
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			got, err := c.Decode("counter", 3, in)
			if !errors.Is(err, registry.ErrCodec) || got != nil {
				t.Fatalf("Decode(% x) = %v, %v; want nil, ErrCodec", in, got, err)
			}
		})
	}
}

// TestDecodeAllocationIsBoundedByInput decodes inputs of a few bytes whose
// array header claims millions of elements. Decode must fail (the elements
// are not there) without allocating in proportion to the claim: with a claim
// of 2^32-1 elements the allocation would bring the process down, which
// recover cannot catch.
func TestDecodeAllocationIsBoundedByInput(t *testing.T) {
	c := registry.New()
	must(t, registry.Register(c, "fuzz", 1, newFuzzState))
	must(t, registry.Register(c, "any", 1, func() *anyState { return &anyState{} }))
	// Each input is a map of one field whose value header claims 0x007fffff
	// (8,388,607) elements or bytes; 0xffffffff would be as short.
	claims := []struct {
		name, kind string
		input      []byte
	}{
		{"[]int64 field", "fuzz", []byte{0x81, 0xa5, 'I', 't', 'e', 'm', 's', 0xdd, 0x00, 0x7f, 0xff, 0xff}},
		{"[]byte field", "fuzz", []byte{0x81, 0xa4, 'B', 'l', 'o', 'b', 0xc6, 0x00, 0x7f, 0xff, 0xff}},
		{"any field", "any", []byte{0x81, 0xa3, 'A', 'n', 'y', 0xdd, 0x00, 0x7f, 0xff, 0xff}},
	}
	for _, tt := range claims {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.input
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := c.Decode(tt.kind, 1, in)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, registry.ErrCodec) {
				t.Errorf("Decode(% x): error = %v, want ErrCodec", in, err)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
				t.Errorf("Decode of a %d-byte input allocated %d MB; a length header must not make the decoder allocate more than the input can hold", len(in), got>>20)
			}
		})
	}
}

// TestDecodeHostileInputDoesNotCrash decodes, in a child process, inputs
// that a decoder without limits answers with a fatal runtime error, which
// recover cannot catch: a length header claiming 2^32-1 elements (the
// allocation fails) and arrays nested a million deep in a field of interface
// type (the stack overflows; the default 1 GB stack limit is reached at about
// 5 million levels, the child lowers it to 64 MB to stay light). Decode must
// return ErrCodec instead.
func TestDecodeHostileInputDoesNotCrash(t *testing.T) {
	inputs := map[string]struct {
		kind  string
		input []byte
	}{
		"huge length header": {"fuzz", []byte{0x81, 0xa5, 'I', 't', 'e', 'm', 's', 0xdd, 0xff, 0xff, 0xff, 0xff}},
		"deep nesting":       {"any", append([]byte{0x81, 0xa3, 'A', 'n', 'y'}, bytes.Repeat([]byte{0x91}, 1_000_000)...)},
	}
	if name := os.Getenv("REGISTRY_HOSTILE_INPUT"); name != "" {
		// The child: decode one input and report.
		debug.SetMaxStack(64 << 20)
		c := registry.New()
		must(t, registry.Register(c, "fuzz", 1, newFuzzState))
		must(t, registry.Register(c, "any", 1, func() *anyState { return &anyState{} }))
		in := inputs[name]
		if _, err := c.Decode(in.kind, 1, in.input); !errors.Is(err, registry.ErrCodec) {
			t.Fatalf("Decode: error = %v, want ErrCodec", err)
		}
		return
	}
	for name := range inputs {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestDecodeHostileInputDoesNotCrash$", "-test.count=1")
			cmd.Env = append(os.Environ(), "REGISTRY_HOSTILE_INPUT="+name)
			out, err := cmd.CombinedOutput()
			if err != nil {
				first, _, _ := strings.Cut(string(out), "\n")
				t.Errorf("decoding the input in a child process: %v (%s)", err, first)
			}
		})
	}
}

func TestCodecChoice(t *testing.T) {
	pb := &protoState{UpdateResult: &update.UpdateResult{UpdateId: "u1", Kind: "pb", FromVersion: 1, ToVersion: 2, HeldMessages: 3}}
	tests := []struct {
		name     string
		register func(c *registry.Catalog) error
		state    actor.Actor
		want     registry.Codec
	}{
		{"msgpack by default", func(c *registry.Catalog) error {
			return registry.Register(c, "k", 1, newV2)
		}, &counterV2{Count: 4, Label: "four"}, registry.Msgpack},
		{"protobuf by default for a proto.Message state", func(c *registry.Catalog) error {
			return registry.Register(c, "k", 1, newProtoState)
		}, pb, registry.Protobuf},
		{"WithCodec overrides the protobuf default", func(c *registry.Catalog) error {
			return registry.Register(c, "k", 1, newProtoState, registry.WithCodec(jsonCodec{}))
		}, pb, jsonCodec{}},
		{"WithCodec overrides the msgpack default", func(c *registry.Catalog) error {
			return registry.Register(c, "k", 1, newV2, registry.WithCodec(jsonCodec{}))
		}, &counterV2{Count: 4, Label: "four"}, jsonCodec{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := registry.New()
			must(t, tt.register(c))
			got, err := c.Encode("k", 1, tt.state)
			must(t, err)
			want, err := tt.want.Encode(tt.state)
			must(t, err)
			if !slices.Equal(got, want) {
				t.Errorf("Encode = % x, want %s's % x", got, tt.want.Name(), want)
			}
			back, err := c.Decode("k", 1, got)
			must(t, err)
			if !statesEqual(back, tt.state) {
				t.Errorf("Decode(Encode(%v)) = %v", tt.state, back)
			}
		})
	}
}

// statesEqual compares states, protobuf ones with proto.Equal.
func statesEqual(a, b actor.Actor) bool {
	if pa, ok := a.(*protoState); ok {
		pb, ok := b.(*protoState)
		return ok && proto.Equal(pa.UpdateResult, pb.UpdateResult)
	}
	return reflect.DeepEqual(a, b)
}

func TestProtobufCodec(t *testing.T) {
	if got := registry.Protobuf.Name(); got != "protobuf" {
		t.Errorf("Protobuf.Name() = %q", got)
	}
	if got := registry.Msgpack.Name(); got != "msgpack" {
		t.Errorf("Msgpack.Name() = %q", got)
	}
	in := &update.UpdateResult{
		UpdateId: "u-7", Outcome: update.Outcome_OUTCOME_ABORTED, Kind: "counter", Actor: "a/1",
		FromVersion: 1, ToVersion: 2, Reason: "invariant", HeldMessages: 12, TotalNs: 12345,
	}
	data, err := registry.Protobuf.Encode(in)
	must(t, err)
	out := &update.UpdateResult{}
	must(t, registry.Protobuf.Decode(data, out))
	if !proto.Equal(in, out) {
		t.Errorf("round trip = %v, want %v", out, in)
	}
	// Decode replaces, it does not merge.
	stale := &update.UpdateResult{Reason: "stale", Phase: update.Phase_PHASE_PREPARATION}
	must(t, registry.Protobuf.Decode(data, stale))
	if !proto.Equal(in, stale) {
		t.Errorf("decoding into a used message = %v, want %v", stale, in)
	}
	if _, err := registry.Protobuf.Encode(&counterV1{}); err == nil {
		t.Error("Protobuf.Encode of a non-proto state succeeded")
	}
	if err := registry.Protobuf.Decode(data, &counterV1{}); err == nil {
		t.Error("Protobuf.Decode into a non-proto state succeeded")
	}
}

func TestCodecFailureIsErrCodec(t *testing.T) {
	boom := errors.New("codec says no")
	tests := []struct {
		name  string
		codec failingCodec
	}{
		{"encode error", failingCodec{encodeErr: boom}},
		{"encode panic", failingCodec{encodePanic: true}},
		{"decode error", failingCodec{decodeErr: boom}},
		{"decode panic", failingCodec{decodePanic: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := registry.New()
			must(t, registry.Register(c, "k", 1, newV1, registry.WithCodec(tt.codec)))
			data, err := c.Encode("k", 1, &counterV1{Count: 1})
			if err == nil {
				_, err = c.Decode("k", 1, data)
			}
			if !errors.Is(err, registry.ErrCodec) {
				t.Fatalf("error = %v, want ErrCodec", err)
			}
			if !strings.Contains(err.Error(), "failing") {
				t.Errorf("error %q does not name the codec", err)
			}
		})
	}
}
