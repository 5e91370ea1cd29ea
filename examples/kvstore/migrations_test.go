package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/registry/registrytest"
	"pgregory.net/rapid"
)

func newCatalog(t *testing.T) *registry.Catalog {
	t.Helper()
	cat := registry.New()
	if err := Register(cat); err != nil {
		t.Fatalf("registering %s: %v", Kind, err)
	}
	if w := cat.Warnings(); len(w) > 0 {
		t.Fatalf("registering %s warned: %v", Kind, w)
	}
	return cat
}

var keys = rapid.StringMatching(`[a-z/]{1,12}`)

// v2States draws version 2 states with every kind of entry: no expiry, an
// expiry long past, one in the far future (a live TTL, which the down
// migration refuses), and values empty or not.
var v2States = rapid.Custom(func(t *rapid.T) *ShardV2 {
	now := time.Now().UnixNano()
	expiry := rapid.OneOf(
		rapid.Just(int64(0)),
		rapid.Int64Range(1, now-int64(time.Hour)),
		rapid.Int64Range(now+int64(24*time.Hour), now+int64(365*24*time.Hour)),
	)
	entries := rapid.Custom(func(t *rapid.T) Entry {
		return Entry{Value: rapid.SliceOfN(rapid.Byte(), 1, 16).Draw(t, "value"), ExpiresAt: expiry.Draw(t, "expiresAt")}
	})
	return &ShardV2{Data: rapid.MapOfN(keys, entries, 0, 8).Draw(t, "data")}
})

var v1States = rapid.Custom(func(t *rapid.T) *ShardV1 {
	return &ShardV1{Data: rapid.MapOfN(keys, rapid.SliceOfN(rapid.Byte(), 1, 16), 0, 8).Draw(t, "data")}
})

// TestShardMigrations checks the kind with the migration test kit: codecs
// carry every state, 1→2→1 gives the state back, version 2 accepts what
// version 1 does, and 2→1 refuses some states by design (a live TTL).
func TestShardMigrations(t *testing.T) {
	registrytest.Check(t, newCatalog(t), Kind,
		registrytest.States(1, v1States),
		registrytest.States(2, v2States),
		registrytest.Lossless(1, 2),
		registrytest.MayRefuse(2, 1),
	)
}

// TestDownMigration pins the choice documented on migrateDown: a live TTL
// refuses the downgrade and names the key; an expired entry is dropped; a
// value without expiry is kept.
func TestDownMigration(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	down := migrateDown(func() time.Time { return now })

	_, err := down(&ShardV2{Data: map[string]Entry{
		"plain":   {Value: []byte("p")},
		"session": {Value: []byte("s"), ExpiresAt: now.Add(time.Minute).UnixNano()},
	}})
	if err == nil || !strings.Contains(err.Error(), `"session"`) || !strings.Contains(err.Error(), "live TTL") {
		t.Fatalf("a live TTL: got error %v, want a refusal naming the key \"session\"", err)
	}

	v1, err := down(&ShardV2{Data: map[string]Entry{
		"plain": {Value: []byte("p")},
		"gone":  {Value: []byte("g"), ExpiresAt: now.Add(-time.Second).UnixNano()},
	}})
	if err != nil {
		t.Fatalf("no live TTL: %v", err)
	}
	if len(v1.Data) != 1 || string(v1.Data["plain"]) != "p" {
		t.Fatalf("down migration gave %v, want only plain=p (the expired entry dropped)", v1.Data)
	}
}

// TestListKeys checks the bounded selection against sorting everything.
func TestListKeys(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		all := rapid.SliceOfDistinct(keys, rapid.ID).Draw(t, "keys")
		m := &List{Prefix: rapid.StringMatching(`[a-c]{0,2}`).Draw(t, "prefix"), Limit: int32(rapid.IntRange(0, 10).Draw(t, "limit"))}
		got, more := listKeys(m, func(yield func(string) bool) {
			for _, k := range all {
				if !yield(k) {
					return
				}
			}
		})
		var want []string
		for _, k := range all {
			if strings.HasPrefix(k, m.Prefix) {
				want = append(want, k)
			}
		}
		slices.Sort(want)
		wantMore := len(want) > int(m.Limit)
		want = want[:min(int(m.Limit), len(want))]
		if !slices.Equal(got, want) || more != wantMore {
			t.Fatalf("listKeys(%+v) = %v, %v; want %v, %v", m, got, more, want, wantMore)
		}
	})
}

var v3States = rapid.Custom(func(t *rapid.T) *ShardV3 {
	v2 := v2States.Draw(t, "v2")
	data := make(map[string]EntryV3, len(v2.Data))
	for k, e := range v2.Data {
		data[k] = EntryV3{Value: e.Value, ExpiresAt: e.ExpiresAt, ModifiedAt: rapid.Int64Range(0, time.Now().UnixNano()).Draw(t, "modifiedAt")}
	}
	return &ShardV3{Data: data}
})

// TestNextRelease checks the next release's catalogue with the migration
// kit: version 3's codec and invariants. (Versions 1 and 2, state only
// there, are checked by TestSnapshotsAcrossReleases.)
func TestNextRelease(t *testing.T) {
	cat := registry.New()
	if err := RegisterNext(cat); err != nil {
		t.Fatalf("RegisterNext: %v", err)
	}
	if w := cat.Warnings(); len(w) > 0 {
		t.Fatalf("RegisterNext warned: %v", w)
	}
	registrytest.Check(t, cat, Kind, registrytest.States(3, v3States))
}

// TestSnapshotsAcrossReleases seals states as the current release writes
// its snapshots (versions 1 and 2) and opens them as the next release
// does, at version 3: every value and expiry arrives.
func TestSnapshotsAcrossReleases(t *testing.T) {
	current, next := newCatalog(t), registry.New()
	if err := RegisterNext(next); err != nil {
		t.Fatal(err)
	}
	rapid.Check(t, func(t *rapid.T) {
		v1 := v1States.Draw(t, "v1")
		e, err := current.Seal(Kind, 1, v1)
		if err != nil {
			t.Fatalf("sealing version 1: %v", err)
		}
		got, err := next.Open(e, 3)
		if err != nil {
			t.Fatalf("opening version 1 at 3: %v", err)
		}
		v3 := got.(*ShardV3)
		if len(v3.Data) != len(v1.Data) {
			t.Fatalf("version 3 has %d keys, version 1 had %d", len(v3.Data), len(v1.Data))
		}
		for k, v := range v1.Data {
			if e := v3.Data[k]; string(e.Value) != string(v) || e.ExpiresAt != 0 || e.ModifiedAt != 0 {
				t.Fatalf("%q: %+v at version 3, want %q without expiry", k, e, v)
			}
		}

		v2 := v2States.Draw(t, "v2")
		e, err = current.Seal(Kind, 2, v2)
		if err != nil {
			t.Fatalf("sealing version 2: %v", err)
		}
		if got, err = next.Open(e, 3); err != nil {
			t.Fatalf("opening version 2 at 3: %v", err)
		}
		for k, want := range v2.Data {
			if e := got.(*ShardV3).Data[k]; string(e.Value) != string(want.Value) || e.ExpiresAt != want.ExpiresAt {
				t.Fatalf("%q: %+v at version 3, want %+v", k, e, want)
			}
		}
	})
}
