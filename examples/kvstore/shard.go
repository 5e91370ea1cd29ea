package main

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
)

// Kind is the shards' kind in the catalogue; ShardLabel is the label every
// shard is spawned with, so that a package can select them all.
const (
	Kind       = "kvshard"
	ShardLabel = "kind"
)

// The messages of the kvshard kind are protobuf (kvstore.proto): the HTTP
// layer asks its shards in process, but during a takeover a shard that
// moved to another process gets them forwarded, and answers across the
// processes. Every write is answered only once it is durable (molt.Persist):
// Ack, or Failed with the write undone.

// api1 is what version 1 accepts. The TTL requests are in it although
// version 1 cannot serve them: it answers them with Unsupported rather than
// leave the requester to time out, so that a TTL request that reaches a
// shard still on version 1 (before a rollout, or after a rollback) gets a
// clear refusal; and declaring them is what lets a rollback 2→1 pass the
// message-interface check.
var api1 = []any{&Get{}, &Put{}, &Delete{}, &List{}, &Info{}, &PutTTL{}, &GetTTL{}}

// ShardV1 is version 1 of a shard: plain values, no expiry.
type ShardV1 struct {
	Data map[string][]byte
}

func (s *ShardV1) Receive(ctx actor.Context) {
	if s.Data == nil {
		// A fresh value from the factory, or one decoded from an empty map.
		s.Data = map[string][]byte{}
	}
	switch m := ctx.Message().(type) {
	case *Get:
		v, ok := s.Data[m.Key]
		ctx.Respond(&Value{Value: v, Found: ok, Version: 1})
	case *Put:
		undo := s.keep(m.Key)
		s.Data[m.Key] = m.Value
		if durable(ctx, 1, undo) {
			ctx.Respond(&Ack{Version: 1})
		}
	case *Delete:
		_, ok := s.Data[m.Key]
		undo := s.keep(m.Key)
		delete(s.Data, m.Key)
		if !ok || durable(ctx, 1, undo) {
			ctx.Respond(&Deleted{Found: ok, Version: 1})
		}
	case *List:
		keys, more := listKeys(m, func(yield func(string) bool) {
			for k := range s.Data {
				if !yield(k) {
					return
				}
			}
		})
		ctx.Respond(&Listing{Keys: keys, More: more, Version: 1})
	case *Info:
		ctx.Respond(&ShardInfo{Version: 1, Keys: int64(len(s.Data))})
	case *PutTTL, *GetTTL:
		ctx.Respond(&Unsupported{Version: 1, Message: typeName(m)})
	}
}

// keep returns what puts key back as it is now.
func (s *ShardV1) keep(key string) func() {
	v, ok := s.Data[key]
	return func() {
		if ok {
			s.Data[key] = v
		} else {
			delete(s.Data, key)
		}
	}
}

// durable makes a write durable before it is acknowledged: it persists the
// shard's state (molt.Persist returns once the store says it is durable)
// and reports true; if that fails, it undoes the write, answers Failed
// and reports false. A write is thus acknowledged only once a kill -9
// cannot lose it, and one that could not be made durable leaves no trace
// for a later read or snapshot.
func durable(ctx actor.Context, version uint32, undo func()) bool {
	if err := molt.Persist(ctx); err != nil {
		undo()
		ctx.Respond(&Failed{Version: version, Reason: err.Error()})
		return false
	}
	return true
}

// Entry is a value of version 2, with its expiry.
type Entry struct {
	Value []byte
	// ExpiresAt is when the entry expires, in Unix nanoseconds (an
	// integer rather than a time.Time, so that the codec carries it
	// exactly); 0 means never.
	ExpiresAt int64
}

func (e Entry) expired(now int64) bool { return e.ExpiresAt != 0 && e.ExpiresAt <= now }

// ShardV2 is version 2 of a shard: values gain an expiry, and the TTL
// requests are served.
//
// Expired entries are dropped lazily: a read treats them as absent, and
// each write looks at a few entries and drops the expired ones, so that a
// shard needs no timer (a timer would be a resource for every update to
// stop and restart) and keys that are never read again still go.
type ShardV2 struct {
	Data map[string]Entry
}

// sweepPerWrite is how many entries a write looks at for expiry.
const sweepPerWrite = 4

func (s *ShardV2) Receive(ctx actor.Context) {
	if s.Data == nil {
		s.Data = map[string]Entry{}
	}
	now := time.Now().UnixNano()
	switch m := ctx.Message().(type) {
	case *Get:
		e, ok := s.live(m.Key, now)
		ctx.Respond(&Value{Value: e.Value, Found: ok, Version: 2})
	case *Put:
		s.sweep(now)
		undo := s.keep(m.Key)
		s.Data[m.Key] = Entry{Value: m.Value}
		if durable(ctx, 2, undo) {
			ctx.Respond(&Ack{Version: 2})
		}
	case *PutTTL:
		s.sweep(now)
		undo := s.keep(m.Key)
		s.Data[m.Key] = Entry{Value: m.Value, ExpiresAt: now + m.TtlNanos}
		if durable(ctx, 2, undo) {
			ctx.Respond(&Ack{Version: 2})
		}
	case *GetTTL:
		e, ok := s.live(m.Key, now)
		ctx.Respond(&TTLInfo{Found: ok, ExpiresAt: e.ExpiresAt, Version: 2})
	case *Delete:
		_, ok := s.live(m.Key, now)
		undo := s.keep(m.Key)
		delete(s.Data, m.Key)
		if !ok || durable(ctx, 2, undo) {
			ctx.Respond(&Deleted{Found: ok, Version: 2})
		}
	case *List:
		keys, more := listKeys(m, liveKeys(s.Data, now))
		ctx.Respond(&Listing{Keys: keys, More: more, Version: 2})
	case *Info:
		ctx.Respond(&ShardInfo{Version: 2, Keys: countLive(s.Data, now)})
	}
}

