package registry_test

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
)

// bagV1 has the field shapes a migration may modify in place.
type bagV1 struct {
	N      int
	Items  []string
	Index  map[string]int
	Inner  *inner
	Matrix [][]int
	// via is not carried by the codec: the tests use it to see which copy
	// a migration received.
	via string
}

type inner struct {
	Tags    []string
	Weights map[string]int
}

func (*bagV1) Receive(actor.Context) {}

type bagV2 struct {
	Size  int
	Items []string
	Index map[string]int
}

func (*bagV2) Receive(actor.Context) {}

type bagV3 struct {
	Items []string
	Index map[string]int
}

func (*bagV3) Receive(actor.Context) {}

func newBagV1() *bagV1 { return &bagV1{via: "factory"} }

// liveBag returns a live state whose slices have spare capacity, so that an
// append by a migration that shares them would write into the live backing
// array.
func liveBag() *bagV1 {
	items := make([]string, 2, 8)
	items[0], items[1] = "a", "b"
	return &bagV1{
		N:      2,
		Items:  items,
		Index:  map[string]int{"a": 0, "b": 1},
		Inner:  &inner{Tags: append(make([]string, 0, 4), "t"), Weights: map[string]int{"w": 1}},
		Matrix: [][]int{{1, 2}, {3}},
		via:    "live",
	}
}

// bagSnapshot is a deep copy of a bagV1 made by hand, including the spare
// capacity of its slices.
type bagSnapshot struct {
	state     bagV1 // without Inner and Matrix, copied below
	hasInner  bool
	inner     inner
	itemsFull []string
	tagsFull  []string
	matrix    [][]int
}

func snapshotBag(b *bagV1) bagSnapshot {
	s := bagSnapshot{state: *b}
	s.state.Items = slices.Clone(b.Items)
	s.state.Index = maps.Clone(b.Index)
	s.state.Inner = nil
	s.state.Matrix = nil
	s.itemsFull = slices.Clone(b.Items[:cap(b.Items)])
	if b.Inner != nil {
		s.hasInner = true
		s.inner.Tags = slices.Clone(b.Inner.Tags)
		s.inner.Weights = maps.Clone(b.Inner.Weights)
		s.tagsFull = slices.Clone(b.Inner.Tags[:cap(b.Inner.Tags)])
	}
	for _, row := range b.Matrix {
		s.matrix = append(s.matrix, slices.Clone(row))
	}
	return s
}

// assertUnchanged fails unless b is exactly as it was when s was taken.
func assertUnchanged(t *testing.T, b *bagV1, s bagSnapshot) {
	t.Helper()
	now := snapshotBag(b)
	if !reflect.DeepEqual(now, s) {
		t.Errorf("the live state changed:\n got %+v\nwant %+v", now, s)
	}
}

var bagMutations = []struct {
	name   string
	mutate func(*bagV1)
}{
	{"write an int field", func(b *bagV1) { b.N = -1 }},
	{"append to a slice", func(b *bagV1) { b.Items = append(b.Items, "c") }},
	{"overwrite a slice element", func(b *bagV1) { b.Items[0] = "changed" }},
	{"write a map", func(b *bagV1) { b.Index["c"] = 2 }},
	{"delete from a map", func(b *bagV1) { delete(b.Index, "a") }},
	{"write through a pointer", func(b *bagV1) { b.Inner.Weights["w"] = 99; b.Inner.Tags = append(b.Inner.Tags, "u") }},
	{"write a nested slice", func(b *bagV1) { b.Matrix[0][1] = 42 }},
	{"replace a pointer", func(b *bagV1) { b.Inner = nil }},
}

