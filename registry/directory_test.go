package registry_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/internal/directory"
	"github.com/molt-go/molt/registry"
	"pgregory.net/rapid"
)

func pid(id string) *actor.PID { return actor.NewPID("nonhost", id) }

// newDirectory returns an empty directory and its write side, as a node
// holds them.
func newDirectory() (*registry.Directory, directory.Writer) {
	d := registry.DirectoryOf()
	return d, directory.WriterOf(d)
}

func TestDirectory(t *testing.T) {
	type op func(w directory.Writer)
	add := func(id, kind string, v uint32) op {
		return func(w directory.Writer) { w.Add(pid(id), kind, v, nil) }
	}
	set := func(id, kind string, v uint32) op {
		return func(w directory.Writer) { w.Set(pid(id), kind, v) }
	}
	remove := func(id string) op { return func(w directory.Writer) { w.Remove(pid(id)) } }
	type want struct {
		id      string
		found   bool
		kind    string
		version uint32
	}
	tests := []struct {
		name string
		ops  []op
		want []want
		len  int
	}{
		{"add", []op{add("a", "counter", 1)}, []want{{"a", true, "counter", 1}, {"b", false, "", 0}}, 1},
		{"add keeps the first entry", []op{add("a", "counter", 1), add("a", "session", 2)}, []want{{"a", true, "counter", 1}}, 1},
		{"set overwrites", []op{add("a", "counter", 1), set("a", "counter", 3)}, []want{{"a", true, "counter", 3}}, 1},
		{"set adds", []op{set("a", "counter", 2)}, []want{{"a", true, "counter", 2}}, 1},
		{"remove", []op{add("a", "counter", 1), add("b", "counter", 1), remove("a")}, []want{{"a", false, "", 0}, {"b", true, "counter", 1}}, 1},
		{"remove unknown", []op{add("a", "counter", 1), remove("zz")}, []want{{"a", true, "counter", 1}}, 1},
		{"add after remove", []op{add("a", "counter", 1), remove("a"), add("a", "counter", 2)}, []want{{"a", true, "counter", 2}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, w := newDirectory()
			for _, o := range tt.ops {
				o(w)
			}
			for _, w := range tt.want {
				e, ok := d.Lookup(pid(w.id))
				if ok != w.found || e.Kind != w.kind || e.Version != w.version {
					t.Errorf("Lookup(%s) = %+v, %v; want kind %q version %d, %v", w.id, e, ok, w.kind, w.version, w.found)
				}
				if ok && e.PID.GetId() != w.id {
					t.Errorf("Lookup(%s) has PID %v", w.id, e.PID)
				}
			}
			if got := d.Len(); got != tt.len {
				t.Errorf("Len() = %d, want %d", got, tt.len)
			}
		})
	}
}

func TestDirectoryList(t *testing.T) {
	d, w := newDirectory()
	for _, e := range []struct {
		id, kind string
	}{{"c3", "counter"}, {"s1", "session"}, {"c1", "counter"}, {"c2", "counter"}} {
		w.Add(pid(e.id), e.kind, 1, nil)
	}
	ids := func(es []registry.Entry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.PID.GetId())
		}
		return out
	}
	tests := []struct {
		kind string
		want []string
	}{
		{"counter", []string{"c1", "c2", "c3"}},
		{"session", []string{"s1"}},
		{"", []string{"c1", "c2", "c3", "s1"}},
		{"none", nil},
	}
	for _, tt := range tests {
		got := d.List(tt.kind)
		if !slices.Equal(ids(got), tt.want) {
			t.Errorf("List(%q) = %v, want %v", tt.kind, ids(got), tt.want)
		}
		for _, e := range got {
			if tt.kind != "" && e.Kind != tt.kind {
				t.Errorf("List(%q) returned an entry of kind %q", tt.kind, e.Kind)
			}
		}
	}
}

// TestDirectoryConcurrentUse adds, sets, looks up, lists and removes from
// many goroutines at once (run with -race); every goroutine's own actors end
// as it left them.
func TestDirectoryConcurrentUse(t *testing.T) {
	const workers, actors = 8, 100
	d, rec := newDirectory()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			kind := fmt.Sprintf("kind%d", w%2)
			for i := range actors {
				p := pid(fmt.Sprintf("w%d-%03d", w, i))
				rec.Add(p, kind, 1, nil)
				rec.Set(p, kind, 2)
				if e, ok := d.Lookup(p); !ok || e.Version != 2 {
					t.Errorf("Lookup(%v) = %+v, %v right after Set(2)", p, e, ok)
				}
				_ = d.List(kind)
				_ = d.Len()
				if i%2 == 1 {
					rec.Remove(p)
				}
			}
		})
	}
	waitGroup(t, &wg, 10*time.Second, "directory users did not finish")
	if got, want := d.Len(), workers*actors/2; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	for _, kind := range []string{"kind0", "kind1"} {
		if got, want := len(d.List(kind)), workers/2*actors/2; got != want {
			t.Errorf("len(List(%s)) = %d, want %d", kind, got, want)
		}
	}
}

// TestDirectoryKeepsLabelsAcrossVersions: labels given at Add survive Set.
func TestDirectoryKeepsLabelsAcrossVersions(t *testing.T) {
	d, w := newDirectory()
	p := pid("a")
	w.Add(p, "k", 1, map[string]string{"zone": "eu"})
	w.Set(p, "k", 2)
	e, ok := d.Lookup(p)
	if !ok || e.Version != 2 || e.Labels["zone"] != "eu" {
		t.Fatalf("after Set the entry is %+v, want version 2 with its label", e)
	}
}

