package registry_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/proto"
)

// The account kind as an old binary ran it: version 1 only.
type accountV1 struct {
	Owner string
	Cents int64
}

func (*accountV1) Receive(actor.Context) {}

// What a newer binary keeps of version 1: the state type, no behaviour.
type accountV1State struct {
	Owner string
	Cents int64
}

type accountV2 struct {
	Owner    string
	Balance  int64
	Currency string
}

func (*accountV2) Receive(actor.Context) {}

type accountV3 struct {
	Owners   []string
	Balance  int64
	Currency string
}

func (*accountV3) Receive(actor.Context) {}

func oldAccounts(t *testing.T) *registry.Catalog {
	t.Helper()
	cat := registry.New()
	must(t, registry.Register(cat, "account", 1, func() *accountV1 { return &accountV1{} }))
	return cat
}

// newAccounts is the catalogue of a binary that runs versions 2 and 3 and
// reads version 1.
func newAccounts(t *testing.T) *registry.Catalog {
	t.Helper()
	cat := registry.New()
	must(t, registry.RegisterState(cat, "account", 1, func() *accountV1State { return &accountV1State{} }))
	must(t, registry.Register(cat, "account", 2, func() *accountV2 { return &accountV2{} }))
	must(t, registry.Register(cat, "account", 3, func() *accountV3 { return &accountV3{} }))
	must(t, registry.Migrate(cat, "account", 1, 2, func(s *accountV1State) (*accountV2, error) {
		return &accountV2{Owner: s.Owner, Balance: s.Cents, Currency: "EUR"}, nil
	}))
	must(t, registry.Migrate(cat, "account", 2, 3, func(s *accountV2) (*accountV3, error) {
		return &accountV3{Owners: []string{s.Owner}, Balance: s.Balance, Currency: s.Currency}, nil
	}))
	return cat
}

// wire seals a state and sends the envelope through its wire form, as a
// takeover or a store does.
func wire(t *testing.T, cat *registry.Catalog, kind string, v uint32, state any) *envelope.Envelope {
	t.Helper()
	e, err := cat.Seal(kind, v, state)
	must(t, err)
	data, err := envelope.Marshal(e)
	must(t, err)
	back, err := envelope.Unmarshal(data)
	must(t, err)
	return back
}

func TestOpenMigratesAcrossThreeVersions(t *testing.T) {
	e := wire(t, oldAccounts(t), "account", 1, &accountV1{Owner: "ada", Cents: 1234})
	e.Name, e.Labels = "acct-7", map[string]string{"tier": "gold"}
	cat := newAccounts(t)

	got, err := cat.Open(e, 3)
	must(t, err)
	want := &accountV3{Owners: []string{"ada"}, Balance: 1234, Currency: "EUR"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Open(v1 envelope, 3) = %+v, want %+v", got, want)
	}
	got2, err := cat.Open(e, 2)
	must(t, err)
	if want2 := (&accountV2{Owner: "ada", Balance: 1234, Currency: "EUR"}); !reflect.DeepEqual(got2, want2) {
		t.Fatalf("Open(v1 envelope, 2) = %+v, want %+v", got2, want2)
	}
	// A v3 state sealed by the new binary opens at v3 as it was.
	e3 := wire(t, cat, "account", 3, want)
	again, err := cat.Open(e3, 3)
	must(t, err)
	if !reflect.DeepEqual(again, want) {
		t.Fatalf("Open(v3 envelope, 3) = %+v, want %+v", again, want)
	}
	// Version 1 is readable here but not runnable.
	if _, err := cat.Open(e, 1); !errors.Is(err, registry.ErrNotRunnable) {
		t.Fatalf("Open(v1 envelope, 1) = %v, want ErrNotRunnable", err)
	}
}

func TestRegisterStateIsReadOnly(t *testing.T) {
	cat := newAccounts(t)
	if _, err := cat.Instantiate("account", 1); !errors.Is(err, registry.ErrNotRunnable) || !strings.Contains(err.Error(), "RegisterState") {
		t.Errorf("Instantiate(state-only) = %v, want ErrNotRunnable naming RegisterState", err)
	}
	if _, err := cat.Plan("account", 2, 1); !errors.Is(err, registry.ErrNotRunnable) {
		t.Errorf("Plan(2, state-only 1) = %v, want ErrNotRunnable", err)
	}
	if _, err := cat.Decode("account", 1, []byte{0x80}); !errors.Is(err, registry.ErrNotRunnable) {
		t.Errorf("Decode(state-only) = %v, want ErrNotRunnable", err)
	}
	err := registry.RegisterState(cat, "account", 9, func() *accountV1State { return &accountV1State{} }, registry.Accepts(&update.UpdateActor{}))
	if !errors.Is(err, registry.ErrInvalid) {
		t.Errorf("RegisterState with Accepts = %v, want ErrInvalid", err)
	}
	infos, _ := cat.Describe("account")
	if len(infos) != 3 || !infos[0].StateOnly || infos[1].StateOnly {
		t.Errorf("Describe = %+v, want version 1 alone StateOnly", infos)
	}
}