// TestTransferIsolatesLiveState runs migrations that modify their input in
// place and then succeed, fail, panic or return nil: the live state must be
// exactly unchanged whatever the isolation (codec round trip or Clone).
func TestTransferIsolatesLiveState(t *testing.T) {
	outcomes := []struct {
		name    string
		finish  func(in *bagV1) (*bagV2, error)
		wantErr error
	}{
		{"succeeds", func(in *bagV1) (*bagV2, error) {
			return &bagV2{Size: in.N, Items: in.Items, Index: in.Index}, nil
		}, nil},
		{"returns an error", func(*bagV1) (*bagV2, error) { return nil, errors.New("refused") }, registry.ErrMigration},
		{"panics", func(*bagV1) (*bagV2, error) { panic("boom") }, registry.ErrMigration},
		{"returns nil", func(*bagV1) (*bagV2, error) { return nil, nil }, registry.ErrMigration},
	}
	isolations := []struct {
		name string
		opts []registry.VersionOption
	}{
		{"codec", nil},
		{"clone", []registry.VersionOption{registry.Clone(cloneBag)}},
	}
	for _, iso := range isolations {
		for _, m := range bagMutations {
			for _, o := range outcomes {
				t.Run(iso.name+"/"+m.name+"/"+o.name, func(t *testing.T) {
					c := registry.New()
					must(t, registry.Register(c, "bag", 1, newBagV1, iso.opts...))
					must(t, registry.Register(c, "bag", 2, func() *bagV2 { return &bagV2{} }))
					must(t, registry.Migrate(c, "bag", 1, 2, func(in *bagV1) (*bagV2, error) {
						m.mutate(in)
						return o.finish(in)
					}))
					p, err := c.Plan("bag", 1, 2)
					must(t, err)

					live := liveBag()
					before := snapshotBag(live)
					out, err := p.Transfer(live)
					if !errors.Is(err, o.wantErr) || (o.wantErr != nil && out != nil) {
						t.Errorf("Transfer = %v, %v; want error %v", out, err, o.wantErr)
					}
					assertUnchanged(t, live, before)
				})
			}
		}
	}
}

// cloneBag is a correct deep copy of a bagV1 that marks the copy.
func cloneBag(b *bagV1) *bagV1 {
	out := &bagV1{
		N:     b.N,
		Items: slices.Clone(b.Items),
		Index: maps.Clone(b.Index),
		via:   "clone",
	}
	if b.Inner != nil {
		out.Inner = &inner{Tags: slices.Clone(b.Inner.Tags), Weights: maps.Clone(b.Inner.Weights)}
	}
	for _, row := range b.Matrix {
		out.Matrix = append(out.Matrix, slices.Clone(row))
	}
	return out
}

// TestTransferMigrationInput records what the first migration receives
// under each isolation.
func TestTransferMigrationInput(t *testing.T) {
	tests := []struct {
		name     string
		opts     []registry.VersionOption
		pure     bool
		wantLive bool   // the migration receives the live value itself
		wantVia  string // the unexported field of what it receives
	}{
		{name: "codec round trip by default", wantVia: "factory"},
		{name: "Clone when given", opts: []registry.VersionOption{registry.Clone(cloneBag)}, wantVia: "clone"},
		{name: "Pure gets the live value", pure: true, wantLive: true, wantVia: "live"},
		{name: "Pure gets the live value even with a Clone", opts: []registry.VersionOption{registry.Clone(cloneBag)}, pure: true, wantLive: true, wantVia: "live"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := registry.New()
			must(t, registry.Register(c, "bag", 1, newBagV1, tt.opts...))
			must(t, registry.Register(c, "bag", 2, func() *bagV2 { return &bagV2{} }))
			var got *bagV1
			var mopts []registry.MigrationOption
			if tt.pure {
				mopts = append(mopts, registry.Pure())
			}
			must(t, registry.Migrate(c, "bag", 1, 2, func(in *bagV1) (*bagV2, error) {
				got = in
				return &bagV2{Size: in.N}, nil
			}, mopts...))
			p, err := c.Plan("bag", 1, 2)
			must(t, err)
			live := liveBag()
			if _, err := p.Transfer(live); err != nil {
				t.Fatal(err)
			}
			if (got == live) != tt.wantLive {
				t.Errorf("the migration received the live value: %v, want %v", got == live, tt.wantLive)
			}
			if got.via != tt.wantVia {
				t.Errorf("the migration received a value made by %q, want %q", got.via, tt.wantVia)
			}
			// Whatever the isolation, the exported fields are the live ones.
			want := liveBag()
			want.via = got.via
			if !reflect.DeepEqual(got, want) {
				t.Errorf("the migration received %+v, want %+v", got, want)
			}
		})
	}
}

func TestTransferCloneCalledOncePerTransfer(t *testing.T) {
	calls := 0
	c := registry.New()
	must(t, registry.Register(c, "bag", 1, newBagV1, registry.Clone(func(b *bagV1) *bagV1 { calls++; return cloneBag(b) })))
	must(t, registry.Register(c, "bag", 2, func() *bagV2 { return &bagV2{} }))
	must(t, registry.Register(c, "bag", 3, func() *bagV3 { return &bagV3{} }))
	must(t, registry.Migrate(c, "bag", 1, 2, func(in *bagV1) (*bagV2, error) { return &bagV2{Items: in.Items}, nil }))
	must(t, registry.Migrate(c, "bag", 2, 3, func(in *bagV2) (*bagV3, error) { return &bagV3{Items: in.Items}, nil }))
	p, err := c.Plan("bag", 1, 3)
	must(t, err)
	for i := 1; i <= 3; i++ {
		if _, err := p.Transfer(liveBag()); err != nil {
			t.Fatal(err)
		}
		if calls != i {
			t.Fatalf("after %d transfers Clone was called %d times", i, calls)
		}
	}
}