// TestDirectoryByName finds actors by PID id across addresses, and forgets
// them when they stop.
func TestDirectoryByName(t *testing.T) {
	d, w := newDirectory()
	here, there := actor.NewPID("b-host", "x"), actor.NewPID("a-host", "x")
	w.Add(here, "k", 1, nil)
	w.Add(there, "k", 1, nil)
	w.Add(actor.NewPID("b-host", "y"), "k", 1, nil)
	if got := d.ByName("x"); len(got) != 2 || got[0].PID != there || got[1].PID != here {
		t.Fatalf("ByName(x) = %v, want both x, sorted by address", got)
	}
	w.Remove(there)
	if got := d.ByName("x"); len(got) != 1 || got[0].PID != here {
		t.Fatalf("after Remove: ByName(x) = %v", got)
	}
	w.Remove(here)
	if got := d.ByName("x"); got != nil {
		t.Fatalf("after removing both: ByName(x) = %v", got)
	}
}

// TestDirectoryRange visits the actors of a kind, and stops when told.
func TestDirectoryRange(t *testing.T) {
	d, w := newDirectory()
	for _, id := range []string{"a", "b", "c"} {
		w.Add(actor.NewPID("h", id), "k", 1, nil)
	}
	w.Add(actor.NewPID("h", "x"), "other", 1, nil)
	seen := map[string]bool{}
	d.Range("k", func(e registry.Entry) bool { seen[e.PID.Id] = true; return true })
	if len(seen) != 3 || seen["x"] {
		t.Fatalf("Range(k) visited %v, want a, b and c", seen)
	}
	n := 0
	d.Range("", func(registry.Entry) bool { n++; return n < 2 })
	if n != 2 {
		t.Fatalf("Range went on after fn returned false: %d visits", n)
	}
}

// TestDirectoryOf builds a fixed directory, as a dry run plans against: the
// first of two entries for one PID is kept, and the reads see the rest.
func TestDirectoryOf(t *testing.T) {
	d := registry.DirectoryOf(
		registry.Entry{PID: pid("b"), Kind: "k", Version: 1, Labels: map[string]string{"zone": "eu"}},
		registry.Entry{PID: pid("a"), Kind: "k", Version: 2},
		registry.Entry{PID: pid("b"), Kind: "other", Version: 3},
	)
	if d.Len() != 2 {
		t.Fatalf("Len() = %d, want 2", d.Len())
	}
	if e, ok := d.Lookup(pid("b")); !ok || e.Kind != "k" || e.Version != 1 || e.Labels["zone"] != "eu" {
		t.Errorf("Lookup(b) = %+v, %v; want the first entry for b", e, ok)
	}
	if got := d.List("k"); len(got) != 2 || got[0].PID.GetId() != "a" || got[1].PID.GetId() != "b" {
		t.Errorf("List(k) = %v, want a then b", got)
	}
	if got := registry.DirectoryOf(); got.Len() != 0 || len(got.List("")) != 0 {
		t.Errorf("DirectoryOf() has %d entries, want none", got.Len())
	}
}

// TestDirectoryMatchesAModel runs random adds, sets and removes of actors
// that share ids across addresses (a directory of several nodes) and
// checks every read against a plain map keyed by address and id.
func TestDirectoryMatchesAModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d, w := newDirectory()
		type key struct{ addr, id string }
		model := map[key]registry.Entry{}
		addrs := rapid.SampledFrom([]string{"a:1", "b:2", "c:3"})
		ids := rapid.SampledFrom([]string{"x", "y", "z"})
		pidOf := func(t *rapid.T) (*actor.PID, key) {
			k := key{addrs.Draw(t, "addr"), ids.Draw(t, "id")}
			return actor.NewPID(k.addr, k.id), k
		}
		t.Repeat(map[string]func(*rapid.T){
			"add": func(t *rapid.T) {
				p, k := pidOf(t)
				v := rapid.Uint32Range(1, 3).Draw(t, "version")
				w.Add(p, "kind", v, nil)
				if _, ok := model[k]; !ok {
					model[k] = registry.Entry{PID: p, Kind: "kind", Version: v}
				}
			},
			"set": func(t *rapid.T) {
				p, k := pidOf(t)
				v := rapid.Uint32Range(1, 3).Draw(t, "version")
				w.Set(p, "other", v)
				e := model[k]
				e.PID, e.Kind, e.Version = p, "other", v
				model[k] = e
			},
			"remove": func(t *rapid.T) {
				p, k := pidOf(t)
				w.Remove(p)
				delete(model, k)
			},
			"": func(t *rapid.T) {
				if d.Len() != len(model) {
					t.Fatalf("Len %d, the model has %d", d.Len(), len(model))
				}
				if got := len(d.List("")); got != len(model) {
					t.Fatalf("List has %d entries, the model %d", got, len(model))
				}
				for _, addr := range []string{"a:1", "b:2", "c:3"} {
					for _, id := range []string{"x", "y", "z"} {
						want, wok := model[key{addr, id}]
						got, ok := d.Lookup(actor.NewPID(addr, id))
						if ok != wok || got.Kind != want.Kind || got.Version != want.Version {
							t.Fatalf("Lookup(%s/%s) = %+v %v, the model has %+v %v", addr, id, got, ok, want, wok)
						}
					}
				}
				for _, id := range []string{"x", "y", "z"} {
					var want []string
					for k := range model {
						if k.id == id {
							want = append(want, k.addr)
						}
					}
					slices.Sort(want)
					var got []string
					for _, e := range d.ByName(id) {
						got = append(got, e.PID.GetAddress())
					}
					if !slices.Equal(got, want) {
						t.Fatalf("ByName(%s) on %v, the model has %v", id, got, want)
					}
				}
			},
		})
	})
}
