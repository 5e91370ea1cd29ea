package actor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/persist"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
)

// The tally kind keeps named counts. put adds to one and answers once the
// change is persisted; get answers with the state; boom panics after
// changing the state without persisting it.
type (
	put struct {
		Key string
		N   int
	}
	tallyGet  struct{}
	tallyBoom struct{}
	acked     struct {
		Err error
	}
)

type tallyV1 struct{ Counts map[string]int }

type tallyV1State struct{ Counts map[string]int }

type tallyV2 struct {
	Counts map[string]int64
	Total  int64
}

type tallyV3 struct {
	Entries []tallyEntry
	Total   int64
}

type tallyEntry struct {
	Key   string
	Count int64
}

func (s *tallyV1) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case put:
		if s.Counts == nil {
			s.Counts = map[string]int{}
		}
		s.Counts[m.Key] += m.N
		ctx.Respond(acked{molt.Persist(ctx)})
	case tallyBoom:
		s.Counts["lost"]++
		panic("boom")
	case tallyGet:
		ctx.Respond(fmt.Sprint(s.Counts))
	}
}

func (s *tallyV2) Receive(ctx pa.Context) {
	switch m := ctx.Message().(type) {
	case put:
		if s.Counts == nil {
			s.Counts = map[string]int64{}
		}
		s.Counts[m.Key] += int64(m.N)
		s.Total += int64(m.N)
		ctx.Respond(acked{molt.Persist(ctx)})
	case tallyGet:
		ctx.Respond(fmt.Sprint(s.Counts, " total ", s.Total))
	}
}

func (s *tallyV3) Receive(ctx pa.Context) {
	if _, ok := ctx.Message().(tallyGet); ok {
		ctx.Respond(fmt.Sprint(s.Entries, " total ", s.Total))
	}
}

func tallyUp(s map[string]int64) (*tallyV2, error) {
	out := &tallyV2{Counts: s}
	for _, n := range s {
		out.Total += n
	}
	return out, nil
}

func tallyTo3(s *tallyV2) (*tallyV3, error) {
	out := &tallyV3{Total: s.Total}
	for _, k := range []string{"a", "b", "lost"} {
		if n, ok := s.Counts[k]; ok {
			out.Entries = append(out.Entries, tallyEntry{k, n})
		}
	}
	return out, nil
}

func widen(m map[string]int) map[string]int64 {
	out := map[string]int64{}
	for k, v := range m {
		out[k] = int64(v)
	}
	return out
}

// tallyCatalog is the catalogue of the binary that runs versions 1 and 2.
func tallyCatalog(t *testing.T) *registry.Catalog {
	cat := registry.New()
	must(t, registry.Register(cat, "tally", 1, func() *tallyV1 { return &tallyV1{} }))
	must(t, registry.Register(cat, "tally", 2, func() *tallyV2 { return &tallyV2{} }))
	must(t, registry.Migrate(cat, "tally", 1, 2, func(s *tallyV1) (*tallyV2, error) { return tallyUp(widen(s.Counts)) }))
	return cat
}

// laterTallyCatalog is the catalogue of a later binary: it reads version
// 1's state without its behaviour and runs versions 2 and 3.
func laterTallyCatalog(t *testing.T) *registry.Catalog {
	cat := registry.New()
	must(t, registry.RegisterState(cat, "tally", 1, func() *tallyV1State { return &tallyV1State{} }))
	must(t, registry.Register(cat, "tally", 2, func() *tallyV2 { return &tallyV2{} }))
	must(t, registry.Register(cat, "tally", 3, func() *tallyV3 { return &tallyV3{} }))
	must(t, registry.Migrate(cat, "tally", 1, 2, func(s *tallyV1State) (*tallyV2, error) { return tallyUp(widen(s.Counts)) }))
	must(t, registry.Migrate(cat, "tally", 2, 3, tallyTo3))
	return cat
}

