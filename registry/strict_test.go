package registry_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
	"github.com/vmihailenco/msgpack/v5"
)

// narrowState has integer fields narrower than what MessagePack can carry,
// in the places a state keeps them.
type narrowState struct {
	Small  uint8
	Signed int8
	Count  uint32
	Wide   int64
	Named  int16 `msgpack:"renamed"`
	Levels []uint16
	ByCode map[uint8]string
	Inner  *narrowInner
	narrowEmbedded
}

type narrowInner struct{ Port uint16 }

type narrowEmbedded struct{ Depth int8 }

func (*narrowState) Receive(actor.Context) {}

func narrowCatalog(t *testing.T) *registry.Catalog {
	t.Helper()
	c := registry.New()
	if err := registry.Register(c, "narrow", 1, func() *narrowState { return &narrowState{} }); err != nil {
		t.Fatal(err)
	}
	return c
}

func encodeMap(t *testing.T, m map[string]any) []byte {
	t.Helper()
	data, err := msgpack.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestMsgpackRefusesIntegersThatDoNotFit: msgpack would store 300 in a
// uint8 as 44, silently; the codec refuses the state instead, naming the
// field and its type.
func TestMsgpackRefusesIntegersThatDoNotFit(t *testing.T) {
	c := narrowCatalog(t)
	cases := []struct {
		name  string
		state map[string]any
		says  []string
	}{
		{"uint8 above its range", map[string]any{"Small": 300}, []string{"Small", "uint8", "300"}},
		{"int8 below its range", map[string]any{"Signed": -200}, []string{"Signed", "int8", "-200"}},
		{"negative into unsigned", map[string]any{"Count": -1}, []string{"Count", "uint32", "-1"}},
		{"uint64 above int64", map[string]any{"Wide": uint64(1) << 63}, []string{"Wide", "int64"}},
		{"a renamed field", map[string]any{"renamed": 40000}, []string{"renamed", "int16"}},
		{"a slice element", map[string]any{"Levels": []any{1, 70000}}, []string{"Levels[1]", "uint16"}},
		{"a map key", map[string]any{"ByCode": map[int]string{300: "x"}}, []string{"ByCode", "uint8", "300"}},
		{"a nested struct", map[string]any{"Inner": map[string]any{"Port": 1 << 20}}, []string{"Inner.Port", "uint16"}},
		{"an embedded struct", map[string]any{"Depth": 128}, []string{"Depth", "int8"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			state, err := c.Decode("narrow", 1, encodeMap(t, tc.state))
			if err == nil {
				t.Fatalf("decoded %+v, want an error", state)
			}
			if !errors.Is(err, registry.ErrCodec) {
				t.Errorf("%v does not wrap ErrCodec", err)
			}
			for _, want := range tc.says {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error %q does not say %q", err, want)
				}
			}
		})
	}
}

// TestMsgpackAcceptsTheEdgesOfEachRange: strictness refuses only what does
// not fit; a state from another encoder that uses wider codes still decodes.
func TestMsgpackAcceptsTheEdgesOfEachRange(t *testing.T) {
	c := narrowCatalog(t)
	data := encodeMap(t, map[string]any{
		"Small": uint64(255), "Signed": int64(-128), "Count": uint64(1<<32 - 1), "Wide": int64(-1 << 63),
		"renamed": -32768, "Levels": []any{0, 65535}, "ByCode": map[uint64]string{255: "x"},
		"Inner": map[string]any{"Port": 65535}, "Depth": 127, "Unknown": 1 << 40,
	})
	got, err := c.Decode("narrow", 1, data)
	if err != nil {
		t.Fatalf("a state at the edges of its ranges: %v", err)
	}
	s := got.(*narrowState)
	if s.Small != 255 || s.Signed != -128 || s.Count != 1<<32-1 || s.Wide != -1<<63 || s.Named != -32768 ||
		s.Levels[1] != 65535 || s.ByCode[255] != "x" || s.Inner.Port != 65535 || s.Depth != 127 {
		t.Fatalf("decoded %+v", s)
	}
}

// TestMsgpackRefusesTrailingBytes: a state is one MessagePack value; bytes
// after it mean the input is not what the sender meant to send.
func TestMsgpackRefusesTrailingBytes(t *testing.T) {
	c := narrowCatalog(t)
	data, err := c.Encode("narrow", 1, &narrowState{Small: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, extra := range [][]byte{{0x00}, {0xc0}, data} {
		_, err := c.Decode("narrow", 1, append(append([]byte(nil), data...), extra...))
		if !errors.Is(err, registry.ErrCodec) || !strings.Contains(err.Error(), "trailing") {
			t.Errorf("%d trailing bytes: %v, want ErrCodec saying so", len(extra), err)
		}
	}
}

// TestDecodeRefusesOversizedState: a state beyond MaxStateSize is refused
// before any codec reads it.
func TestDecodeRefusesOversizedState(t *testing.T) {
	c := narrowCatalog(t)
	_, err := c.Decode("narrow", 1, make([]byte, registry.MaxStateSize+1))
	if !errors.Is(err, registry.ErrCodec) || !strings.Contains(err.Error(), "MaxStateSize") {
		t.Fatalf("a state of MaxStateSize+1 bytes: %v, want ErrCodec naming the limit", err)
	}
}

// TestMaxStateSizeIsConfigurable: a catalogue made WithMaxStateSize
// refuses a state over its own limit, naming it and how to raise it.
func TestMaxStateSizeIsConfigurable(t *testing.T) {
	c := registry.New(registry.WithMaxStateSize(64))
	if err := registry.Register(c, "narrow", 1, func() *narrowState { return &narrowState{} }); err != nil {
		t.Fatal(err)
	}
	_, err := c.Decode("narrow", 1, make([]byte, 65))
	if !errors.Is(err, registry.ErrCodec) || !strings.Contains(err.Error(), "limit of 64") || !strings.Contains(err.Error(), "WithMaxStateSize") {
		t.Fatalf("a 65-byte state under a 64-byte limit: %v, want ErrCodec naming the limit and how to raise it", err)
	}
}
