package registrytest

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The planted bugs below fail on purpose: rapid must not save their
	// failures as files to replay.
	if err := flag.Set("rapid.nofailfile", "true"); err != nil {
		panic(err)
	}
	goleak.VerifyTestMain(m)
}

// recorder is a rapid.TB that keeps what a check says instead of failing
// the test, so that a test can assert that a property fails and how.
type recorder struct {
	name   string
	out    strings.Builder
	failed bool
}

func (r *recorder) Helper()                          {}
func (r *recorder) Name() string                     { return r.name }
func (r *recorder) Logf(format string, args ...any)  { fmt.Fprintf(&r.out, format+"\n", args...) }
func (r *recorder) Log(args ...any)                  { fmt.Fprintln(&r.out, args...) }
func (r *recorder) Skipf(format string, args ...any) {}
func (r *recorder) Skip(args ...any)                 {}
func (r *recorder) SkipNow()                         {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failed = true
	r.Logf(format, args...)
}
func (r *recorder) Error(args ...any) { r.failed = true; r.Log(args...) }
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
}
func (r *recorder) Fatal(args ...any) { r.Error(args...) }
func (r *recorder) FailNow()          { r.failed = true }
func (r *recorder) Fail()             { r.failed = true }
func (r *recorder) Failed() bool      { return r.failed }

