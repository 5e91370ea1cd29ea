package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
)

// EntryV3 is a value of version 3: version 2's, and when it was last
// written.
type EntryV3 struct {
	Value []byte
	// ExpiresAt is when the entry expires, in Unix nanoseconds; 0 means
	// never.
	ExpiresAt int64
	// ModifiedAt is when the entry was last written, in Unix nanoseconds;
	// 0 for an entry written before version 3, which did not keep it.
	ModifiedAt int64
}

func (e EntryV3) expired(now int64) bool { return e.ExpiresAt != 0 && e.ExpiresAt <= now }

// ShardV3 is version 3 of a shard, the one the next release runs
// (RegisterNext): version 2's values and expiry, and when each key was
// last written, which GET answers as Last-Modified. It is shipped by a new
// binary that takes over from the running one (-takeover): that binary no
// longer runs versions 1 and 2, but reads their states (RegisterState) and
// migrates them, from a takeover or from a snapshot either wrote.
type ShardV3 struct {
	Data map[string]EntryV3
}

func (s *ShardV3) Receive(ctx actor.Context) {
	if s.Data == nil {
		s.Data = map[string]EntryV3{}
	}
	now := time.Now().UnixNano()
	switch m := ctx.Message().(type) {
	case *Get:
		e, ok := s.live(m.Key, now)
		ctx.Respond(&Value{Value: e.Value, Found: ok, Version: 3, ModifiedAt: e.ModifiedAt})
	case *Put:
		s.sweep(now)
		undo := s.keep(m.Key)
		s.Data[m.Key] = EntryV3{Value: m.Value, ModifiedAt: now}
		if durable(ctx, 3, undo) {
			ctx.Respond(&Ack{Version: 3})
		}
	case *PutTTL:
		s.sweep(now)
		undo := s.keep(m.Key)
		s.Data[m.Key] = EntryV3{Value: m.Value, ExpiresAt: now + m.TtlNanos, ModifiedAt: now}
		if durable(ctx, 3, undo) {
			ctx.Respond(&Ack{Version: 3})
		}
	case *GetTTL:
		e, ok := s.live(m.Key, now)
		ctx.Respond(&TTLInfo{Found: ok, ExpiresAt: e.ExpiresAt, Version: 3})
	case *Delete:
		_, ok := s.live(m.Key, now)
		undo := s.keep(m.Key)
		delete(s.Data, m.Key)
		if !ok || durable(ctx, 3, undo) {
			ctx.Respond(&Deleted{Found: ok, Version: 3})
		}
	case *List:
		keys, more := listKeys(m, liveKeys(s.Data, now))
		ctx.Respond(&Listing{Keys: keys, More: more, Version: 3})
	case *Info:
		ctx.Respond(&ShardInfo{Version: 3, Keys: countLive(s.Data, now)})
	}
}

func (s *ShardV3) live(key string, now int64) (EntryV3, bool) {
	e, ok := s.Data[key]
	if ok && e.expired(now) {
		delete(s.Data, key)
		return EntryV3{}, false
	}
	return e, ok
}

func (s *ShardV3) sweep(now int64) {
	n := 0
	for k, e := range s.Data {
		if e.expired(now) {
			delete(s.Data, k)
		}
		if n++; n == sweepPerWrite {
			return
		}
	}
}

func (s *ShardV3) keep(key string) func() {
	e, ok := s.Data[key]
	return func() {
		if ok {
			s.Data[key] = e
		} else {
			delete(s.Data, key)
		}
	}
}

// CheckInvariants implements update.Checker, as version 2 does.
func (s *ShardV3) CheckInvariants() error {
	for k, e := range s.Data {
		if e.ExpiresAt < 0 || e.ModifiedAt < 0 {
			return fmt.Errorf("kvshard: key %q expires at %d, modified at %d: before 1970", k, e.ExpiresAt, e.ModifiedAt)
		}
	}
	return nil
}

// migrateV2V3 keeps every value and expiry; when each was written is not
// known (0).
func migrateV2V3(old *ShardV2) (*ShardV3, error) {
	data := make(map[string]EntryV3, len(old.Data))
	for k, e := range old.Data {
		data[k] = EntryV3{Value: e.Value, ExpiresAt: e.ExpiresAt}
	}
	return &ShardV3{Data: data}, nil
}

// RegisterNext adds what the next release runs of the kvshard kind to cat:
// version 3, and versions 1 and 2 as states it reads but does not run
// (registry.RegisterState), with the migrations 1→2→3. So the next
// binary takes over shards at version 1 or 2 from a running current one,
// and starts from snapshots either wrote, each migrated to version 3.
//
// The old versions' state types are the same Go types as the current
// release's: a state type is its exported fields, which the msgpack codec
// carries; their behaviour (Receive) is simply not registered here.
func RegisterNext(cat *registry.Catalog) error {
	return errors.Join(
		registry.RegisterState(cat, Kind, 1, func() *ShardV1 { return &ShardV1{Data: map[string][]byte{}} }),
		registry.RegisterState(cat, Kind, 2, func() *ShardV2 { return &ShardV2{Data: map[string]Entry{}} }),
		registry.Register(cat, Kind, 3, func() *ShardV3 { return &ShardV3{Data: map[string]EntryV3{}} },
			registry.Accepts(api1...)),
		registry.Migrate(cat, Kind, 1, 2, migrateUp, registry.Pure()),
		registry.Migrate(cat, Kind, 2, 3, migrateV2V3, registry.Pure()),
	)
}

var _ update.Checker = (*ShardV3)(nil)
