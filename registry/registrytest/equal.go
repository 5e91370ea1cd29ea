package registrytest

import (
	"fmt"
	"math"
	"reflect"
)

// maxDepth bounds how deep states are compared and generated, so that a
// cyclic state cannot recurse forever.
const maxDepth = 64

// diff returns where a and b first differ, as a field path and both values,
// or "" when they are equal in their exported fields.
func diff(a, b any) string {
	return diffValue("state", reflect.ValueOf(a), reflect.ValueOf(b), 0)
}

func diffValue(path string, a, b reflect.Value, depth int) string {
	if depth > maxDepth {
		return ""
	}
	if !a.IsValid() || !b.IsValid() {
		if a.IsValid() == b.IsValid() {
			return ""
		}
		return differ(path, a, b)
	}
	if a.Type() != b.Type() {
		return fmt.Sprintf("%s: a %v, then a %v", path, a.Type(), b.Type())
	}
	if eq, ok := equalMethod(a, b); ok && a.CanInterface() {
		if eq {
			return ""
		}
		return differ(path, a, b)
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			if a.IsNil() == b.IsNil() {
				return ""
			}
			return differ(path, a, b)
		}
		return diffValue(path, a.Elem(), b.Elem(), depth+1)
	case reflect.Struct:
		for i := range a.NumField() {
			f := a.Type().Field(i)
			// An embedded struct of an unexported type still carries
			// its exported fields: codecs promote them.
			if !f.IsExported() && !f.Anonymous {
				continue
			}
			p := path + "." + f.Name
			if f.Anonymous {
				p = path + "." + f.Type.Name()
			}
			if d := diffValue(p, a.Field(i), b.Field(i), depth+1); d != "" {
				return d
			}
		}
		return ""
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: %d elements, then %d (%s)", path, a.Len(), b.Len(), show(a, b))
		}
		for i := range a.Len() {
			if d := diffValue(fmt.Sprintf("%s[%d]", path, i), a.Index(i), b.Index(i), depth+1); d != "" {
				return d
			}
		}
		return ""
	case reflect.Map:
		if a.Len() != b.Len() {
			return fmt.Sprintf("%s: %d entries, then %d (%s)", path, a.Len(), b.Len(), show(a, b))
		}
		it := a.MapRange()
		for it.Next() {
			p := fmt.Sprintf("%s[%#v]", path, it.Key())
			bv := b.MapIndex(it.Key())
			if !bv.IsValid() {
				return p + ": present, then missing"
			}
			if d := diffValue(p, it.Value(), bv, depth+1); d != "" {
				return d
			}
		}
		return ""
	case reflect.Float32, reflect.Float64:
		x, y := a.Float(), b.Float()
		if x == y || math.IsNaN(x) && math.IsNaN(y) {
			return ""
		}
		return differ(path, a, b)
	case reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return "" // not state a codec or a migration carries
	}
	if basicEqual(a, b) {
		return ""
	}
	return differ(path, a, b)
}

// basicEqual compares scalars without Interface, which values reached
// through unexported embedded fields do not allow.
func basicEqual(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.Complex64, reflect.Complex128:
		return a.Complex() == b.Complex()
	case reflect.String:
		return a.String() == b.String()
	}
	return true
}

// equalMethod compares with the type's own Equal(T) bool, which is how
// types such as time.Time whose fields are unexported define equality.
func equalMethod(a, b reflect.Value) (equal, ok bool) {
	m, found := a.Type().MethodByName("Equal")
	if !found || m.Type.NumIn() != 2 || m.Type.In(1) != a.Type() || m.Type.NumOut() != 1 || m.Type.Out(0).Kind() != reflect.Bool {
		return false, false
	}
	if a.Kind() == reflect.Pointer && (a.IsNil() || b.IsNil()) {
		return a.IsNil() == b.IsNil(), true
	}
	return m.Func.Call([]reflect.Value{a, b})[0].Bool(), true
}

func differ(path string, a, b reflect.Value) string {
	return fmt.Sprintf("%s: %s", path, show(a, b))
}

func show(a, b reflect.Value) string {
	return fmt.Sprintf("%s, then %s", render(a), render(b))
}

func render(v reflect.Value) string {
	if !v.IsValid() {
		return "nothing"
	}
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() == reflect.String {
		return fmt.Sprintf("%q", v)
	}
	return fmt.Sprintf("%+v", v) // fmt prints a reflect.Value's content, exported or not
}
