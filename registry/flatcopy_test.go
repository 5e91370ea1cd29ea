package registry

import (
	"math"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"
)

type flatInner struct {
	X int32
	Y string
}

// flatAll has only carried plain fields: it is assigned whole.
type flatAll struct {
	N  int
	S  string
	F  float64
	G  float32
	B  bool
	U  uint8
	W  uint64
	A  [3]int16
	In flatInner
	Bs [4]byte
}

// flatSome has fields msgpack does not carry, which keep the factory's
// values.
type flatSome struct {
	N      int64
	hidden int
	Skip   string `msgpack:"-"`
	Named  string `msgpack:"nm,omitempty"`
	Zero   int    `msgpack:",omitempty"`
}

func newFlatAll() *flatAll { return &flatAll{N: 99, S: "factory", In: flatInner{X: 5}} }

func newFlatSome() *flatSome {
	return &flatSome{N: 1, hidden: 7, Skip: "factory", Named: "factory", Zero: 3}
}

// TestFlatCopyIsTheMsgpackCopy: for states whose carried fields are plain
// values, the flat copy gives exactly what the msgpack round trip gives,
// factory defaults included, for any value of the state.
func TestFlatCopyIsTheMsgpackCopy(t *testing.T) {
	float64s := rapid.OneOf(rapid.Float64(), rapid.SampledFrom([]float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64}))
	t.Run("all", func(t *testing.T) {
		fc := flatCopyOf(reflect.TypeFor[*flatAll]())
		if fc == nil || !fc.all {
			t.Fatalf("flatCopyOf(*flatAll) = %+v, want a copy of the whole struct", fc)
		}
		rapid.Check(t, func(t *rapid.T) {
			s := &flatAll{
				N: rapid.Int().Draw(t, "N"), S: rapid.String().Draw(t, "S"), F: float64s.Draw(t, "F"),
				G: rapid.Float32().Draw(t, "G"), B: rapid.Bool().Draw(t, "B"), U: rapid.Uint8().Draw(t, "U"), W: rapid.Uint64().Draw(t, "W"),
				A:  [3]int16{rapid.Int16().Draw(t, "A0"), rapid.Int16().Draw(t, "A1"), rapid.Int16().Draw(t, "A2")},
				In: flatInner{X: rapid.Int32().Draw(t, "X"), Y: rapid.StringN(0, 40, -1).Draw(t, "Y")},
				Bs: [4]byte(rapid.SliceOfN(rapid.Byte(), 4, 4).Draw(t, "Bs")),
			}
			sameCopies(t, fc, s, reflect.TypeFor[*flatAll](), func() any { return newFlatAll() })
		})
	})
	t.Run("some", func(t *testing.T) {
		fc := flatCopyOf(reflect.TypeFor[*flatSome]())
		if fc == nil || fc.all || len(fc.fields) != 3 {
			t.Fatalf("flatCopyOf(*flatSome) = %+v, want a copy of its 3 carried fields", fc)
		}
		rapid.Check(t, func(t *rapid.T) {
			s := &flatSome{
				N: rapid.Int64().Draw(t, "N"), hidden: rapid.Int().Draw(t, "hidden"), Skip: rapid.String().Draw(t, "Skip"),
				Named: rapid.SampledFrom([]string{"", "x", "named"}).Draw(t, "Named"), Zero: rapid.IntRange(0, 2).Draw(t, "Zero"),
			}
			sameCopies(t, fc, s, reflect.TypeFor[*flatSome](), func() any { return newFlatSome() })
		})
	})
}

func sameCopies(t *rapid.T, fc *flatCopy, s any, typ reflect.Type, factory func() any) {
	flat, ok := fc.copy(s, typ, factory)
	if !ok {
		t.Fatalf("the flat copy of %#v was refused", s)
	}
	round := factory()
	if err := msgpackCopy(s, round); err != nil {
		t.Fatalf("msgpack copy of %#v: %v", s, err)
	}
	// NaN is not equal to itself: compare the bits of both.
	if !reflect.DeepEqual(bitsOf(flat), bitsOf(round)) {
		t.Fatalf("flat copy %#v, msgpack copy %#v, of %#v", flat, round, s)
	}
	if reflect.ValueOf(flat).Pointer() == reflect.ValueOf(s).Pointer() {
		t.Fatalf("the flat copy is the state itself")
	}
}

// bitsOf returns v with its floats replaced by their bits, for DeepEqual.
func bitsOf(v any) any {
	if a, ok := v.(*flatAll); ok {
		c := *a
		f, g := math.Float64bits(c.F), math.Float32bits(c.G)
		c.F, c.G = 0, 0
		return struct {
			flatAll
			F uint64
			G uint32
		}{c, f, g}
	}
	return v
}

type textName string

func (n textName) MarshalText() ([]byte, error) { return []byte("x" + n), nil }

type withUnexportedInner struct{ in flatInner }

// TestFlatCopyRefusesWhatTheRoundTripMightChange: states with references,
// values that encode themselves, inlined or renamed-alike fields take the
// msgpack round trip.
func TestFlatCopyRefusesWhatTheRoundTripMightChange(t *testing.T) {
	type deep struct{ A [1][1][1][1][1][1]int }
	for name, typ := range map[string]reflect.Type{
		"not a pointer":  reflect.TypeFor[flatAll](),
		"pointer field":  reflect.TypeFor[*struct{ P *int }](),
		"slice":          reflect.TypeFor[*struct{ S []int }](),
		"map":            reflect.TypeFor[*struct{ M map[string]int }](),
		"interface":      reflect.TypeFor[*struct{ I any }](),
		"time.Time":      reflect.TypeFor[*struct{ T time.Time }](),
		"encodes itself": reflect.TypeFor[*struct{ N textName }](),
		"embedded":       reflect.TypeFor[*struct{ flatInner }](),
		"inline": reflect.TypeFor[*struct {
			In flatInner `msgpack:",inline"`
		}](),
		"same key twice": reflect.TypeFor[*struct {
			A, B int `msgpack:"k"`
		}](),
		"nested unexported":   reflect.TypeFor[*struct{ W withUnexportedInner }](),
		"nested with a slice": reflect.TypeFor[*struct{ W struct{ S []byte } }](),
		"too deep":            reflect.TypeFor[*deep](),
		"a pointer to an int": reflect.TypeFor[*int](),
		"complex number":      reflect.TypeFor[*struct{ C complex128 }](),
		"nested skipped field": reflect.TypeFor[*struct {
			W struct {
				A int `msgpack:"-"`
			}
		}](),
	} {
		if fc := flatCopyOf(typ); fc != nil {
			t.Errorf("%s: flatCopyOf(%v) = %+v, want nil (a msgpack round trip)", name, typ, fc)
		}
	}
}