func putAcked(t *testing.T, node *molt.Node, pid *pa.PID, key string, n int) {
	t.Helper()
	if a := request(t, node, pid, put{key, n}).(acked); a.Err != nil {
		t.Fatalf("put %s: %v", key, a.Err)
	}
}

func TestPersistentActorStartsFromItsSnapshotAtALaterVersion(t *testing.T) {
	store := persist.Memory()
	defer store.Close()

	old := molt.NewNode(tallyCatalog(t), molt.WithStore(store))
	pid, err := old.Spawn("tally", 1, molt.WithName("t1"), molt.Persistent())
	must(t, err)
	putAcked(t, old, pid, "a", 2)
	putAcked(t, old, pid, "b", 5)
	old.Shutdown()

	later := molt.NewNode(laterTallyCatalog(t), molt.WithStore(store))
	defer later.Shutdown()
	pid, err = later.Spawn("tally", 3, molt.WithName("t1"), molt.Persistent())
	must(t, err)
	if got, want := request(t, later, pid, tallyGet{}), "[{a 2} {b 5}] total 7"; got != want {
		t.Fatalf("v3 started from the v1 snapshot with %q, want %q", got, want)
	}
}

// TestChildSnapshotsAreKeyedByTheSpawnName: an actor spawned under a
// parent (a cluster grain is one) saves its snapshots under the name it
// was spawned with, which is what Spawn loads by, not under its PID id.
func TestChildSnapshotsAreKeyedByTheSpawnName(t *testing.T) {
	store := persist.Memory()
	defer store.Close()
	node := molt.NewNode(tallyCatalog(t), molt.WithStore(store))
	defer node.Shutdown()
	type spawnChild struct{}
	parent, err := node.Root().SpawnNamed(pa.PropsFromFunc(func(ctx pa.Context) {
		if _, ok := ctx.Message().(spawnChild); ok {
			pid, err := node.Spawn("tally", 1, molt.WithParent(ctx), molt.WithName("t9"), molt.Persistent())
			if err != nil {
				ctx.Respond(err)
				return
			}
			ctx.Respond(pid)
		}
	}), "parent")
	must(t, err)
	child := func() *pa.PID {
		switch r := request(t, node, parent, spawnChild{}).(type) {
		case *pa.PID:
			return r
		case error:
			t.Fatalf("spawn under a parent: %v", r)
		}
		return nil
	}
	first := child()
	if first.GetId() != "parent/t9" {
		t.Fatalf("the child's PID id is %q, want parent/t9", first.GetId())
	}
	putAcked(t, node, first, "a", 3)
	if _, err := store.Load(context.Background(), "t9"); err != nil {
		t.Fatalf("no snapshot under the spawn name t9 after an acknowledged put: %v", err)
	}
	must(t, node.Root().StopFuture(first).Wait())
	if got, want := request(t, node, child(), tallyGet{}), "map[a:3]"; got != want {
		t.Fatalf("spawned again under its parent, the actor has %q, want its snapshot's %q", got, want)
	}
}

func TestPersistAfterAnUpdateWritesTheNewVersion(t *testing.T) {
	store := persist.Memory()
	defer store.Close()
	node := molt.NewNode(tallyCatalog(t), molt.WithStore(store))
	defer node.Shutdown()
	pid, err := node.Spawn("tally", 1, molt.WithName("t2"), molt.Persistent())
	must(t, err)
	putAcked(t, node, pid, "a", 1)
	res, err := node.Update(context.Background(), pid, &update.UpdateActor{ToVersion: 2})
	must(t, err)
	if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
		t.Fatalf("update: %v", res)
	}
	putAcked(t, node, pid, "b", 3)
	e, err := store.Load(context.Background(), "t2")
	must(t, err)
	if e.GetVersion() != 2 || e.GetSequence() != 2 || e.GetKind() != "tally" || e.GetName() != "t2" {
		t.Fatalf("latest snapshot is %s v%d seq %d name %q; want tally v2 seq 2 t2", e.GetKind(), e.GetVersion(), e.GetSequence(), e.GetName())
	}
}

