package registry

import (
	"fmt"

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

func (msgpackCodec) Decode(data []byte, into any) error { return msgpack.Unmarshal(data, into) }

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
