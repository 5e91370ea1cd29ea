package registry

import (
	"bytes"
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// MaxStateSize is the default bound, in bytes, on a state handed to
// Catalog.Decode (WithMaxStateSize sets another). A state comes from
// outside the process there, and every codec allocates in proportion to its
// input; an honest state is far smaller.
const MaxStateSize = 256 << 20

// checkFits walks the one MessagePack value in data alongside the type t
// that msgpack has just decoded it into, and fails where an integer does
// not fit its Go type: msgpack stores 300 in a uint8 as 44, and -1 in a
// uint32 as 4294967295, without a word. It runs only on data msgpack
// accepted, which checkMsgpack has bounded.
func checkFits(data []byte, t reflect.Type) error {
	d := msgpack.GetDecoder()
	defer msgpack.PutDecoder(d)
	r := bytes.NewReader(data)
	d.Reset(r)
	if err := fits(d, t); err != nil {
		if fe, ok := err.(*fitError); ok {
			return fe.finish()
		}
		return err
	}
	return nil
}

// fitError says which value did not fit; the path is built as the walk
// unwinds, so the walk of a good state builds none.
type fitError struct {
	path []string // innermost first
	msg  string
}

func (e *fitError) Error() string { return e.finish().Error() }

func (e *fitError) finish() error {
	if len(e.path) == 0 {
		return fmt.Errorf("msgpack: the state: %s", e.msg)
	}
	var b strings.Builder
	for i := len(e.path) - 1; i >= 0; i-- {
		s := e.path[i]
		if b.Len() > 0 && s[0] != '[' && s[0] != ' ' {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return fmt.Errorf("msgpack: field %s: %s", b.String(), e.msg)
}

func within(segment string, err error) error {
	if fe, ok := err.(*fitError); ok {
		fe.path = append(fe.path, segment)
	}
	return err
}

var (
	customDecoderType = reflect.TypeFor[msgpack.CustomDecoder]()
	unmarshalerType   = reflect.TypeFor[msgpack.Unmarshaler]()
	binaryType        = reflect.TypeFor[encoding.BinaryUnmarshaler]()
	textType          = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decodesItself reports whether msgpack hands values of t to t's own
// decoding method, which then owns the question of what fits.
func decodesItself(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	for _, i := range []reflect.Type{customDecoderType, unmarshalerType, binaryType, textType} {
		if t.Implements(i) || pt.Implements(i) {
			return true
		}
	}
	return false
}

func isExt(c byte) bool {
	return (c >= msgpcode.FixExt1 && c <= msgpcode.FixExt16) || (c >= msgpcode.Ext8 && c <= msgpcode.Ext32)
}

func isMap(c byte) bool {
	return msgpcode.IsFixedMap(c) || c == msgpcode.Map16 || c == msgpcode.Map32
}

func isArray(c byte) bool {
	return msgpcode.IsFixedArray(c) || c == msgpcode.Array16 || c == msgpcode.Array32
}

// An unsigned code carries a value >= 0; a signed one may carry either.
func isUintCode(c byte) bool {
	return c <= msgpcode.PosFixedNumHigh || (c >= msgpcode.Uint8 && c <= msgpcode.Uint64)
}

func isIntCode(c byte) bool {
	return c >= msgpcode.NegFixedNumLow || (c >= msgpcode.Int8 && c <= msgpcode.Int64)
}

func fits(d *msgpack.Decoder, t reflect.Type) error {
	c, err := d.PeekCode()
	if err != nil {
		return err
	}
	if c == msgpcode.Nil || isExt(c) || decodesItself(t) {
		return d.Skip()
	}
	switch t.Kind() {
	case reflect.Pointer:
		return fits(d, t.Elem())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		hi := int64(1)<<(t.Bits()-1) - 1
		switch {
		case isUintCode(c):
			n, err := d.DecodeUint64()
			if err == nil && n > uint64(hi) {
				return &fitError{msg: fmt.Sprintf("%d does not fit in %v (at most %d)", n, t, hi)}
			}
			return err
		case isIntCode(c):
			n, err := d.DecodeInt64()
			if err == nil && (n > hi || n < -hi-1) {
				return &fitError{msg: fmt.Sprintf("%d does not fit in %v (%d to %d)", n, t, -hi-1, hi)}
			}
			return err
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		hi := uint64(1)<<(t.Bits()-1)<<1 - 1
		switch {
		case isUintCode(c):
			n, err := d.DecodeUint64()
			if err == nil && n > hi {
				return &fitError{msg: fmt.Sprintf("%d does not fit in %v (at most %d)", n, t, hi)}
			}
			return err
		case isIntCode(c):
			n, err := d.DecodeInt64()
			if err == nil && (n < 0 || uint64(n) > hi) {
				return &fitError{msg: fmt.Sprintf("%d does not fit in %v (0 to %d)", n, t, hi)}
			}
			return err
		}
	case reflect.Struct:
		if isMap(c) {
			return structFits(d, t)
		}
	case reflect.Map:
		if isMap(c) {
			n, err := d.DecodeMapLen()
			if err != nil {
				return err
			}
			for range n {
				if err := fits(d, t.Key()); err != nil {
					return within(" key", err)
				}
				if err := fits(d, t.Elem()); err != nil {
					return within(" value", err)
				}
			}
			return nil
		}
	case reflect.Slice, reflect.Array:
		if isArray(c) {
			n, err := d.DecodeArrayLen()
			if err != nil {
				return err
			}
			for i := range n {
				if err := fits(d, t.Elem()); err != nil {
					return within("["+strconv.Itoa(i)+"]", err)
				}
			}
			return nil
		}
	}
	// Anything else (strings, bools, floats, bytes, interfaces, a struct
	// encoded as an array) msgpack either decodes exactly or refused.
	return d.Skip()
}

func structFits(d *msgpack.Decoder, t reflect.Type) error {
	fields := fieldsOf(t)
	n, err := d.DecodeMapLen()
	if err != nil {
		return err
	}
	for range n {
		name, err := d.DecodeString()
		if err != nil {
			return err
		}
		ft, ok := fields[name]
		if !ok {
			// A field this version does not have: msgpack skips it too.
			if err := d.Skip(); err != nil {
				return err
			}
			continue
		}
		if err := fits(d, ft); err != nil {
			return within(name, err)
		}
	}
	return nil
}

var fieldCache sync.Map // reflect.Type -> map[string]reflect.Type

// fieldsOf maps the keys msgpack decodes into a struct of type t to the
// types of their fields, by msgpack's rules: the msgpack tag's name or the
// field's, "-" left out, unexported fields left out unless embedded, and an
// embedded struct's fields inlined unless the tag says noinline or a field
// of the outer struct has the name (the embedded struct's own name is a key
// too). A key it maps that msgpack would not decode is at worst checked
// needlessly; one it misses is not checked.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	var inline []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("msgpack"), ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
		if f.Anonymous && !hasOption(opts, "noinline") {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct && !decodesItself(et) {
				inline = append(inline, et)
			}
		}
	}
	for _, et := range inline {
		for name, ft := range fieldsOf(et) {
			if _, shadowed := m[name]; !shadowed {
				m[name] = ft
			}
		}
	}
	fieldCache.Store(t, m)
	return m
}

func hasOption(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}
