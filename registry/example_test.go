package registry_test

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
)

// Three versions of a counter. Each is a behaviour and its own state.

type CounterV1 struct{ Count int }

func (*CounterV1) Receive(actor.Context) {}

type CounterV2 struct {
	Count int64
	Name  string
}

func (*CounterV2) Receive(actor.Context) {}

type CounterV3 struct {
	Total int64
	Name  string
}

func (*CounterV3) Receive(actor.Context) {}

// Increment is the message of versions 1 and 2; version 3 accepts Add.
type Increment struct{}

type Add struct{ N int64 }

// Register three versions and the migrations between neighbours; Plan finds
// the chain from 1 to 3, and Transfer runs it on a copy of the live state.
func Example() {
	cat := registry.New()
	registry.Register(cat, "counter", 1, func() *CounterV1 { return &CounterV1{} })
	registry.Register(cat, "counter", 2, func() *CounterV2 { return &CounterV2{} })
	registry.Register(cat, "counter", 3, func() *CounterV3 { return &CounterV3{} })
	registry.Migrate(cat, "counter", 1, 2, func(old *CounterV1) (*CounterV2, error) {
		return &CounterV2{Count: int64(old.Count), Name: "clicks"}, nil
	})
	registry.Migrate(cat, "counter", 2, 3, func(old *CounterV2) (*CounterV3, error) {
		return &CounterV3{Total: old.Count, Name: old.Name}, nil
	})

	plan, err := cat.Plan("counter", 1, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("path:", plan.Path())

	live := &CounterV1{Count: 42}
	state, err := plan.Transfer(live)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("new state: %+v\n", state)
	fmt.Printf("live state: %+v\n", live)

	// Going down needs down migrations.
	_, err = cat.Plan("counter", 3, 1)
	fmt.Println(err)
	// Output:
	// path: [1 2 3]
	// new state: &{Total:42 Name:clicks}
	// live state: &{Count:42}
	// registry: no migration path: counter from version 3 to 1; register a down migration with registry.Migrate(cat, "counter", 3, 1, fn) or through versions in between
}

// Version 3 no longer accepts *Increment. The update from 2 is refused
// until an adapter turns *Increment into an *Add; while version 3 runs, the
// runtime delivers adapted messages.
func ExampleAdapt() {
	cat := registry.New()
	registry.Register(cat, "counter", 2, func() *CounterV2 { return &CounterV2{} },
		registry.Accepts(&Increment{}))
	registry.Register(cat, "counter", 3, func() *CounterV3 { return &CounterV3{} },
		registry.Accepts(&Add{}))
	registry.Migrate(cat, "counter", 2, 3, func(old *CounterV2) (*CounterV3, error) {
		return &CounterV3{Total: old.Count, Name: old.Name}, nil
	})

	if _, err := cat.Plan("counter", 2, 3); err != nil {
		fmt.Println("refused:", err != nil)
	}

	registry.Adapt(cat, "counter", 3, func(*Increment) *Add { return &Add{N: 1} })
	plan, err := cat.Plan("counter", 2, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	msg, adapted := plan.Adapters().Adapt(&Increment{})
	fmt.Printf("%T %+v adapted=%v\n", msg, msg, adapted)
	msg, adapted = plan.Adapters().Adapt(&Add{N: 5})
	fmt.Printf("%T %+v adapted=%v\n", msg, msg, adapted)
	// Output:
	// refused: true
	// *registry_test.Add &{N:1} adapted=true
	// *registry_test.Add &{N:5} adapted=false
}

// A migration that never modifies its input can be marked Pure: it then
// receives the live state itself instead of a copy.
func ExamplePure() {
	cat := registry.New()
	registry.Register(cat, "counter", 1, func() *CounterV1 { return &CounterV1{} })
	registry.Register(cat, "counter", 2, func() *CounterV2 { return &CounterV2{} })
	var got *CounterV1
	registry.Migrate(cat, "counter", 1, 2, func(old *CounterV1) (*CounterV2, error) {
		got = old
		return &CounterV2{Count: int64(old.Count)}, nil
	}, registry.Pure())

	plan, _ := cat.Plan("counter", 1, 2)
	live := &CounterV1{Count: 7}
	state, _ := plan.Transfer(live)
	fmt.Printf("%+v, given the live value: %v\n", state, got == live)
	// Output:
	// &{Count:7 Name:}, given the live value: true
}
