package main

import (
	"testing"

	"github.com/molt-go/molt/registry/registrytest"
	"pgregory.net/rapid"
)

// counterV3States makes states that satisfy version 3's invariant (the
// carried count and the per-client counts add up to the total), as a run
// of increments would: random ones rarely do.
var counterV3States = rapid.Custom(func(t *rapid.T) *CounterV3 {
	c := &CounterV3{
		PerClient: rapid.MapOfN(rapid.IntRange(0, 50), rapid.Int64Range(0, 1<<40), 0, 8).Draw(t, "per client"),
		Carried:   rapid.Int64Range(0, 1<<40).Draw(t, "carried"),
	}
	c.Total = c.Carried
	for _, n := range c.PerClient {
		c.Total += n
	}
	return c
})

// TestCounterMigrations checks every migration, chain and codec of the
// counter with the migration test kit. Version 3 → 4 is the demo's planted
// bug (the migration forgets the carried count): the kit finds it, and the
// demo shows the update it breaks abort.
func TestCounterMigrations(t *testing.T) {
	cat, err := catalog()
	if err != nil {
		t.Fatal(err)
	}
	registrytest.Check(t, cat, "counter",
		registrytest.States(3, counterV3States),
		registrytest.States(1, rapid.Custom(func(t *rapid.T) *CounterV1 {
			// Version 2 counts in int64, and version 1 in int: a
			// count only grows, so negative ones never happen.
			return &CounterV1{N: rapid.IntRange(0, 1<<40).Draw(t, "n")}
		})),
		registrytest.Lossless(1, 2),
		registrytest.Except("the demo's planted bug: 3→4 forgets the carried count",
			"migration/3-4", "chain/1-4", "chain/2-4"),
	)
}
