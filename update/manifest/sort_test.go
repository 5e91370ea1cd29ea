package manifest_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update/manifest"
	"pgregory.net/rapid"
)

// unitNames lists the units of each step of a plan by name.
func unitNames(p *manifest.Plan) [][]string {
	var out [][]string
	for _, s := range p.Steps {
		var names []string
		for _, b := range s.Batches {
			for _, u := range b.Units {
				names = append(names, u.Name())
			}
		}
		out = append(out, names)
	}
	return out
}

// Build sorts a step's units by name however the names look: sharing long
// prefixes, equal over 8 bytes and more past them, of every length, with
// zero bytes, in steps of any size. (It sorts a fleet by radix on 8 bytes
// at a time, and small steps by comparison.)
func TestBuildSortsUnitsByName(t *testing.T) {
	cat := plainCatalog(t, "a", "b")
	rapid.Check(t, func(t *rapid.T) {
		prefix := rapid.SampledFrom([]string{"", "m", "fleet-", "tenant-0042/session-"}).Draw(t, "prefix")
		part := rapid.StringOfN(rapid.SampledFrom([]rune{'0', '1', 'x', '\x00', '/', 'é', '\u00ff'}), 0, 14, -1)
		n := rapid.IntRange(0, 700).Draw(t, "n")
		seen := map[string]bool{}
		var live []registry.Entry
		want := map[string][]string{}
		for range n {
			name := prefix + part.Draw(t, "name")
			if name == "" || seen[name] {
				continue
			}
			seen[name] = true
			kind := rapid.SampledFrom([]string{"a", "b"}).Draw(t, "kind")
			live = append(live, registry.Entry{PID: actor.NewPID("h", name), Kind: kind, Version: 1})
			want[kind] = append(want[kind], name)
		}
		p := &manifest.Package{ID: "p", Updates: []manifest.KindUpdate{all("a"), all("b")}}
		if rapid.Bool().Draw(t, "order") {
			p.Order = []manifest.Dependency{{Name: "b", After: []string{"a"}}}
		}
		plan, err := manifest.Build(p, cat, registry.DirectoryOf(live...))
		if err != nil {
			t.Fatal(err)
		}
		var steps [][]string
		if p.Order == nil {
			all := append(want["a"], want["b"]...)
			if len(all) > 0 {
				steps = append(steps, all)
			}
		} else {
			for _, k := range []string{"a", "b"} {
				if len(want[k]) > 0 {
					steps = append(steps, want[k])
				}
			}
		}
		for _, s := range steps {
			slices.Sort(s)
		}
		if got := unitNames(plan); !slices.EqualFunc(got, steps, slices.Equal) {
			t.Fatalf("units by step:\n%q\nwant\n%q", got, steps)
		}
	})
}

// Fleets of names of the fleet-update benchmark's form, of names that
// differ only after their first 8 bytes, and of names that are equal over
// 8 bytes once padded with zeros, come out sorted.
func TestBuildSortsAFleetByName(t *testing.T) {
	cat := plainCatalog(t, "a")
	for _, format := range []string{"m%07d", "%d", "shard-7/customer-%06d/cart", "%x-tail", "x\x00\x00\x00\x00\x00\x00\x00\x00%d", "\x00\x00\x00\x00\x00\x00\x00\x00%d"} {
		var live []registry.Entry
		var want []string
		names := []string{"x", "x\x00", "x\x00\x00\x00", "", "\x00", "\x00\x00\x00"}
		for i := range 5000 {
			names = append(names, fmt.Sprintf(format, (i*7919)%5000))
		}
		for _, name := range names {
			live = append(live, registry.Entry{PID: actor.NewPID("h", name), Kind: "a", Version: 1})
			want = append(want, name)
		}
		slices.Sort(want)
		p := &manifest.Package{ID: "p", Updates: []manifest.KindUpdate{all("a")}}
		plan := build(t, p, cat, registry.DirectoryOf(live...))
		if got := unitNames(plan); len(got) != 1 || !slices.Equal(got[0], want) {
			t.Errorf("%q: the units are not sorted by name: %q…", format, got[0][:min(5, len(got[0]))])
		}
	}
}
