package registry

import (
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"google.golang.org/protobuf/proto"
)

// Warning is something Register found that is legal but probably wrong:
// today, fields of a version's state that its codec does not carry.
type Warning struct {
	Kind    string
	Version uint32
	// Field is the path of the field from the state's type, as Transient
	// takes it: "inFlight", "Ledger.drain", "Accounts[].cache".
	Field string
	// Message says what happens to the field and what would carry it.
	Message string
}

func (w Warning) String() string { return w.Message }

// Transient declares fields of a version's state that are not state: the
// codec does not carry them and a migration receives them as the factory
// made them. Name each as Register's ErrNotCarried error does: the path
// from the state's type, "inFlight" or "Ledger.drain" (a field of an
// embedded or nested struct), "Accounts[].cache" (of a slice, array or map
// element). Register refuses a name that matches no uncarried field, so
// that a renamed field is not silently left out.
func Transient(fields ...string) VersionOption {
	return func(vc *versionConfig) { vc.transient = append(vc.transient, fields...) }
}

// checkCarried returns a warning for every unexported field of state that
// the msgpack codec would drop and that is not declared Transient, and
// ErrInvalid for a Transient name that is no such field.
func checkCarried(kind string, number uint32, state reflect.Type, transient []string) ([]Warning, error) {
	dropped := uncarried(state)
	var missing []string
	for _, name := range transient {
		if !slices.Contains(dropped, name) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: Transient(%q) for %s version %d: %s has no unexported field by that name (fields the codec does not carry: %s)",
			ErrInvalid, missing, kind, number, state, listOrNone(dropped))
	}
	var ws []Warning
	for _, f := range dropped {
		if slices.Contains(transient, f) {
			continue
		}
		ws = append(ws, Warning{Kind: kind, Version: number, Field: f, Message: fmt.Sprintf(
			"registry: %s version %d: field %s of %s is unexported, so the msgpack codec does not carry it: a migration receives it as the factory made it. "+
				"If it is not state, declare it with registry.Transient(%q); if it is, export it, or give registry.Clone (a deep copy of your own, which may copy unexported fields) and mark the migrations from this version registry.Pure",
			kind, number, f, state, f)})
	}
	return ws, nil
}

func listOrNone(fields []string) string {
	if len(fields) == 0 {
		return "none"
	}
	return strings.Join(fields, ", ")
}

// uncarried lists the unexported fields that msgpack would not encode in a
// value of type t, as paths from t, in field order.
func uncarried(t reflect.Type) []string {
	var out []string
	walkUncarried(t, "", map[reflect.Type]bool{}, &out)
	return out
}

var (
	timeType            = reflect.TypeFor[time.Time]()
	customEncoderType   = reflect.TypeFor[msgpack.CustomEncoder]()
	msgpackMarshalType  = reflect.TypeFor[msgpack.Marshaler]()
	binaryMarshalerType = reflect.TypeFor[encoding.BinaryMarshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
	protoMessageType    = reflect.TypeFor[proto.Message]()
)

// encodesItself reports whether values of t choose their own encoding, so
// that their fields are theirs to carry.
func encodesItself(t reflect.Type) bool {
	if t == timeType {
		return true
	}
	for _, i := range []reflect.Type{customEncoderType, msgpackMarshalType, binaryMarshalerType, textMarshalerType, protoMessageType} {
		if t.Implements(i) || reflect.PointerTo(t).Implements(i) {
			return true
		}
	}
	return false
}

func walkUncarried(t reflect.Type, path string, seen map[reflect.Type]bool, out *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if seen[t] || encodesItself(t) {
		return
	}
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		walkUncarried(t.Elem(), path+"[]", seen, out)
	case reflect.Map:
		walkUncarried(t.Key(), path+"[key]", seen, out)
		walkUncarried(t.Elem(), path+"[]", seen, out)
	case reflect.Struct:
		seen[t] = true // a recursive type is walked once
		defer delete(seen, t)
		for i := range t.NumField() {
			f := t.Field(i)
			p := f.Name
			if path != "" {
				p = path + "." + f.Name
			}
			switch {
			case f.Tag.Get("msgpack") == "-":
				// Left out on purpose, in the codec's own terms.
			case f.Anonymous && (f.Type.Kind() == reflect.Struct || f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct):
				// msgpack inlines an embedded struct's exported fields,
				// even when the embedded type is unexported.
				walkUncarried(f.Type, p, seen, out)
			case !f.IsExported():
				*out = append(*out, p)
			default:
				walkUncarried(f.Type, p, seen, out)
			}
		}
	}
}