// run runs the property named name of kind's kit and returns what it said,
// and whether it failed.
func run(t *testing.T, cat *registry.Catalog, kind, name string, opts ...Option) (string, bool) {
	t.Helper()
	k, err := newKit(cat, kind, opts)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range k.properties() {
		names = append(names, p.name)
		if p.name != name {
			continue
		}
		r := &recorder{name: t.Name() + "/" + name}
		k.check(r, p)
		return r.out.String(), r.failed
	}
	t.Fatalf("the kit has no property %q; it has %v", name, names)
	return "", false
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantFailure(t *testing.T, out string, failed bool, mentions ...string) {
	t.Helper()
	if os.Getenv("SHOW") != "" {
		t.Log(out)
	}
	if !failed {
		t.Fatalf("the property passed; want it to find the planted bug. It said:\n%s", out)
	}
	for _, m := range mentions {
		if !strings.Contains(out, m) {
			t.Errorf("the failure does not mention %q; it said:\n%s", m, out)
		}
	}
}

type base struct{}

func (base) Receive(pa.Context) {}

// A migration that breaks the new version's invariant for large values.
type doubleV1 struct {
	base
	N int
}
type doubleV2 struct {
	base
	N, Double int
}

func (d *doubleV2) CheckInvariants() error {
	if d.Double != 2*d.N {
		return fmt.Errorf("Double is %d, not twice N (%d)", d.Double, d.N)
	}
	return nil
}

func TestFindsMigrationThatBreaksInvariant(t *testing.T) {
	cat := registry.New()
	must(t, registry.Register(cat, "k", 1, func() *doubleV1 { return &doubleV1{} }))
	must(t, registry.Register(cat, "k", 2, func() *doubleV2 { return &doubleV2{} }))
	must(t, registry.Migrate(cat, "k", 1, 2, func(o *doubleV1) (*doubleV2, error) {
		if o.N > 100 {
			return &doubleV2{N: o.N, Double: o.N}, nil // the planted bug
		}
		return &doubleV2{N: o.N, Double: 2 * o.N}, nil
	}))
	out, failed := run(t, cat, "k", "migration/1-2")
	// The smallest state that breaks it is N = 101.
	wantFailure(t, out, failed, "breaks version 2's invariants", "Double is 101, not twice N (101)", "N:101}")
}

// A down migration declared lossless that drops a field.
type pairV1 struct {
	base
	A, B int
}
type pairV2 struct {
	base
	A int
}

func TestFindsLossyDownMigrationDeclaredLossless(t *testing.T) {
	cat := registry.New()
	must(t, registry.Register(cat, "k", 1, func() *pairV1 { return &pairV1{} }))
	must(t, registry.Register(cat, "k", 2, func() *pairV2 { return &pairV2{} }))
	must(t, registry.Migrate(cat, "k", 1, 2, func(o *pairV1) (*pairV2, error) { return &pairV2{A: o.A}, nil }))
	must(t, registry.Migrate(cat, "k", 2, 1, func(o *pairV2) (*pairV1, error) { return &pairV1{A: o.A}, nil }))
	out, failed := run(t, cat, "k", "lossless/1-2", Lossless(1, 2))
	// rapid shrinks B towards 0 from either side: the smallest state is
	// B = 1 or B = -1.
	wantFailure(t, out, failed, "declared lossless", ", then 0", "A:0, B:")
	if !strings.Contains(out, "state.B: 1, then 0") && !strings.Contains(out, "state.B: -1, then 0") {
		t.Errorf("the failure does not report the smallest state, B = 1 or -1:\n%s", out)
	}

	// Not declared, the same kind passes everything else.
	k, err := newKit(cat, "k", nil)
	must(t, err)
	for _, p := range k.properties() {
		if strings.HasPrefix(p.name, "lossless/") {
			t.Errorf("a lossless property %s without Lossless", p.name)
		}
	}
}

// A direct migration that disagrees with the chain it shortcuts.
type numV1 struct {
	base
	N int32
}
type numV2 struct {
	base
	N int64
}
type numV3 struct {
	base
	N int64
}

func TestFindsShortcutThatDisagreesWithChain(t *testing.T) {
	cat := registry.New()
	must(t, registry.Register(cat, "k", 1, func() *numV1 { return &numV1{} }))
	must(t, registry.Register(cat, "k", 2, func() *numV2 { return &numV2{} }))
	must(t, registry.Register(cat, "k", 3, func() *numV3 { return &numV3{} }))
	must(t, registry.Migrate(cat, "k", 1, 2, func(o *numV1) (*numV2, error) { return &numV2{N: int64(o.N) + 1}, nil }))
	must(t, registry.Migrate(cat, "k", 2, 3, func(o *numV2) (*numV3, error) { return &numV3{N: o.N * 2}, nil }))
	must(t, registry.Migrate(cat, "k", 1, 3, func(o *numV1) (*numV3, error) {
		if o.N < 0 {
			return &numV3{N: int64(o.N)*2 + 1}, nil // the planted bug
		}
		return &numV3{N: int64(o.N)*2 + 2}, nil
	}))
	out, failed := run(t, cat, "k", "shortcut/1-3")
	wantFailure(t, out, failed, "the direct migration 1→3 and the chain [1 2 3] give different states", "state.N: -1, then 0", "N:-1}")
}

// A field the codec drops.
type secretV1 struct {
	base
	Name   string
	Secret string `msgpack:"-"`
}

func TestFindsFieldTheCodecDrops(t *testing.T) {
	cat := registry.New()
	must(t, registry.Register(cat, "k", 1, func() *secretV1 { return &secretV1{} }))
	out, failed := run(t, cat, "k", "codec/v1")
	wantFailure(t, out, failed, "codec does not carry the state", `state.Secret: "A", then ""`, `Secret:"A"}`)
}

// A version that stops accepting a message without an adapter.
type hello struct{}
type greet struct{}

func TestFindsMessageNoLongerAccepted(t *testing.T) {
	cat := registry.New()
	must(t, registry.Register(cat, "k", 1, func() *numV1 { return &numV1{} }, registry.Accepts(&hello{})))
	must(t, registry.Register(cat, "k", 2, func() *numV2 { return &numV2{} }, registry.Accepts(&greet{})))
	must(t, registry.Migrate(cat, "k", 1, 2, func(o *numV1) (*numV2, error) { return &numV2{N: int64(o.N)}, nil }))
	out, failed := run(t, cat, "k", "messages/1-2")
	wantFailure(t, out, failed, "version 2 does not accept every message version 1 accepts", "hello")

	must(t, registry.Adapt(cat, "k", 2, func(*hello) *greet { return &greet{} }))
	if out, failed := run(t, cat, "k", "messages/1-2"); failed {
		t.Errorf("with an adapter registered, the property still fails:\n%s", out)
	}
}

// A healthy kind passes every property, through Check itself.
type accountV1 struct {
	base
	Owner   string
	Cents   int64
	History []int64
	Tags    map[string]bool
	Limit   *int64
}
type accountV2 struct {
	base
	Owner   string
	Balance float64 // in units
	Moves   []int64
	Tags    map[string]bool
	Limit   *int64
}

func TestCheckPassesAHealthyKind(t *testing.T) {
	cat := registry.New()
	must(t, registry.Register(cat, "account", 1, func() *accountV1 { return &accountV1{} }))
	must(t, registry.Register(cat, "account", 2, func() *accountV2 { return &accountV2{} }))
	must(t, registry.Migrate(cat, "account", 1, 2, func(o *accountV1) (*accountV2, error) {
		return &accountV2{Owner: o.Owner, Balance: float64(o.Cents) / 100, Moves: o.History, Tags: o.Tags, Limit: o.Limit}, nil
	}))
	must(t, registry.Migrate(cat, "account", 2, 1, func(o *accountV2) (*accountV1, error) {
		return &accountV1{Owner: o.Owner, Cents: int64(o.Balance * 100), History: o.Moves, Tags: o.Tags, Limit: o.Limit}, nil
	}))
	Check(t, cat, "account")
}

func TestCheckRefusesBadOptions(t *testing.T) {
	cat := registry.New()
	must(t, registry.Register(cat, "k", 1, func() *numV1 { return &numV1{} }))
	if _, err := newKit(cat, "nope", nil); err == nil || !strings.Contains(err.Error(), `no kind "nope"`) {
		t.Errorf("an unknown kind: got %v", err)
	}
	if _, err := newKit(cat, "k", []Option{Lossless(1, 2)}); err == nil || !strings.Contains(err.Error(), "Lossless(1, 2)") {
		t.Errorf("Lossless with an unknown version: got %v", err)
	}
}