func TestEnvelopeRoundTripsEveryCodec(t *testing.T) {
	cases := []struct {
		name  string
		opts  []registry.VersionOption
		state func() actor.Actor
		fill  actor.Actor
	}{
		{"msgpack", nil, func() actor.Actor { return &accountV2{} }, &accountV2{Owner: "bo", Balance: -5, Currency: "NOK"}},
		{"json", []registry.VersionOption{registry.WithCodec(jsonCodec{})}, func() actor.Actor { return &accountV2{} }, &accountV2{Owner: "cy", Balance: 1 << 40}},
		{"protobuf", nil, func() actor.Actor { return &protoState{&update.UpdateResult{}} }, &protoState{&update.UpdateResult{UpdateId: "u-1", FromVersion: 2, ToVersion: 3, QueuedMessages: 9}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cat := registry.New()
			switch c.fill.(type) {
			case *accountV2:
				must(t, registry.Register(cat, "k", 1, func() *accountV2 { return c.state().(*accountV2) }, c.opts...))
			case *protoState:
				must(t, registry.Register(cat, "k", 1, func() *protoState { return c.state().(*protoState) }, c.opts...))
			}
			e := wire(t, cat, "k", 1, c.fill)
			if e.GetCodec() != c.name {
				t.Fatalf("envelope codec = %q, want %q", e.GetCodec(), c.name)
			}
			got, err := cat.Open(e, 1)
			must(t, err)
			if p, ok := got.(*protoState); ok {
				if !proto.Equal(p.UpdateResult, c.fill.(*protoState).UpdateResult) {
					t.Fatalf("round trip = %v, want %v", p.UpdateResult, c.fill)
				}
				return
			}
			if !reflect.DeepEqual(got, c.fill) {
				t.Fatalf("round trip = %+v, want %+v", got, c.fill)
			}
		})
	}
}

func TestOpenRefusesAndChangesNothing(t *testing.T) {
	cat := newAccounts(t)
	good := wire(t, oldAccounts(t), "account", 1, &accountV1{Owner: "ada", Cents: 1})
	cases := []struct {
		name   string
		change func(e *envelope.Envelope)
		want   error
		says   string
	}{
		{"unknown kind", func(e *envelope.Envelope) { e.Kind = "ledger" }, registry.ErrUnknownKind, "RegisterState"},
		{"unknown version", func(e *envelope.Envelope) { e.Version = 7 }, registry.ErrUnknownVersion, "registered: 1, 2, 3"},
		{"unknown codec", func(e *envelope.Envelope) { e.Codec = "gob" }, registry.ErrUnknownCodec, `"gob"`},
		{"flipped bit", func(e *envelope.Envelope) { e.State[len(e.State)-1] ^= 1 }, envelope.ErrCorrupt, "CRC-32C"},
		{"bytes the codec refuses", func(e *envelope.Envelope) {
			e.State = []byte{0xc1}
			e.Checksum = envelope.Checksum(e.State)
		}, registry.ErrCodec, "msgpack"},
		{"newer format", func(e *envelope.Envelope) { e.Format = 2 }, envelope.ErrFormat, "format 2"},
		{"no kind", func(e *envelope.Envelope) { e.Kind = "" }, envelope.ErrMalformed, "kind is empty"},
		{"version 0", func(e *envelope.Envelope) { e.Version = 0 }, envelope.ErrMalformed, "version 0"},
		{"no path", func(e *envelope.Envelope) {}, registry.ErrNoPath, "version 1 to 4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := proto.Clone(good).(*envelope.Envelope)
			c.change(e)
			before := proto.Clone(e)
			to := uint32(3)
			if c.want == registry.ErrNoPath {
				must(t, registry.Register(cat, "account", 4, func() *accountV3 { return &accountV3{} }))
				to = 4
			}
			got, err := cat.Open(e, to)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("Open = %v, %v; want an error wrapping %v that says %q", got, err, c.want, c.says)
			}
			if got != nil {
				t.Fatalf("Open returned a state with its error: %+v", got)
			}
			if !proto.Equal(e, before) {
				t.Fatalf("Open changed the envelope it refused")
			}
		})
	}
}

// FuzzOpenEnvelope feeds arbitrary bytes to the path a store's record or a
// takeover's message takes: Unmarshal, then Open. Neither may panic, and
// whatever opens must seal and open again to the same state.
func FuzzOpenEnvelope(f *testing.F) {
	for _, s := range []any{&accountV2{Owner: "x", Balance: 3}, &accountV3{Owners: []string{"a", "b"}}} {
		cat := registry.New()
		must(f, registry.Register(cat, "account", 2, func() *accountV2 { return &accountV2{} }))
		must(f, registry.Register(cat, "account", 3, func() *accountV3 { return &accountV3{} }))
		v := uint32(2)
		if _, ok := s.(*accountV3); ok {
			v = 3
		}
		e, err := cat.Seal("account", v, s)
		must(f, err)
		data, err := envelope.Marshal(e)
		must(f, err)
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := envelope.Unmarshal(data)
		if err != nil {
			return
		}
		cat := newAccounts(t)
		got, err := cat.Open(e, 3)
		if err != nil {
			return
		}
		again, err := cat.Open(wire(t, cat, "account", 3, got), 3)
		if err != nil {
			t.Fatalf("a state Open made does not seal and open again: %v", err)
		}
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("seal and open changed the state: %+v, then %+v", got, again)
		}
	})
}
