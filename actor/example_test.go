package actor_test

import (
	"context"
	"fmt"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
)

type increment struct{}
type total struct{}

// CounterV1 counts increments in an int.
type CounterV1 struct{ N int }

func (c *CounterV1) Receive(ctx pa.Context) {
	switch ctx.Message().(type) {
	case *increment:
		c.N++
	case *total:
		ctx.Respond(fmt.Sprintf("v1: %d", c.N))
	}
}

// CounterV2 also remembers how many updates it went through.
type CounterV2 struct {
	N       int64
	Updates int
}

func (c *CounterV2) Receive(ctx pa.Context) {
	switch ctx.Message().(type) {
	case *update.VersionChanged:
		c.Updates++
	case *increment:
		c.N++
	case *total:
		ctx.Respond(fmt.Sprintf("v2: %d after %d update", c.N, c.Updates))
	}
}

// Spawn a counter at version 1, count, update it live to version 2 and count
// on: the state is carried over by the migration, under the same PID.
func Example() {
	cat := registry.New()
	_ = registry.Register(cat, "counter", 1, func() *CounterV1 { return &CounterV1{} })
	_ = registry.Register(cat, "counter", 2, func() *CounterV2 { return &CounterV2{} })
	_ = registry.Migrate(cat, "counter", 1, 2, func(old *CounterV1) (*CounterV2, error) {
		return &CounterV2{N: int64(old.N)}, nil
	})

	node := molt.NewNode(cat)
	defer node.Shutdown()
	pid, _ := node.Spawn("counter", 1, molt.WithName("counter"))

	for i := 0; i < 3; i++ {
		node.Root().Send(pid, &increment{})
	}
	res, err := node.Update(context.Background(), pid, &update.UpdateActor{ToVersion: 2})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(res.GetOutcome(), res.GetFromVersion(), "→", res.GetToVersion())

	node.Root().Send(pid, &increment{})
	v, _ := node.Root().RequestFuture(pid, &total{}, time.Second).Result()
	fmt.Println(v)
	// Output:
	// OUTCOME_COMMITTED 1 → 2
	// v2: 4 after 1 update
}

// An UpdateActor can be sent with Request from anywhere; the UpdateResult
// comes back to the sender.
func ExampleNode_Update_request() {
	cat := registry.New()
	_ = registry.Register(cat, "counter", 1, func() *CounterV1 { return &CounterV1{} })
	_ = registry.Register(cat, "counter", 2, func() *CounterV2 { return &CounterV2{} })

	node := molt.NewNode(cat)
	defer node.Shutdown()
	pid, _ := node.Spawn("counter", 1)

	// No migration from 1 to 2 is registered: the update is rejected and
	// the actor goes on as it was.
	v, _ := node.Root().RequestFuture(pid, &update.UpdateActor{ToVersion: 2}, time.Second).Result()
	res := v.(*update.UpdateResult)
	fmt.Println(res.GetOutcome(), "in", res.GetPhase())
	fmt.Println(res.GetReason())
	// Output:
	// OUTCOME_REJECTED in PHASE_INITIALIZATION
	// registry: no migration path: counter from version 1 to 2; register an up migration with registry.Migrate(cat, "counter", 1, 2, fn) or through versions in between
}
