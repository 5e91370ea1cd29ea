package registry

import (
	"reflect"
	"strings"
)

// flatCopy is the isolating copy of a msgpack state whose carried fields
// are all plain values (booleans, numbers, strings, arrays and structs of
// them): for such a state, a msgpack round trip gives exactly the factory's
// value with the carried fields assigned, so isolate assigns them instead.
// The round trip was most of an update's CPU for small states (2 µs of the
// update's 2 to 4 µs; BenchmarkGroupUpdate and the runner's update-latency
// scenario); TestFlatCopyIsTheMsgpackCopy checks that both give the same
// state.
type flatCopy struct {
	// fields are the indices of the carried fields; all: every field is
	// carried, so the whole struct is assigned at once.
	fields []int
	all    bool
}

// flatCopyOf returns the flat copy of states of type t, or nil if t is not
// a pointer to a struct whose carried fields are all plain values, or if a
// msgpack round trip could change one of them.
func flatCopyOf(t reflect.Type) *flatCopy {
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	s := t.Elem()
	if encodesItself(s) || decodesItself(s) {
		return nil
	}
	fc := &flatCopy{}
	names := make(map[string]bool, s.NumField())
	for i := range s.NumField() {
		f := s.Field(i)
		switch {
		case f.Tag.Get("msgpack") == "-" || !f.IsExported() && !f.Anonymous:
			continue // not carried: the factory's value stays
		case f.Anonymous:
			return nil // msgpack inlines it: its fields could collide
		}
		if !plainField(f, names) || !plainValue(f.Type, 0) {
			return nil
		}
		fc.fields = append(fc.fields, i)
	}
	fc.all = len(fc.fields) == s.NumField()
	return fc
}

// maxPlainDepth bounds how deep plainValue looks into nested arrays and
// structs; deeper types take the msgpack round trip.
const maxPlainDepth = 4

// plainValue reports whether a value of type t holds no reference (pointer,
// slice, map, interface, channel, function) and survives a msgpack round
// trip unchanged, so that assigning it is a deep copy of it.
func plainValue(t reflect.Type, depth int) bool {
	if depth > maxPlainDepth || encodesItself(t) || decodesItself(t) {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	case reflect.Array:
		return plainValue(t.Elem(), depth+1)
	case reflect.Struct:
		// A nested struct is assigned whole: every field must be carried,
		// since the round trip would leave an uncarried one zero.
		names := make(map[string]bool, t.NumField())
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || f.Anonymous || f.Tag.Get("msgpack") == "-" || !plainField(f, names) || !plainValue(f.Type, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// plainField reports whether msgpack carries the carried field f under a
// key of its own (names holds the keys of the fields before it) and lays it
// out as it is: no option but omitempty (inline and as_array change the
// layout).
func plainField(f reflect.StructField, names map[string]bool) bool {
	name, opts, _ := strings.Cut(f.Tag.Get("msgpack"), ",")
	if name == "" {
		name = f.Name
	}
	if names[name] || opts != "" && opts != "omitempty" {
		return false
	}
	names[name] = true
	return true
}

// copy returns a copy of state made from the factory's value, or false if
// state is not of the type flatCopyOf was given, or either is a nil pointer:
// the msgpack round trip then says what is wrong.
func (fc *flatCopy) copy(state any, t reflect.Type, factory func() any) (any, bool) {
	if reflect.TypeOf(state) != t {
		return nil, false
	}
	src := reflect.ValueOf(state)
	if src.IsNil() {
		return nil, false
	}
	c := factory()
	dst := reflect.ValueOf(c)
	if dst.Type() != t || dst.IsNil() {
		return nil, false
	}
	dst, src = dst.Elem(), src.Elem()
	if fc.all {
		dst.Set(src)
		return c, true
	}
	for _, i := range fc.fields {
		dst.Field(i).Set(src.Field(i))
	}
	return c, true
}
