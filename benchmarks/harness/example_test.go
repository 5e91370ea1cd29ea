package harness_test

import (
	"context"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/benchmarks/harness"
	"github.com/molt-go/molt/registry"
)

// Your kind: an inventory whose version 2 keys its stock by SKU.

type Restock struct {
	SKU   string
	Count int
}

type InventoryV1 struct{ Stock map[string]int }

func (i *InventoryV1) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*Restock); ok {
		i.Stock[m.SKU] += m.Count
	}
}

type Item struct {
	SKU   string
	Count int
}

type InventoryV2 struct{ Items []Item }

func (i *InventoryV2) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*Restock); ok {
		i.Items = append(i.Items, Item{m.SKU, m.Count})
	}
}

// ExampleMeasureUpdateLatency measures how long updating your own kind
// takes, with your state and your migrations, and prints the same table as
// `go run ./benchmarks` (harness.WriteTable), or JSON (harness.WriteJSON),
// or charts (harness.Plot).
func ExampleMeasureUpdateLatency() {
	cat := registry.New()
	_ = registry.Register(cat, "inventory", 1, func() *InventoryV1 { return &InventoryV1{Stock: map[string]int{}} })
	_ = registry.Register(cat, "inventory", 2, func() *InventoryV2 { return &InventoryV2{} })
	_ = registry.Migrate(cat, "inventory", 1, 2, func(o *InventoryV1) (*InventoryV2, error) {
		n := &InventoryV2{}
		for sku, count := range o.Stock {
			n.Items = append(n.Items, Item{sku, count})
		}
		return n, nil
	})
	_ = registry.Migrate(cat, "inventory", 2, 1, func(o *InventoryV2) (*InventoryV1, error) {
		n := &InventoryV1{Stock: map[string]int{}}
		for _, it := range o.Items {
			n.Stock[it.SKU] += it.Count
		}
		return n, nil
	})

	target := harness.Target{
		Catalog: cat,
		Kind:    "inventory", // updated 1→2→1→… (Versions: {1, 2})
		// The state to measure with: 1,000 SKUs in stock.
		Prepare: func(ctx context.Context, node *molt.Node, pid *actor.PID) error {
			for i := range 1000 {
				node.Root().Send(pid, &Restock{SKU: fmt.Sprintf("sku-%d", i), Count: i})
			}
			return nil
		},
	}
	// Config{} measures for 1s after a 100ms warm-up; here 200 updates.
	res, err := harness.MeasureUpdateLatency(context.Background(), harness.Config{Count: 200, Warmup: 10 * time.Millisecond}, target)
	if err != nil {
		fmt.Println(err)
		return
	}
	c := res.Cases[0]
	fmt.Println(c.Name, c.Latency.Count, "updates committed")
	// harness.WriteTable(os.Stdout, res) prints p50, p90, p99, p99.9, max
	// and the phases' own time.

	// Output: inventory 200 updates committed
}
