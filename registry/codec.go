package registry

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
	"google.golang.org/protobuf/proto"
)

// Codec turns a version's state into bytes and back. Decode fills a value
// made by the version's factory.
type Codec interface {
	// Name says which codec this is, for error messages and tools.
	Name() string
	Encode(state any) ([]byte, error)
	Decode(data []byte, into any) error
}

// Msgpack is the default codec: the exported fields of the state, in
// MessagePack.
var Msgpack Codec = msgpackCodec{}

// Protobuf is the codec chosen by default for a state that is a
// proto.Message.
var Protobuf Codec = protobufCodec{}

type msgpackCodec struct{}

func (msgpackCodec) Name() string { return "msgpack" }

func (msgpackCodec) Encode(state any) ([]byte, error) { return msgpack.Marshal(state) }

// Decode checks data before msgpack reads it, since msgpack trusts the
// lengths in its input: a few hostile bytes could otherwise make it allocate
// gigabytes or recurse until the stack overflows, which no recover catches.
// It then clears the fields the codec carries, so that the decoded state is
// the encoded one and not merged into what the factory preset.
//
// Decode is strict where msgpack is lenient, so that a state is decoded as
// it was meant or not at all: data must be exactly one MessagePack value
// (trailing bytes are refused), and every integer must fit the Go type of
// the field it lands in (msgpack would store 300 in a uint8 as 44, or -1 in
// a uint32 as 4294967295); the error names the field, the value and the
// type. Keys of fields the state does not have are skipped, as msgpack
// does, so a state with a field removed still decodes; a type with its own
// decoding method, and a struct encoded as an array, are not checked.
func (msgpackCodec) Decode(data []byte, into any) error {
	if err := checkMsgpack(data); err != nil {
		return err
	}
	v := reflect.ValueOf(into)
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		clearCarried(v.Elem())
	}
	if err := msgpack.Unmarshal(data, into); err != nil {
		return err
	}
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		return checkFits(data, v.Type().Elem())
	}
	return nil
}

// maxPooledCopyBuffer bounds the buffers msgpackCopy keeps for reuse: a
// large state's buffer is not worth pinning.
const maxPooledCopyBuffer = 64 << 10

type copyBuffer struct {
	buf    bytes.Buffer
	reader bytes.Reader
}

var copyBuffers = sync.Pool{New: func() any { return new(copyBuffer) }}

// msgpackCopy makes into a copy of state through MessagePack, as an Encode
// and a Decode would, but on a pooled buffer and without checking input it
// has just produced itself: this is the isolating copy of every update of a
// msgpack state, so its allocations matter.
func msgpackCopy(state, into any) error {
	cb := copyBuffers.Get().(*copyBuffer)
	defer func() {
		if cb.buf.Cap() <= maxPooledCopyBuffer {
			cb.buf.Reset()
			cb.reader.Reset(nil)
			copyBuffers.Put(cb)
		}
	}()
	enc := msgpack.GetEncoder()
	enc.Reset(&cb.buf)
	err := enc.Encode(state)
	msgpack.PutEncoder(enc)
	if err != nil {
		return fmt.Errorf("encoding: %w", err)
	}
	if v := reflect.ValueOf(into); v.Kind() == reflect.Pointer && !v.IsNil() {
		clearCarried(v.Elem())
	}
	cb.reader.Reset(cb.buf.Bytes())
	dec := msgpack.GetDecoder()
	dec.Reset(&cb.reader)
	err = dec.Decode(into)
	msgpack.PutDecoder(dec)
	if err != nil {
		return fmt.Errorf("decoding: %w", err)
	}
	return nil
}

// clearCarried zeroes what msgpack carries of v: every exported field not
// tagged msgpack:"-", including those promoted from embedded structs.
func clearCarried(v reflect.Value) {
	if v.Kind() != reflect.Struct {
		if v.CanSet() {
			v.SetZero()
		}
		return
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		switch {
		case f.Tag.Get("msgpack") == "-":
		case f.Anonymous && f.Type.Kind() == reflect.Struct:
			clearCarried(v.Field(i))
		case f.IsExported():
			v.Field(i).SetZero()
		}
	}
}

