package registry_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/internal/directory"
	"github.com/molt-go/molt/registry"
	"pgregory.net/rapid"
)

// nameRanger is the read that the write side of a directory gives molt's
// own code (manifest.Build): Range with each actor's name and whether it
// is unique.
type nameRanger interface {
	RangeNames(kind string, fn func(name string, e registry.Entry, unique bool) bool)
}

// tb is what these helpers need of a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

func rangeNamesOf(t tb, d *registry.Directory) nameRanger {
	t.Helper()
	r, ok := directory.WriterOf(d).(nameRanger)
	if !ok {
		t.Fatal("the write side of a directory has no RangeNames")
	}
	return r
}

type visit struct {
	addr, name string
	unique     bool
}

// visits returns what RangeNames tells of kind, sorted, and checks that
// each name is its entry's PID id.
func visits(t tb, r nameRanger, kind string) []visit {
	t.Helper()
	var out []visit
	r.RangeNames(kind, func(name string, e registry.Entry, unique bool) bool {
		if name != e.PID.GetId() {
			t.Fatalf("RangeNames gave the name %q for %v", name, e.PID)
		}
		if kind != "" && e.Kind != kind {
			t.Fatalf("RangeNames(%q) gave %v, of kind %q", kind, e.PID, e.Kind)
		}
		out = append(out, visit{e.PID.GetAddress(), name, unique})
		return true
	})
	slices.SortFunc(out, func(a, b visit) int {
		if a.name != b.name {
			return strings.Compare(a.name, b.name)
		}
		return strings.Compare(a.addr, b.addr)
	})
	return out
}

// TestDirectoryRangeNames: in one node every name is unique; an id on two
// addresses is not, for either actor, whatever their kinds, until one
// stops. fn can stop the range.
func TestDirectoryRangeNames(t *testing.T) {
	d, w := newDirectory()
	r := rangeNamesOf(t, d)
	for _, id := range []string{"a", "b", "c"} {
		w.Add(actor.NewPID("h", id), "k", 1, nil)
	}
	w.Add(actor.NewPID("h", "x"), "other", 1, nil)
	if got, want := visits(t, r, "k"), []visit{{"h", "a", true}, {"h", "b", true}, {"h", "c", true}}; !slices.Equal(got, want) {
		t.Fatalf("one node: RangeNames(k) = %v, want %v", got, want)
	}

	w.Add(actor.NewPID("g", "b"), "k", 2, nil)
	w.Add(actor.NewPID("g", "x"), "k", 1, nil) // x on h is of another kind
	if got, want := visits(t, r, "k"), []visit{{"h", "a", true}, {"g", "b", false}, {"h", "b", false}, {"h", "c", true}, {"g", "x", false}}; !slices.Equal(got, want) {
		t.Fatalf("two nodes: RangeNames(k) = %v, want %v", got, want)
	}
	if got, want := visits(t, r, "other"), []visit{{"h", "x", false}}; !slices.Equal(got, want) {
		t.Fatalf("two nodes: RangeNames(other) = %v, want %v", got, want)
	}
	if got := visits(t, r, ""); len(got) != 6 {
		t.Fatalf("RangeNames of every kind = %v, want 6 actors", got)
	}

	w.Remove(actor.NewPID("h", "b")) // b on g takes its place
	w.Remove(actor.NewPID("g", "x"))
	if got, want := visits(t, r, ""), []visit{{"h", "a", true}, {"g", "b", true}, {"h", "c", true}, {"h", "x", true}}; !slices.Equal(got, want) {
		t.Fatalf("after Remove: RangeNames = %v, want %v", got, want)
	}

	w.Add(actor.NewPID("g", "a"), "k", 1, nil)
	for _, stop := range []int{1, 2, 5} {
		n := 0
		r.RangeNames("", func(string, registry.Entry, bool) bool { n++; return n < stop })
		if n != stop {
			t.Fatalf("RangeNames went on after fn returned false: %d visits, want %d", n, stop)
		}
	}
}

// TestDirectoryRangeNamesMatchesAModel runs random adds, sets and removes of
// actors that share ids across addresses and checks RangeNames against a
// plain map keyed by address and id: the same actors as Range, each with
// its id, unique when no other actor has the id.
func TestDirectoryRangeNamesMatchesAModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		d, w := newDirectory()
		r := rangeNamesOf(t, d)
		type key struct{ addr, id string }
		model := map[key]string{} // the kind of each actor
		addrs := rapid.SampledFrom([]string{"a:1", "b:2", "c:3"})
		ids := rapid.SampledFrom([]string{"x", "y", "z", "w"})
		kinds := rapid.SampledFrom([]string{"kind", "other"})
		draw := func(t *rapid.T) (*actor.PID, key) {
			k := key{addrs.Draw(t, "addr"), ids.Draw(t, "id")}
			return actor.NewPID(k.addr, k.id), k
		}
		t.Repeat(map[string]func(*rapid.T){
			"add": func(t *rapid.T) {
				p, k := draw(t)
				kind := kinds.Draw(t, "kind")
				w.Add(p, kind, 1, nil)
				if _, ok := model[k]; !ok {
					model[k] = kind
				}
			},
			"set": func(t *rapid.T) {
				p, k := draw(t)
				kind := kinds.Draw(t, "kind")
				w.Set(p, kind, 2)
				model[k] = kind
			},
			"remove": func(t *rapid.T) {
				p, k := draw(t)
				w.Remove(p)
				delete(model, k)
			},
			"": func(t *rapid.T) {
				named := map[string]int{}
				for k := range model {
					named[k.id]++
				}
				for _, kind := range []string{"", "kind", "other"} {
					var want []visit
					for k, kk := range model {
						if kind == "" || kk == kind {
							want = append(want, visit{k.addr, k.id, named[k.id] == 1})
						}
					}
					slices.SortFunc(want, func(a, b visit) int {
						if a.name != b.name {
							return strings.Compare(a.name, b.name)
						}
						return strings.Compare(a.addr, b.addr)
					})
					if got := visits(t, r, kind); !slices.Equal(got, want) {
						t.Fatalf("RangeNames(%q) = %v, the model has %v", kind, got, want)
					}
				}
			},
		})
	})
}
