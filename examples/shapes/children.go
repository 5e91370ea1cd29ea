package shapes

import (
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
)

// Messages of the tally kind and its shards.
type (
	Count    struct{ Key string }
	GetCount struct{ Key string }
	// Counted answers GetCount.
	Counted struct {
		Key string
		N   int64
	}
	// GetShards asks a sharded tally for its children; Shards answers.
	GetShards struct{}
	Shards    struct{ PIDs []*actor.PID }
	// SeedCount hands a shard the count its parent carried from version 1.
	SeedCount struct {
		Key string
		N   int64
	}
)

// NumShards is how many children a sharded tally spreads its keys over.
const NumShards = 4

// TallyV1 counts every key itself.
type TallyV1 struct {
	Counts map[string]int64
}

func (t *TallyV1) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Count:
		if t.Counts == nil {
			t.Counts = map[string]int64{}
		}
		t.Counts[m.Key]++
	case *GetCount:
		ctx.Respond(&Counted{Key: m.Key, N: t.Counts[m.Key]})
	}
}

// TallyV2 keeps no count: each key's count lives in one of its children,
// molt actors of kind tally-shard, so that they can be updated on their own.
type TallyV2 struct {
	Shards []*actor.PID
	// Seed is what the migration from version 1 carried, until
	// VersionChanged hands it to the shards.
	Seed map[string]int64
}

func (t *TallyV2) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *update.VersionChanged:
		if len(t.Shards) == 0 { // from version 1: later versions carry the shards
			t.spawnShards(ctx)
		}
	case *Count:
		ctx.Forward(shardOf(t.Shards, m.Key))
	case *GetCount:
		ctx.Forward(shardOf(t.Shards, m.Key)) // the shard answers the sender
	case *GetShards:
		ctx.Respond(&Shards{PIDs: t.Shards})
	}
}

// spawnShards runs in the replacement phase. A panic there puts version 1
// back with its counts, so the shards already spawned are stopped first:
// they would outlive an update that never happened.
func (t *TallyV2) spawnShards(ctx actor.Context) {
	node := molt.NodeOf(ctx)
	for range NumShards {
		pid, err := node.Spawn("tally-shard", 1, molt.WithParent(ctx))
		if err != nil {
			for _, s := range t.Shards {
				ctx.Stop(s)
			}
			panic(fmt.Sprintf("tally: cannot spawn its shards: %v", err))
		}
		t.Shards = append(t.Shards, pid)
	}
	// Sent before any held message is forwarded, from the same sender:
	// each shard has its seed before the first Count.
	for key, n := range t.Seed {
		ctx.Send(shardOf(t.Shards, key), &SeedCount{Key: key, N: n})
	}
	t.Seed = nil
}

func shardOf(shards []*actor.PID, key string) *actor.PID {
	h := fnv.New32a()
	h.Write([]byte(key))
	return shards[h.Sum32()%uint32(len(shards))]
}

// TallyV3 also counts the messages it routed: a later update of the parent,
// which keeps the children it has.
type TallyV3 struct {
	Shards []*actor.PID
	Routed int64
}

func (t *TallyV3) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Count:
		t.Routed++
		ctx.Forward(shardOf(t.Shards, m.Key))
	case *GetCount:
		ctx.Forward(shardOf(t.Shards, m.Key))
	case *GetShards:
		ctx.Respond(&Shards{PIDs: t.Shards})
	}
}

// CheckInvariants implements update.Checker: a version 3 with no shards
// would panic on its first message.
func (t *TallyV3) CheckInvariants() error {
	if len(t.Shards) != NumShards {
		return fmt.Errorf("tally: %d shards, want %d", len(t.Shards), NumShards)
	}
	return nil
}

// TallyShardV1 counts the keys of one shard.
type TallyShardV1 struct {
	Counts map[string]int64
}

func (s *TallyShardV1) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *SeedCount:
		s.add(m.Key, m.N)
	case *Count:
		s.add(m.Key, 1)
	case *GetCount:
		ctx.Respond(&Counted{Key: m.Key, N: s.Counts[m.Key]})
	}
}

func (s *TallyShardV1) add(key string, n int64) {
	if s.Counts == nil {
		s.Counts = map[string]int64{}
	}
	s.Counts[key] += n
}

// RegisterTallyShard adds the shards' kind to cat.
func RegisterTallyShard(cat *registry.Catalog) error {
	return registry.Register(cat, "tally-shard", 1, func() *TallyShardV1 { return &TallyShardV1{} })
}

// RegisterTally adds the tally kind to cat. Its version 2 needs the shards'
// kind too.
func RegisterTally(cat *registry.Catalog) error {
	sharded := registry.Accepts(&Count{}, &GetCount{}, &GetShards{})
	return errors.Join(
		registry.Register(cat, "tally", 1, func() *TallyV1 { return &TallyV1{} },
			registry.Accepts(&Count{}, &GetCount{})),
		registry.Register(cat, "tally", 2, func() *TallyV2 { return &TallyV2{} }, sharded),
		registry.Register(cat, "tally", 3, func() *TallyV3 { return &TallyV3{} }, sharded),
		registry.Migrate(cat, "tally", 1, 2, func(old *TallyV1) (*TallyV2, error) {
			return &TallyV2{Seed: old.Counts}, nil
		}),
		registry.Migrate(cat, "tally", 2, 3, func(old *TallyV2) (*TallyV3, error) {
			return &TallyV3{Shards: old.Shards}, nil
		}),
		registry.Migrate(cat, "tally", 3, 2, func(old *TallyV3) (*TallyV2, error) {
			return &TallyV2{Shards: old.Shards}, nil
		}),
	)
}