func TestRestartLoadsTheLatestSnapshot(t *testing.T) {
	store := persist.Memory()
	defer store.Close()
	node := molt.NewNode(tallyCatalog(t), molt.WithStore(store))
	defer node.Shutdown()
	pid, err := node.Spawn("tally", 1, molt.WithName("t3"), molt.Persistent())
	must(t, err)
	putAcked(t, node, pid, "a", 4)
	node.Root().Send(pid, tallyBoom{}) // changes the state, unpersisted, then panics: the default supervisor restarts it
	if got, want := request(t, node, pid, tallyGet{}), "map[a:4]"; got != want {
		t.Fatalf("after a restart the actor has %q, want its last snapshot %q", got, want)
	}
	putAcked(t, node, pid, "b", 1)
	e, err := store.Load(context.Background(), "t3")
	must(t, err)
	if e.GetSequence() != 2 {
		t.Fatalf("the restarted actor wrote sequence %d, want 2: it must go on from the loaded one", e.GetSequence())
	}
}

func TestSpawnRefusesASnapshotItCannotOpen(t *testing.T) {
	store := persist.Memory()
	defer store.Close()
	node := molt.NewNode(tallyCatalog(t), molt.WithStore(store))
	defer node.Shutdown()

	future := envelope.New("tally", 9, "msgpack", []byte{0x80})
	future.Name, future.Sequence = "t4", 7
	must(t, store.Save(context.Background(), "t4", future))
	_, err := node.Spawn("tally", 2, molt.WithName("t4"), molt.Persistent())
	if !errors.Is(err, registry.ErrUnknownVersion) || !strings.Contains(err.Error(), `"t4"`) {
		t.Fatalf("Spawn over a snapshot of an unknown version = %v; want ErrUnknownVersion naming the actor", err)
	}
	if len(node.Directory().ByName("t4")) != 0 {
		t.Fatal("the refused actor was spawned")
	}
	e, err := store.Load(context.Background(), "t4")
	must(t, err)
	if e.GetVersion() != 9 || e.GetSequence() != 7 {
		t.Fatalf("the refused snapshot changed: v%d seq %d", e.GetVersion(), e.GetSequence())
	}

	if _, err := node.Spawn("tally", 1, molt.Persistent()); !errors.Is(err, molt.ErrNotPersistent) {
		t.Errorf("Persistent without a name = %v, want ErrNotPersistent", err)
	}
	bare := molt.NewNode(tallyCatalog(t))
	defer bare.Shutdown()
	if _, err := bare.Spawn("tally", 1, molt.WithName("x"), molt.Persistent()); !errors.Is(err, molt.ErrNotPersistent) {
		t.Errorf("Persistent without a store = %v, want ErrNotPersistent", err)
	}
	pid, err := bare.Spawn("tally", 1, molt.WithName("y"))
	must(t, err)
	if a := request(t, bare, pid, put{"a", 1}).(acked); !errors.Is(a.Err, molt.ErrNotPersistent) {
		t.Errorf("Persist in an actor that is not persistent = %v, want ErrNotPersistent", a.Err)
	}
}

func TestPersistIsRefusedWhenANewerSnapshotExists(t *testing.T) {
	store := persist.Memory()
	defer store.Close()
	node := molt.NewNode(tallyCatalog(t), molt.WithStore(store))
	defer node.Shutdown()
	pid, err := node.Spawn("tally", 1, molt.WithName("t5"), molt.Persistent())
	must(t, err)
	// Another writer (the process that took the actor over) moved on.
	newer := envelope.New("tally", 1, "msgpack", []byte{0x80})
	newer.Name, newer.Sequence = "t5", 40
	must(t, store.Save(context.Background(), "t5", newer))
	if a := request(t, node, pid, put{"a", 1}).(acked); !errors.Is(a.Err, persist.ErrStale) {
		t.Fatalf("Persist under a newer snapshot = %v, want persist.ErrStale", a.Err)
	}
}
