package actor

import (
	"testing"

	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// TestCopyResultCopiesEveryField fails when UpdateResult gains a field that
// copyResult does not copy, so that Status never reports a result short of
// what the requester got.
func TestCopyResultCopiesEveryField(t *testing.T) {
	r := &update.UpdateResult{}
	m := r.ProtoReflect()
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		switch f.Kind() {
		case protoreflect.StringKind:
			m.Set(f, protoreflect.ValueOfString("x"+string(f.Name())))
		case protoreflect.EnumKind:
			m.Set(f, protoreflect.ValueOfEnum(1))
		case protoreflect.Uint32Kind:
			m.Set(f, protoreflect.ValueOfUint32(uint32(i+1)))
		case protoreflect.Int64Kind:
			m.Set(f, protoreflect.ValueOfInt64(int64(i+100)))
		default:
			t.Fatalf("UpdateResult.%s is a %v: teach this test and copyResult about it", f.Name(), f.Kind())
		}
	}
	if got := copyResult(r); !proto.Equal(got, r) {
		t.Errorf("copyResult lost fields:\n got %v\nwant %v", got, r)
	}
}