// TestTransferLaterStepsSeeThePreviousResult checks that in a chain only the
// first migration is given the (isolated or live) source state.
func TestTransferLaterStepsSeeThePreviousResult(t *testing.T) {
	c := registry.New()
	must(t, registry.Register(c, "bag", 1, newBagV1))
	must(t, registry.Register(c, "bag", 2, func() *bagV2 { return &bagV2{} }))
	must(t, registry.Register(c, "bag", 3, func() *bagV3 { return &bagV3{} }))
	var mid *bagV2
	must(t, registry.Migrate(c, "bag", 1, 2, func(in *bagV1) (*bagV2, error) {
		mid = &bagV2{Size: in.N, Items: slices.Clone(in.Items)}
		return mid, nil
	}, registry.Pure()))
	var seen *bagV2
	must(t, registry.Migrate(c, "bag", 2, 3, func(in *bagV2) (*bagV3, error) {
		seen = in
		return &bagV3{Items: in.Items}, nil
	}, registry.Pure()))
	p, err := c.Plan("bag", 1, 3)
	must(t, err)
	out, err := p.Transfer(liveBag())
	must(t, err)
	if seen != mid {
		t.Errorf("2→3 received %p, want 1→2's result %p", seen, mid)
	}
	if want := (&bagV3{Items: []string{"a", "b"}}); !reflect.DeepEqual(out, want) {
		t.Errorf("Transfer = %+v, want %+v", out, want)
	}
}

// TestTransferLiveUnchangedWhenPureStepSharesData: a Pure migration does not
// modify its input, but its result may share the input's slices and maps
// (return &V2{Index: old.Index} is pure). The next migration is not Pure, so
// it may modify its input; that must not reach the live state.
func TestTransferLiveUnchangedWhenPureStepSharesData(t *testing.T) {
	c := registry.New()
	must(t, registry.Register(c, "bag", 1, newBagV1))
	must(t, registry.Register(c, "bag", 2, func() *bagV2 { return &bagV2{} }))
	must(t, registry.Register(c, "bag", 3, func() *bagV3 { return &bagV3{} }))
	must(t, registry.Migrate(c, "bag", 1, 2, func(in *bagV1) (*bagV2, error) {
		return &bagV2{Size: in.N, Items: in.Items, Index: in.Index}, nil
	}, registry.Pure()))
	must(t, registry.Migrate(c, "bag", 2, 3, func(in *bagV2) (*bagV3, error) {
		in.Items[0] = "changed"
		in.Index["added"] = 1
		return &bagV3{Items: in.Items, Index: in.Index}, nil
	}))
	p, err := c.Plan("bag", 1, 3)
	must(t, err)
	live := liveBag()
	before := snapshotBag(live)
	if _, err := p.Transfer(live); err != nil {
		t.Fatal(err)
	}
	assertUnchanged(t, live, before)
}

// mapState has a map field that its factory fills with a default entry.
type mapState struct{ M map[string]int }

func (*mapState) Receive(actor.Context) {}

// TestCodecCopyEqualsLiveWhenFactoryPresetsAMap: the isolating copy (and
// Decode) must be the live state, not the live state merged into the
// factory's defaults.
func TestCodecCopyEqualsLiveWhenFactoryPresetsAMap(t *testing.T) {
	c := registry.New()
	must(t, registry.Register(c, "m", 1, func() *mapState { return &mapState{M: map[string]int{"default": 1}} }))
	must(t, registry.Register(c, "m", 2, func() *mapState { return &mapState{} }))
	var seen map[string]int
	must(t, registry.Migrate(c, "m", 1, 2, func(in *mapState) (*mapState, error) {
		seen = maps.Clone(in.M)
		return &mapState{M: in.M}, nil
	}))
	live := &mapState{M: map[string]int{"kept": 2}} // "default" was deleted
	p, err := c.Plan("m", 1, 2)
	must(t, err)
	if _, err := p.Transfer(live); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(seen, live.M) {
		t.Errorf("the migration received M = %v, want the live %v", seen, live.M)
	}
	data, err := c.Encode("m", 1, live)
	must(t, err)
	back, err := c.Decode("m", 1, data)
	must(t, err)
	if !reflect.DeepEqual(back, live) {
		t.Errorf("Decode(Encode(%v)) = %v", live, back)
	}
}

