package main

import (
	"fmt"
	"maps"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
)

// The messages of the counter's interface. Every version accepts both.

// Increment adds one to the count. It names the client that sends it:
// versions 3 and 4 count per client.
type Increment struct{ Client int }

// Get asks for the counter's state; the reply is a *Count.
type Get struct{}

// Count is the reply to Get.
type Count struct {
	Version uint32
	// Total is every increment counted so far, by this version and the ones
	// before it.
	Total int64
	// Carried and PerClient are version 3's: the increments counted before it
	// tracked clients, and those counted since, by client.
	Carried   int64
	PerClient map[int]int64
	// From is the version this one was updated from, as its VersionChanged
	// said; 0 if it was spawned at this version.
	From uint32
}

// CounterV1 is the first version: a plain count.
type CounterV1 struct {
	N int

	from uint32 // not state: unexported fields are not migrated
}

// Receive counts increments and answers Get.
func (c *CounterV1) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Increment:
		c.N++
	case *Get:
		ctx.Respond(&Count{Version: 1, Total: int64(c.N), From: c.from})
	case *update.VersionChanged:
		c.from = m.From
	}
}

// checkpointEvery is how many increments version 2 counts between two
// checkpoints.
const checkpointEvery = 10_000

// Save asks the journal to record a total; it answers *Saved.
type Save struct{ Total int64 }

// Saved is the journal's answer to Save.
type Saved struct{ Total int64 }

// journal is the name of the plain protoactor actor that records version
// 2's checkpoints.
const journal = "journal"

// Journal records checkpoints. A write takes a couple of milliseconds, as a
// disk would.
func Journal(ctx actor.Context) {
	if m, ok := ctx.Message().(*Save); ok {
		time.Sleep(2 * time.Millisecond)
		ctx.Respond(&Saved{Total: m.Total})
	}
}

// CounterV2 counts in 64 bits and checkpoints its total to the journal every
// 10,000 increments. A checkpoint in flight is work in progress: the reply
// must come back to this version, not to the next one. So version 2 takes
// part in its update: told that an update is coming, it takes a last
// checkpoint (Notifiable); it is stable only when no checkpoint is in flight
// (Quiescent); and while the update holds the other messages, it lets the
// journal's replies through (Admitter).
type CounterV2 struct {
	Total      int64
	Checkpoint int64 // the last total the journal acknowledged

	inFlight int // not state: always 0 when the state is migrated
	from     uint32
}

// Receive counts increments, checkpoints and answers Get.
func (c *CounterV2) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Increment:
		if c.Total++; c.Total%checkpointEvery == 0 {
			c.checkpoint(ctx)
		}
	case *Saved:
		c.inFlight--
		c.Checkpoint = max(c.Checkpoint, m.Total)
	case *Get:
		ctx.Respond(&Count{Version: 2, Total: c.Total, From: c.from})
	case *update.VersionChanged:
		c.from = m.From
	}
}

func (c *CounterV2) checkpoint(ctx actor.Context) {
	c.inFlight++
	ctx.Request(actor.NewPID(ctx.ActorSystem().Address(), journal), &Save{Total: c.Total})
}

// UpdateComing implements update.Notifiable: take a last checkpoint, so that
// the journal has the total the migration starts from.
func (c *CounterV2) UpdateComing(ctx actor.Context, _ *update.Notice) {
	c.checkpoint(ctx)
}

// Stable implements update.Quiescent: no checkpoint in flight.
func (c *CounterV2) Stable() bool { return c.inFlight == 0 }

// Admit implements update.Admitter: while the update holds the clients'
// increments, the journal's replies still come in.
func (c *CounterV2) Admit(message any) bool {
	_, ok := message.(*Saved)
	return ok
}

// CounterV3 counts per client. The increments counted before version 3 carry
// no client: they are kept in Carried.
type CounterV3 struct {
	PerClient map[int]int64
	Carried   int64
	Total     int64

	from uint32
}

// Receive counts increments per client and answers Get.
func (c *CounterV3) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Increment:
		c.PerClient[m.Client]++
		c.Total++
	case *Get:
		ctx.Respond(&Count{Version: 3, Total: c.Total, Carried: c.Carried, PerClient: maps.Clone(c.PerClient), From: c.from})
	case *update.VersionChanged:
		c.from = m.From
	}
}

