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

// TestNodeChecksARequestOnce asserts what Node.validate remembers: the
// request that last passed, by identity, and nothing that failed. A request
// sent to every member of a group is thus checked once, and a different
// request, or one that failed, is checked each time.
func TestNodeChecksARequestOnce(t *testing.T) {
	n := &Node{}
	valid := &update.UpdateActor{ToVersion: 2, Group: []string{"a", "b"}}
	if err := n.validate(valid); err != nil {
		t.Fatalf("a valid request was refused: %v", err)
	}
	// A message is read-only once sent; changing it here shows that the
	// second look is not a second check.
	valid.ToVersion = 0
	if err := n.validate(valid); err != nil {
		t.Errorf("the request that passed was checked again: %v", err)
	}
	invalid := &update.UpdateActor{ToVersion: 0}
	for i := range 2 {
		if err := n.validate(invalid); err == nil {
			t.Errorf("look %d: a request without to_version passed", i+1)
		}
	}
	if got := n.valid.Load(); got != valid {
		t.Errorf("a request that failed replaced the remembered one")
	}
	other := &update.UpdateActor{ToVersion: 3}
	if err := n.validate(other); err != nil || n.valid.Load() != other {
		t.Errorf("a second valid request: err %v, remembered %v; want it checked and remembered", err, n.valid.Load() == other)
	}
}