func TestTransferErrors(t *testing.T) {
	boom := errors.New("cannot migrate this state")
	tests := []struct {
		name       string
		register   func(c *registry.Catalog) error // versions 1, 2 (and 3) and their migrations
		to         uint32
		replace    bool        // pass live instead of the live bag
		live       actor.Actor // the state passed when replace is set
		wantErr    error
		wantInText []string
	}{
		{
			name: "migration returns an error",
			register: func(c *registry.Catalog) error {
				return registry.Migrate(c, "bag", 1, 2, func(*bagV1) (*bagV2, error) { return nil, boom })
			},
			to: 2, wantErr: registry.ErrMigration, wantInText: []string{"1→2", boom.Error()},
		},
		{
			name: "migration panics",
			register: func(c *registry.Catalog) error {
				return registry.Migrate(c, "bag", 1, 2, func(*bagV1) (*bagV2, error) { panic("kaboom") })
			},
			to: 2, wantErr: registry.ErrMigration, wantInText: []string{"1→2", "kaboom"},
		},
		{
			name: "pure migration panics",
			register: func(c *registry.Catalog) error {
				return registry.Migrate(c, "bag", 1, 2, func(*bagV1) (*bagV2, error) { panic("kaboom") }, registry.Pure())
			},
			to: 2, wantErr: registry.ErrMigration, wantInText: []string{"kaboom"},
		},
		{
			name: "migration returns a typed nil",
			register: func(c *registry.Catalog) error {
				return registry.Migrate(c, "bag", 1, 2, func(*bagV1) (*bagV2, error) { return nil, nil })
			},
			to: 2, wantErr: registry.ErrMigration, wantInText: []string{"nil"},
		},
		{
			name: "a later step of the chain fails",
			register: func(c *registry.Catalog) error {
				return errors.Join(
					registry.Migrate(c, "bag", 1, 2, func(in *bagV1) (*bagV2, error) { return &bagV2{Size: in.N}, nil }),
					registry.Migrate(c, "bag", 2, 3, func(*bagV2) (*bagV3, error) { return nil, boom }),
				)
			},
			to: 3, wantErr: registry.ErrMigration, wantInText: []string{"2→3", boom.Error()},
		},
		{
			name: "a later step of the chain panics",
			register: func(c *registry.Catalog) error {
				return errors.Join(
					registry.Migrate(c, "bag", 1, 2, func(in *bagV1) (*bagV2, error) { return &bagV2{Size: in.N}, nil }),
					registry.Migrate(c, "bag", 2, 3, func(*bagV2) (*bagV3, error) { panic("late") }),
				)
			},
			to: 3, wantErr: registry.ErrMigration, wantInText: []string{"2→3", "late"},
		},
		{
			name: "live state of another type",
			register: func(c *registry.Catalog) error {
				return registry.Migrate(c, "bag", 1, 2, func(in *bagV1) (*bagV2, error) { return &bagV2{}, nil })
			},
			to: 2, replace: true, live: &bagV2{}, wantErr: registry.ErrTypeMismatch,
		},
		{
			name: "nil live state",
			register: func(c *registry.Catalog) error {
				return registry.Migrate(c, "bag", 1, 2, func(in *bagV1) (*bagV2, error) { return &bagV2{}, nil })
			},
			to: 2, replace: true, live: nil, wantErr: registry.ErrTypeMismatch,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := registry.New()
			must(t, registry.Register(c, "bag", 1, newBagV1))
			must(t, registry.Register(c, "bag", 2, func() *bagV2 { return &bagV2{} }))
			must(t, registry.Register(c, "bag", 3, func() *bagV3 { return &bagV3{} }))
			must(t, tt.register(c))
			p, err := c.Plan("bag", 1, tt.to)
			must(t, err)
			live := liveBag()
			before := snapshotBag(live)
			var in actor.Actor = live
			if tt.replace {
				in = tt.live
			}
			out, err := p.Transfer(in)
			if !errors.Is(err, tt.wantErr) || out != nil {
				t.Fatalf("Transfer = %v, %v; want nil, %v", out, err, tt.wantErr)
			}
			for _, s := range tt.wantInText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			assertUnchanged(t, live, before)
		})
	}
}

// Codec failures during isolation. The states hold a field msgpack cannot
// encode, or use a codec that fails.

type chanState struct {
	N   int
	Out chan int
}

func (*chanState) Receive(actor.Context) {}

type funcState struct {
	N      int
	OnDone func()
}

func (*funcState) Receive(actor.Context) {}

type plainV2 struct{ N int }

func (*plainV2) Receive(actor.Context) {}

