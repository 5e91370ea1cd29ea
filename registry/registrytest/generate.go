package registrytest

import (
	"math"
	"reflect"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"pgregory.net/rapid"
)

// Bounds of generated states: small, since rapid finds most bugs with small
// values and shrinks towards them anyway.
const (
	maxLen       = 4 // elements of a generated slice or map
	maxGenDepth  = 4 // nesting of generated pointers, slices and maps
	maxStringLen = 12
)

var timeType = reflect.TypeFor[time.Time]()

// defaultStates generates states from the factory, with every exported
// field it can set filled in.
func defaultStates(factory func() actor.Actor) *rapid.Generator[actor.Actor] {
	return rapid.Custom(func(t *rapid.T) actor.Actor {
		s := factory()
		v := reflect.ValueOf(s)
		if v.Kind() == reflect.Pointer && !v.IsNil() {
			fillFields(t, v.Elem(), 0)
		}
		return s
	})
}

// fillFields fills the settable exported fields of a struct.
func fillFields(t *rapid.T, v reflect.Value, depth int) {
	if v.Kind() != reflect.Struct {
		fill(t, v, depth)
		return
	}
	for i := range v.NumField() {
		if f := v.Field(i); f.CanSet() {
			fill(t, f, depth+1)
		}
	}
}

// fill sets v, which is settable, to a generated value of its type.
func fill(t *rapid.T, v reflect.Value, depth int) {
	typ := v.Type()
	if typ == timeType {
		// Whole seconds in UTC: a time that codecs can carry exactly.
		sec := rapid.Int64Range(-1<<33, 1<<33).Draw(t, "")
		v.Set(reflect.ValueOf(time.Unix(sec, 0).UTC()))
		return
	}
	switch typ.Kind() {
	case reflect.Bool:
		v.SetBool(rapid.Bool().Draw(t, ""))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		bits := typ.Bits()
		v.SetInt(rapid.Int64Range(-1<<(bits-1), 1<<(bits-1)-1).Draw(t, ""))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		max := uint64(math.MaxUint64)
		if bits := typ.Bits(); bits < 64 {
			max = 1<<bits - 1
		}
		v.SetUint(rapid.Uint64Range(0, max).Draw(t, ""))
	case reflect.Float32:
		v.SetFloat(float64(rapid.Float32().Draw(t, "")))
	case reflect.Float64:
		v.SetFloat(rapid.Float64().Draw(t, ""))
	case reflect.String:
		v.SetString(rapid.StringN(0, maxStringLen, -1).Draw(t, ""))
	case reflect.Slice:
		n := length(t, depth)
		s := reflect.MakeSlice(typ, n, n)
		for i := range n {
			fill(t, s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Array:
		for i := range v.Len() {
			fill(t, v.Index(i), depth+1)
		}
	case reflect.Map:
		n := length(t, depth)
		m := reflect.MakeMapWithSize(typ, n)
		for range n {
			k := reflect.New(typ.Key()).Elem()
			fill(t, k, depth+1)
			e := reflect.New(typ.Elem()).Elem()
			fill(t, e, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Pointer:
		if depth >= maxGenDepth || !rapid.Bool().Draw(t, "") {
			v.SetZero()
			return
		}
		p := reflect.New(typ.Elem())
		fill(t, p.Elem(), depth+1)
		v.Set(p)
	case reflect.Struct:
		fillFields(t, v, depth)
	}
	// Interfaces, channels and functions stay as the factory made them.
}

func length(t *rapid.T, depth int) int {
	if depth >= maxGenDepth {
		return 0
	}
	return rapid.IntRange(0, maxLen).Draw(t, "")
}
