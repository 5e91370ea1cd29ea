package admin_test

import (
	"fmt"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/admin"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update/manager"
)

type greeterV1 struct{}

func (*greeterV1) Receive(pa.Context) {}

type greeterV2 struct{}

func (*greeterV2) Receive(pa.Context) {}

// An operator's tool lists a node's actors and updates one, through the
// admin; from another process the PID would be
// actor.NewPID(nodeAddress, admin.DefaultName).
func Example() {
	cat := registry.New()
	_ = registry.Register(cat, "greeter", 1, func() *greeterV1 { return &greeterV1{} })
	_ = registry.Register(cat, "greeter", 2, func() *greeterV2 { return &greeterV2{} })
	_ = registry.Migrate(cat, "greeter", 1, 2, func(*greeterV1) (*greeterV2, error) { return &greeterV2{}, nil })
	node := molt.NewNode(cat)
	defer node.Shutdown()
	m := manager.Spawn(node)
	defer m.Stop()
	a, err := admin.Spawn(node, m, admin.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Stop()
	_, _ = node.Spawn("greeter", 1, molt.WithName("hello"))

	pid := pa.NewPID(node.System().Address(), admin.DefaultName)
	res, _ := node.Root().RequestFuture(pid, &admin.UpdateActors{Name: "hello", ToVersion: 2}, 5*time.Second).Result()
	fmt.Println(res.(*admin.UpdateActorsResult).GetResults()[0].GetOutcome())

	res, _ = node.Root().RequestFuture(pid, &admin.ListActors{Kind: "greeter"}, 5*time.Second).Result()
	for _, info := range res.(*admin.ActorList).GetActors() {
		fmt.Println(info.GetName(), info.GetVersion(), info.GetLastUpdate().GetOutcome())
	}
	// Output:
	// OUTCOME_COMMITTED
	// hello 2 OUTCOME_COMMITTED
}
