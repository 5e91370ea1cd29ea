package manifest_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/molt-go/molt/update/manifest"
)

// The bounds an adversarial package must be refused within.
const (
	refuseTime  = time.Second
	refuseAlloc = 64 << 20
)

// costOf runs f and returns how long it took and how many bytes it
// allocated (over every goroutine, so tests that measure do not run in
// parallel).
func costOf(f func()) (time.Duration, uint64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	f()
	d := time.Since(start)
	runtime.ReadMemStats(&after)
	return d, after.TotalAlloc - before.TotalAlloc
}

// refused loads doc and checks that it is refused, cheaply, with a
// *manifest.LimitError that names limit.
func refused(t *testing.T, name string, r func() io.Reader, f manifest.Format, l manifest.Limits, limit string) {
	t.Helper()
	var err error
	d, alloc := costOf(func() { _, err = manifest.LoadLimited(r(), f, l) })
	t.Logf("%s: refused in %v, %.1f MB allocated: %v", name, d, float64(alloc)/(1<<20), err)
	var le *manifest.LimitError
	if !errors.As(err, &le) || le.Limit != limit {
		t.Fatalf("%s: got %v, want a *manifest.LimitError for %s", name, err, limit)
	}
	if !strings.Contains(err.Error(), "Limits."+limit) || !strings.Contains(err.Error(), "raise") {
		t.Errorf("%s: the error %q does not name Limits.%s or say how to raise it", name, err, limit)
	}
	if alloc > refuseAlloc {
		t.Errorf("%s: allocated %d bytes, want at most %d", name, alloc, refuseAlloc)
	}
	if d > refuseTime && !raceEnabled {
		t.Errorf("%s: took %v, want at most %v", name, d, refuseTime)
	}
}

// repeat is an endless reader of one pattern: a package of any size that
// costs nothing to make.
type repeat struct {
	pattern []byte
	off     int
}

func (r *repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.pattern[r.off]
		r.off = (r.off + 1) % len(r.pattern)
	}
	return len(p), nil
}

func bytesOf(s string) func() io.Reader {
	return func() io.Reader { return strings.NewReader(s) }
}

func TestLoadRefusesAHugePackage(t *testing.T) {
	for _, f := range []manifest.Format{manifest.FormatJSON, manifest.FormatYAML} {
		huge := func() io.Reader {
			return io.MultiReader(strings.NewReader(`{"description": "`), io.LimitReader(&repeat{pattern: []byte("x")}, 100<<20))
		}
		refused(t, "100 MB "+string(f), huge, f, manifest.Limits{}, "MaxBytes")
	}
	// LoadFile reads no more than the limit either.
	path := filepath.Join(t.TempDir(), "huge.json")
	fh, err := os.Create(path)
	must(t, err)
	_, err = io.Copy(fh, io.LimitReader(&repeat{pattern: []byte(" ")}, 100<<20))
	must(t, err)
	must(t, fh.Close())
	var le *manifest.LimitError
	d, alloc := costOf(func() { _, err = manifest.LoadFile(path) })
	if !errors.As(err, &le) || le.Limit != "MaxBytes" || !strings.HasPrefix(err.Error(), path+": ") {
		t.Errorf("LoadFile(100 MB): got %v, want a MaxBytes error that starts with the path", err)
	}
	if alloc > refuseAlloc || (d > refuseTime && !raceEnabled) {
		t.Errorf("LoadFile(100 MB): %v, %d bytes", d, alloc)
	}
}

func TestLoadRefusesDeepNesting(t *testing.T) {
	const levels = 1_000_000
	refused(t, "JSON [", bytesOf(strings.Repeat("[", levels)), manifest.FormatJSON, manifest.Limits{}, "MaxDepth")
	refused(t, "JSON {", bytesOf(strings.Repeat(`{"a":`, levels)), manifest.FormatJSON, manifest.Limits{MaxBytes: 8 << 20}, "MaxDepth")
	refused(t, "YAML flow", bytesOf(strings.Repeat("[", levels)), manifest.FormatYAML, manifest.Limits{}, "MaxDepth")
	refused(t, "YAML block", bytesOf(strings.Repeat("- ", levels)+"x\n"), manifest.FormatYAML, manifest.Limits{MaxBytes: 4 << 20}, "MaxDepth")
	var indented strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&indented, "%sa:\n", strings.Repeat(" ", i))
	}
	refused(t, "YAML indented", bytesOf(indented.String()), manifest.FormatYAML, manifest.Limits{MaxBytes: 8 << 20}, "MaxDepth")
}

