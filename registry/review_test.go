package registry_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
)

// Tests for rules added after review of the first API.

type valueState struct{ N int }

func (valueState) Receive(actor.Context) {}

type plainMsg struct{}

// TestRegisterRefusesStatesItCannotFill: a value-type or interface state
// could not be decoded into, and a protobuf codec cannot carry a state that
// is not a proto.Message; all are refused at registration.
func TestRegisterRefusesStatesItCannotFill(t *testing.T) {
	cat := registry.New()
	if err := registry.Register(cat, "v", 1, func() valueState { return valueState{} }); !errors.Is(err, registry.ErrInvalid) {
		t.Errorf("value state: %v, want ErrInvalid", err)
	}
	if err := registry.Register(cat, "i", 1, func() actor.Actor { return &counterV1{} }); !errors.Is(err, registry.ErrInvalid) {
		t.Errorf("interface state: %v, want ErrInvalid", err)
	}
	if err := registry.Register(cat, "p", 1, newV1, registry.WithCodec(registry.Protobuf)); !errors.Is(err, registry.ErrInvalid) {
		t.Errorf("protobuf codec on a plain struct: %v, want ErrInvalid", err)
	}
	if len(cat.Kinds()) != 0 {
		t.Errorf("refused registrations left kinds %v", cat.Kinds())
	}
}

// TestAdaptRefusesInterfaces: adapters are looked up by a message's concrete
// type, so an interface type could never match.
func TestAdaptRefusesInterfaces(t *testing.T) {
	cat := counterCatalog(t)
	if err := registry.Adapt(cat, "counter", 2, func(fmt.Stringer) *plainMsg { return nil }); !errors.Is(err, registry.ErrInvalid) {
		t.Errorf("interface input: %v, want ErrInvalid", err)
	}
	if err := registry.Adapt(cat, "counter", 2, func(*plainMsg) any { return nil }); !errors.Is(err, registry.ErrInvalid) {
		t.Errorf("interface output: %v, want ErrInvalid", err)
	}
}

var errUser = errors.New("the user's own error")

// TestTransferWrapsTheMigrationsError: callers can test for their own error.
func TestTransferWrapsTheMigrationsError(t *testing.T) {
	cat := registry.New()
	must(t, registry.Register(cat, "c", 1, newV1))
	must(t, registry.Register(cat, "c", 2, newV2))
	must(t, registry.Migrate(cat, "c", 1, 2, func(*counterV1) (*counterV2, error) { return nil, errUser }))
	p, err := cat.Plan("c", 1, 2)
	must(t, err)
	_, err = p.Transfer(&counterV1{})
	if !errors.Is(err, registry.ErrMigration) || !errors.Is(err, errUser) {
		t.Fatalf("got %v, want it to wrap both ErrMigration and the migration's error", err)
	}
	if _, err := p.Transfer((*counterV1)(nil)); !errors.Is(err, registry.ErrTypeMismatch) {
		t.Errorf("nil live state: %v, want ErrTypeMismatch", err)
	}
}

// TestPlanCannotBeChangedByItsUsers: a cached plan is shared, so what it
// hands out is a copy.
func TestPlanCannotBeChangedByItsUsers(t *testing.T) {
	cat := counterCatalog(t)
	p, err := cat.Plan("counter", 1, 3)
	must(t, err)
	path := p.Path()
	path[1] = 99
	again, err := cat.Plan("counter", 1, 3)
	must(t, err)
	if got := again.Path(); !slices.Equal(got, []uint32{1, 2, 3}) {
		t.Fatalf("after a caller changed its copy the plan's path is %v", got)
	}
}

type defaults struct {
	Fail int
	Tags map[string]int
}

type embedding struct {
	defaults
	Own map[string]int
}

func (*embedding) Receive(actor.Context) {}

// TestDecodeDoesNotMergeIntoPromotedFields: fields promoted from an embedded
// struct are carried by msgpack, so they too start from zero before a decode.
func TestDecodeDoesNotMergeIntoPromotedFields(t *testing.T) {
	cat := registry.New()
	must(t, registry.Register(cat, "e", 1, func() *embedding {
		return &embedding{defaults: defaults{Fail: 7, Tags: map[string]int{"preset": 1}}, Own: map[string]int{"preset": 1}}
	}))
	live := &embedding{defaults: defaults{Tags: map[string]int{"kept": 2}}, Own: map[string]int{"kept": 2}}
	data, err := cat.Encode("e", 1, live)
	must(t, err)
	got, err := cat.Decode("e", 1, data)
	must(t, err)
	if !reflect.DeepEqual(got, live) {
		t.Fatalf("decoded %+v, want exactly %+v", got, live)
	}
}