// maxMsgpackDepth bounds the nesting of arrays and maps in a state.
const maxMsgpackDepth = 10000

// checkMsgpack walks data without recursion and fails unless it is one
// well-formed MessagePack value, with nothing after it, whose every length fits in the input and
// whose nesting is at most maxMsgpackDepth, so that decoding it allocates in
// proportion to len(data) and cannot overflow the stack.
func checkMsgpack(data []byte) error {
	var open []int // items left in each enclosing container
	left := 1      // items left at the current level
	i := 0
	uint := func(width int) (int, error) {
		if len(data)-i < width {
			return 0, io.ErrUnexpectedEOF
		}
		n := 0
		for _, b := range data[i : i+width] {
			n = n<<8 | int(b)
		}
		i += width
		return n, nil
	}
	for {
		for left == 0 {
			if len(open) == 0 {
				if i < len(data) {
					return fmt.Errorf("msgpack: %d trailing bytes after the state's value, from byte %d: the input holds more than one value", len(data)-i, i)
				}
				return nil
			}
			left, open = open[len(open)-1], open[:len(open)-1]
		}
		if i >= len(data) {
			return io.ErrUnexpectedEOF
		}
		c := data[i]
		i++
		left--
		var items, size, width int // width: bytes of a length field
		extra := 0                 // bytes after the length (ext type)
		switch {
		case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
		case c >= 0x80 && c <= 0x8f:
			items = 2 * int(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			items = int(c & 0x0f)
		case c >= 0xa0 && c <= 0xbf:
			size = int(c & 0x1f)
		case c == 0xcc || c == 0xd0:
			size = 1
		case c == 0xcd || c == 0xd1:
			size = 2
		case c == 0xce || c == 0xd2 || c == 0xca:
			size = 4
		case c == 0xcf || c == 0xd3 || c == 0xcb:
			size = 8
		case c == 0xd4, c == 0xd5, c == 0xd6, c == 0xd7, c == 0xd8:
			size = 1 + 1<<(c-0xd4)
		case c == 0xc4 || c == 0xd9:
			width = 1
		case c == 0xc5 || c == 0xda:
			width = 2
		case c == 0xc6 || c == 0xdb:
			width = 4
		case c == 0xc7:
			width, extra = 1, 1
		case c == 0xc8:
			width, extra = 2, 1
		case c == 0xc9:
			width, extra = 4, 1
		case c == 0xdc, c == 0xde:
			width = 2
		case c == 0xdd, c == 0xdf:
			width = 4
		default:
			return fmt.Errorf("msgpack: invalid code %#x at byte %d", c, i-1)
		}
		if width > 0 {
			n, err := uint(width)
			if err != nil {
				return err
			}
			switch c {
			case 0xdc, 0xdd:
				items = n
			case 0xde, 0xdf:
				items = 2 * n
			default:
				size = n + extra
			}
		}
		if size > len(data)-i {
			return fmt.Errorf("msgpack: length %d at byte %d exceeds the input", size, i)
		}
		i += size
		if items > 0 {
			if items > len(data)-i {
				return fmt.Errorf("msgpack: %d items at byte %d exceed the input", items, i)
			}
			if len(open) >= maxMsgpackDepth {
				return fmt.Errorf("msgpack: nesting deeper than %d", maxMsgpackDepth)
			}
			open = append(open, left)
			left = items
		}
	}
}

type protobufCodec struct{}

func (protobufCodec) Name() string { return "protobuf" }

func (protobufCodec) Encode(state any) ([]byte, error) {
	m, ok := state.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("protobuf codec: state %T is not a proto.Message", state)
	}
	return proto.Marshal(m)
}

func (protobufCodec) Decode(data []byte, into any) error {
	m, ok := into.(proto.Message)
	if !ok {
		return fmt.Errorf("protobuf codec: state %T is not a proto.Message", into)
	}
	return proto.Unmarshal(data, m)
}