func TestLoadRefusesAliasAmplification(t *testing.T) {
	doc := func(aliases, size int) string {
		var b strings.Builder
		b.WriteString("id: &s " + strings.Repeat("x", size) + "\ndescription: [")
		for range aliases {
			b.WriteString("*s,")
		}
		b.WriteString("]\n")
		return b.String()
	}
	refused(t, "100,000 aliases", bytesOf(doc(100_000, 1)), manifest.FormatYAML, manifest.Limits{}, "MaxAliases")
	// Under the count limit, the size with the aliases written out counts.
	refused(t, "1,000 aliases of 10 KB", bytesOf(doc(1000, 10_000)), manifest.FormatYAML, manifest.Limits{}, "MaxBytes")
	// Nested: each level doubles.
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x]\n")
	for i := 1; i < 60; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d]\n", i, i, i-1, i-1)
	}
	refused(t, "doubling aliases", bytesOf(b.String()), manifest.FormatYAML, manifest.Limits{}, "MaxBytes")
}

// orderDoc writes a package whose order section has n entries, each actor
// depending on the next.
func orderDoc(f manifest.Format, n int) string {
	var b strings.Builder
	if f == manifest.FormatJSON {
		b.WriteString(`{"id": "p", "updates": [{"kind": "k", "to": 2, "targets": {"all": true}}], "order": [`)
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "\n{\"name\": \"a%d\", \"after\": [\"a%d\"]}", i, i+1)
		}
		b.WriteString("]}\n")
		return b.String()
	}
	b.WriteString("id: p\nupdates: [{kind: k, to: 2, targets: {all: true}}]\norder:\n")
	for i := range n {
		fmt.Fprintf(&b, "- {name: a%d, after: [a%d]}\n", i, i+1)
	}
	return b.String()
}

func TestLoadRefusesAHugeOrderSection(t *testing.T) {
	for _, f := range []manifest.Format{manifest.FormatJSON, manifest.FormatYAML} {
		doc := orderDoc(f, 100_000)
		refused(t, "100,000 order entries, "+string(f), bytesOf(doc), f, manifest.Limits{}, "MaxBytes")
	}
	// With room for the bytes, the count limit refuses it while reading.
	doc := orderDoc(manifest.FormatJSON, 100_000)
	refused(t, "100,000 order entries, larger MaxBytes", bytesOf(doc), manifest.FormatJSON, manifest.Limits{MaxBytes: 64 << 20}, "MaxOrder")
}

// An order section within the limits is validated in linear time and
// space: the cost of 4n entries is about 4 times that of n, not 16.
func TestValidateLargeOrderIsLinear(t *testing.T) {
	// Two kinds of n named actors, each actor after one of the other kind,
	// and one kind after the other: a dependency on a kind is one on each
	// of its actors, which a graph with an edge per pair makes quadratic.
	pkg := func(n int) *manifest.Package {
		var as, bs []string
		for i := range n {
			as, bs = append(as, fmt.Sprintf("a-%d", i)), append(bs, fmt.Sprintf("b-%d", i))
		}
		p := &manifest.Package{ID: "p", Updates: []manifest.KindUpdate{
			{Kind: "a", To: 2, Targets: manifest.Targets{Actors: as}},
			{Kind: "b", To: 2, Targets: manifest.Targets{Actors: bs}},
			{Kind: "c", To: 2, Targets: manifest.Targets{All: true}},
		}}
		p.Order = append(p.Order, manifest.Dependency{Name: "a", After: []string{"b"}})
		for i := range n {
			p.Order = append(p.Order, manifest.Dependency{Name: as[i], After: []string{bs[i]}})
			p.Order = append(p.Order, manifest.Dependency{Name: bs[i], After: []string{"c"}})
		}
		return p
	}
	cost := func(n int) uint64 {
		p := pkg(n)
		_, alloc := costOf(func() {
			if err := manifest.Validate(p); err != nil {
				t.Fatal(err)
			}
		})
		return alloc
	}
	const n = 2000
	small, large := cost(n), cost(4*n)
	t.Logf("Validate: %d entries %d bytes, %d entries %d bytes", 2*n, small, 8*n, large)
	if large > 8*small {
		t.Errorf("validating 4 times the entries allocates %.1f times the bytes; want about 4", float64(large)/float64(small))
	}
	d, _ := costOf(func() { _ = manifest.Validate(pkg(10_000)) })
	if d > refuseTime && !raceEnabled {
		t.Errorf("validating 20,000 order entries took %v", d)
	}
}