// keep returns what puts key back as it is now. (Entries the sweep
// dropped stay dropped: they had expired, and no reader could see them.)
func (s *ShardV2) keep(key string) func() {
	e, ok := s.Data[key]
	return func() {
		if ok {
			s.Data[key] = e
		} else {
			delete(s.Data, key)
		}
	}
}

// live returns key's entry if it has not expired, and drops it if it has.
func (s *ShardV2) live(key string, now int64) (Entry, bool) {
	e, ok := s.Data[key]
	if ok && e.expired(now) {
		delete(s.Data, key)
		return Entry{}, false
	}
	return e, ok
}

// sweep drops the expired entries among a few: Go's map iteration starts
// at a random place, so over many writes every entry is looked at.
func (s *ShardV2) sweep(now int64) {
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

// CheckInvariants implements update.Checker: an expiry is a time, never
// negative, so a migration that fills it with garbage is caught before the
// switch.
func (s *ShardV2) CheckInvariants() error {
	for k, e := range s.Data {
		if e.ExpiresAt < 0 {
			return fmt.Errorf("kvshard: key %q expires at %d, before 1970", k, e.ExpiresAt)
		}
	}
	return nil
}

// migrateUp gives every value of version 1 an entry that never expires.
func migrateUp(old *ShardV1) (*ShardV2, error) {
	data := make(map[string]Entry, len(old.Data))
	for k, v := range old.Data {
		data[k] = Entry{Value: v}
	}
	return &ShardV2{Data: data}, nil
}

// migrateDown takes the values back to version 1, which cannot expire
// them. Dropping the expiry would keep alive forever what a client asked
// to go (a session, a lock), which is worse than a refused rollback; so a
// shard with a key whose TTL is still running refuses, the rollback aborts
// with the shard on version 2 and its TTLs intact, and the reason says
// which key and when the last TTL ends. Entries already expired are
// dropped: no reader can see them anyway.
func migrateDown(now func() time.Time) func(*ShardV2) (*ShardV1, error) {
	return func(old *ShardV2) (*ShardV1, error) {
		t := now().UnixNano()
		data := make(map[string][]byte, len(old.Data))
		var live []string
		var last int64
		for k, e := range old.Data {
			switch {
			case e.ExpiresAt == 0:
				data[k] = e.Value
			case !e.expired(t):
				live = append(live, k)
				last = max(last, e.ExpiresAt)
			}
		}
		if len(live) > 0 {
			slices.Sort(live)
			return nil, fmt.Errorf("kvshard: %d keys have a live TTL (%s), which version 1 cannot expire; delete them or wait until %s",
				len(live), quoteFew(live, 3), time.Unix(0, last).UTC().Format(time.RFC3339))
		}
		return &ShardV1{Data: data}, nil
	}
}

// Register adds what the current release runs of the kvshard kind to cat:
// versions 1 and 2 and the migrations between them. The next release
// (RegisterNext) runs version 3 instead.
func Register(cat *registry.Catalog) error {
	return errors.Join(
		registry.Register(cat, Kind, 1, func() *ShardV1 { return &ShardV1{Data: map[string][]byte{}} },
			registry.Accepts(api1...)),
		registry.Register(cat, Kind, 2, func() *ShardV2 { return &ShardV2{Data: map[string]Entry{}} },
			registry.Accepts(api1...)),
		registry.Migrate(cat, Kind, 1, 2, migrateUp),
		registry.Migrate(cat, Kind, 2, 1, migrateDown(time.Now)),
	)
}

// listKeys returns, in order, the first m.Limit keys that start with
// m.Prefix, and whether any were left out. It keeps at most m.Limit keys
// at a time, so a listing costs memory by its limit, not by the shard's
// size.
func listKeys(m *List, keys func(yield func(string) bool)) (out []string, more bool) {
	for k := range keys {
		if !strings.HasPrefix(k, m.Prefix) {
			continue
		}
		if len(out) >= int(m.Limit) {
			more = true
			if len(out) == 0 || k >= out[len(out)-1] {
				continue
			}
			out = out[:len(out)-1]
		}
		i, _ := slices.BinarySearch(out, k)
		out = slices.Insert(out, i, k)
	}
	return out, more
}

func quoteFew(keys []string, n int) string {
	q := make([]string, 0, n)
	for _, k := range keys[:min(n, len(keys))] {
		q = append(q, fmt.Sprintf("%q", k))
	}
	if len(keys) > n {
		q = append(q, fmt.Sprintf("and %d more", len(keys)-n))
	}
	return strings.Join(q, ", ")
}

func typeName(m any) string { return reflect.TypeOf(m).Elem().Name() }

// The shards take part in updates without hooks: every message is handled
// within one Receive, so a shard is stable between any two, and an update
// reaches it at once.
var _ update.Checker = (*ShardV2)(nil)

// expiring is an entry of a version with expiry times (2 and later).
type expiring interface{ expired(now int64) bool }

// liveKeys yields the keys of data whose entries have not expired at now.
func liveKeys[E expiring](data map[string]E, now int64) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for k, e := range data {
			if !e.expired(now) && !yield(k) {
				return
			}
		}
	}
}

// countLive counts the entries of data that have not expired at now.
func countLive[E expiring](data map[string]E, now int64) int64 {
	n := int64(0)
	for _, e := range data {
		if !e.expired(now) {
			n++
		}
	}
	return n
}