func TestTransferCodecFailureIsErrCodec(t *testing.T) {
	boom := errors.New("codec refused")
	tests := []struct {
		name string
		// setup registers version 1 and 2 and the migration 1→2 (pure or
		// not) and returns a live state of version 1.
		// A Pure migration needs no copy, so with it Transfer succeeds.
		setup func(c *registry.Catalog, pure bool) (actor.Actor, error)
	}{
		{"msgpack rejects a chan field", func(c *registry.Catalog, pure bool) (actor.Actor, error) {
			return &chanState{N: 1, Out: make(chan int)}, errors.Join(
				registry.Register(c, "k", 1, func() *chanState { return &chanState{} }),
				registry.Register(c, "k", 2, func() *plainV2 { return &plainV2{} }),
				registry.Migrate(c, "k", 1, 2, func(s *chanState) (*plainV2, error) { return &plainV2{N: s.N}, nil }, pureOpt(pure)...),
			)
		}},
		{"msgpack rejects a func field", func(c *registry.Catalog, pure bool) (actor.Actor, error) {
			return &funcState{N: 1, OnDone: func() {}}, errors.Join(
				registry.Register(c, "k", 1, func() *funcState { return &funcState{} }),
				registry.Register(c, "k", 2, func() *plainV2 { return &plainV2{} }),
				registry.Migrate(c, "k", 1, 2, func(s *funcState) (*plainV2, error) { return &plainV2{N: s.N}, nil }, pureOpt(pure)...),
			)
		}},
		{"custom codec fails to encode", func(c *registry.Catalog, pure bool) (actor.Actor, error) {
			return &counterV1{Count: 1}, errors.Join(
				registry.Register(c, "k", 1, newV1, registry.WithCodec(failingCodec{encodeErr: boom})),
				registry.Register(c, "k", 2, newV2),
				registry.Migrate(c, "k", 1, 2, func(s *counterV1) (*counterV2, error) { return &counterV2{}, nil }, pureOpt(pure)...),
			)
		}},
		{"custom codec fails to decode", func(c *registry.Catalog, pure bool) (actor.Actor, error) {
			return &counterV1{Count: 1}, errors.Join(
				registry.Register(c, "k", 1, newV1, registry.WithCodec(failingCodec{decodeErr: boom})),
				registry.Register(c, "k", 2, newV2),
				registry.Migrate(c, "k", 1, 2, func(s *counterV1) (*counterV2, error) { return &counterV2{}, nil }, pureOpt(pure)...),
			)
		}},
		{"custom codec panics", func(c *registry.Catalog, pure bool) (actor.Actor, error) {
			return &counterV1{Count: 1}, errors.Join(
				registry.Register(c, "k", 1, newV1, registry.WithCodec(failingCodec{encodePanic: true})),
				registry.Register(c, "k", 2, newV2),
				registry.Migrate(c, "k", 1, 2, func(s *counterV1) (*counterV2, error) { return &counterV2{}, nil }, pureOpt(pure)...),
			)
		}},
		{"Clone panics", func(c *registry.Catalog, pure bool) (actor.Actor, error) {
			return &counterV1{Count: 1}, errors.Join(
				registry.Register(c, "k", 1, newV1, registry.Clone(func(*counterV1) *counterV1 { panic("no copy") })),
				registry.Register(c, "k", 2, newV2),
				registry.Migrate(c, "k", 1, 2, func(s *counterV1) (*counterV2, error) { return &counterV2{}, nil }, pureOpt(pure)...),
			)
		}},
	}
	for _, tt := range tests {
		for _, pure := range []bool{false, true} {
			name := tt.name
			if pure {
				name += "/pure"
			}
			t.Run(name, func(t *testing.T) {
				c := registry.New()
				live, err := tt.setup(c, pure)
				must(t, err)
				// %+v prints the chan and func fields by address.
				before := fmt.Sprintf("%+v", live)
				p, err := c.Plan("k", 1, 2)
				must(t, err)
				out, err := p.Transfer(live)
				if pure {
					if err != nil {
						t.Fatalf("a Pure migration needs no copy, but Transfer failed: %v", err)
					}
					return
				}
				if !errors.Is(err, registry.ErrCodec) || out != nil {
					t.Fatalf("Transfer = %v, %v; want nil, ErrCodec", out, err)
				}
				if now := fmt.Sprintf("%+v", live); now != before {
					t.Errorf("the live state changed: %s, was %s", now, before)
				}
			})
		}
	}
}

func pureOpt(pure bool) []registry.MigrationOption {
	if pure {
		return []registry.MigrationOption{registry.Pure()}
	}
	return nil
}