// CheckInvariants implements update.Checker: the per-client counts and the
// carried count add up to the total.
func (c *CounterV3) CheckInvariants() error { return checkTotal(c.Carried, c.PerClient, c.Total) }

// CounterV4 names its clients. Its migration from version 3 has a bug: it
// forgets the carried count. Its invariant check catches that before the
// switch, and the update aborts.
type CounterV4 struct {
	ByName  map[string]int64
	Carried int64
	Total   int64
}

// Receive counts increments per client name and answers Get.
func (c *CounterV4) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Increment:
		c.ByName[clientName(m.Client)]++
		c.Total++
	case *Get:
		ctx.Respond(&Count{Version: 4, Total: c.Total, Carried: c.Carried})
	}
}

// CheckInvariants implements update.Checker, as in version 3.
func (c *CounterV4) CheckInvariants() error { return checkTotal(c.Carried, c.ByName, c.Total) }

// checkTotal is the invariant of versions 3 and 4: the carried count and the
// per-client counts add up to the total.
func checkTotal[K comparable](carried int64, perClient map[K]int64, total int64) error {
	sum := carried
	for _, n := range perClient {
		sum += n
	}
	if sum != total {
		return fmt.Errorf("carried %d + per-client counts = %d, but the total is %d", carried, sum, total)
	}
	return nil
}

func clientName(id int) string { return fmt.Sprintf("client-%d", id) }

// catalog registers the counter's four versions and the migrations between
// them: up 1→2→3→4, down 3→2→1. Updates between versions that are not
// neighbours go through the chain.
func catalog() (*registry.Catalog, error) {
	cat := registry.New()
	api := registry.Accepts(&Increment{}, &Get{})
	errs := []error{
		registry.Register(cat, "counter", 1, func() *CounterV1 { return &CounterV1{} }, api,
			registry.Transient("from")), // what VersionChanged said: not state
		registry.Register(cat, "counter", 2, func() *CounterV2 { return &CounterV2{} }, api,
			registry.Transient("inFlight", "from")), // no checkpoint is in flight in a stable state
		// Version 3's state holds a map: a hand-written deep copy isolates
		// the migration's input faster than the default codec round trip.
		registry.Register(cat, "counter", 3, func() *CounterV3 { return &CounterV3{PerClient: map[int]int64{}} }, api,
			registry.Clone(func(c *CounterV3) *CounterV3 {
				return &CounterV3{PerClient: maps.Clone(c.PerClient), Carried: c.Carried, Total: c.Total}
			})),
		registry.Register(cat, "counter", 4, func() *CounterV4 { return &CounterV4{ByName: map[string]int64{}} }, api),

		// Up. These two only read their input: Pure spares the copy.
		registry.Migrate(cat, "counter", 1, 2, func(old *CounterV1) (*CounterV2, error) {
			return &CounterV2{Total: int64(old.N)}, nil
		}, registry.Pure()),
		registry.Migrate(cat, "counter", 2, 3, func(old *CounterV2) (*CounterV3, error) {
			return &CounterV3{PerClient: map[int]int64{}, Carried: old.Total, Total: old.Total}, nil
		}, registry.Pure()),
		registry.Migrate(cat, "counter", 3, 4, func(old *CounterV3) (*CounterV4, error) {
			next := &CounterV4{ByName: make(map[string]int64, len(old.PerClient)), Total: old.Total}
			for id, n := range old.PerClient {
				next.ByName[clientName(id)] = n
			}
			return next, nil // the bug: Carried is not copied
		}),

		// Down. Version 2 cannot tell clients apart: it keeps the total.
		registry.Migrate(cat, "counter", 3, 2, func(old *CounterV3) (*CounterV2, error) {
			return &CounterV2{Total: old.Total}, nil
		}),
		registry.Migrate(cat, "counter", 2, 1, func(old *CounterV2) (*CounterV1, error) {
			return &CounterV1{N: int(old.Total)}, nil
		}),
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return cat, nil
}
