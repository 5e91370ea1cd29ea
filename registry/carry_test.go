package registry_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
)

type carriedInner struct {
	Shown  int
	hidden int
}

type carriedAccount struct {
	Cents int64
	cache string
}

type carriedState struct {
	carriedInner // inlined by msgpack: Shown is carried, hidden is not
	Count        int
	When         time.Time // encodes itself
	Skipped      int       `msgpack:"-"`
	Accounts     map[string]carriedAccount
	inFlight     int
	timer        *time.Timer
}

func (*carriedState) Receive(pa.Context) {}

func newCarried() *carriedState { return &carriedState{inFlight: 7} }

// TestRegisterWarnsOfFieldsTheCodecDrops: with the default codec and
// isolation, every unexported field is named at registration, with what
// would carry it, logged and listed; nothing is refused.
func TestRegisterWarnsOfFieldsTheCodecDrops(t *testing.T) {
	var log bytes.Buffer
	cat := registry.New(registry.WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	if err := registry.Register(cat, "carried", 1, newCarried); err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, w := range cat.Warnings() {
		fields = append(fields, w.Field)
		if w.Kind != "carried" || w.Version != 1 || !strings.Contains(w.Message, "registry.Transient(\""+w.Field+"\")") || !strings.Contains(w.Message, "registry.Clone") {
			t.Errorf("warning %+v does not name the kind, version, and both ways out", w)
		}
	}
	if got, want := strings.Join(fields, " "), "carriedInner.hidden Accounts[].cache inFlight timer"; got != want {
		t.Errorf("warned of fields %q, want %q", got, want)
	}
	for _, f := range fields {
		if !strings.Contains(log.String(), "field "+f+" of") {
			t.Errorf("the log does not mention %s:\n%s", f, log.String())
		}
	}

	// The warning is true: the isolating copy has the factory's value.
	live := newCarried()
	live.inFlight = 99
	cp, err := cat.Copy("carried", 1, live)
	if err != nil {
		t.Fatal(err)
	}
	if got := cp.(*carriedState).inFlight; got != 7 {
		t.Errorf("the copy's inFlight is %d; the warning says it is the factory's 7", got)
	}
}

func TestTransientSilencesTheWarning(t *testing.T) {
	var log bytes.Buffer
	cat := registry.New(registry.WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	err := registry.Register(cat, "carried", 1, newCarried,
		registry.Transient("carriedInner.hidden", "Accounts[].cache", "inFlight", "timer"))
	if err != nil {
		t.Fatal(err)
	}
	if ws := cat.Warnings(); len(ws) != 0 || log.Len() != 0 {
		t.Errorf("warnings %v and log %q with every field declared Transient", ws, log.String())
	}

	// A Clone carries what it likes: nothing to warn of.
	if err := registry.Register(cat, "cloned", 1, newCarried, registry.Clone(func(s *carriedState) *carriedState { c := *s; return &c })); err != nil {
		t.Fatal(err)
	}
	if ws := cat.Warnings(); len(ws) != 0 {
		t.Errorf("warnings %v for a version with a Clone", ws)
	}
}

func TestTransientOfNoSuchFieldIsRefused(t *testing.T) {
	cat := registry.New()
	err := registry.Register(cat, "carried", 1, newCarried, registry.Transient("inflight"))
	if !errors.Is(err, registry.ErrInvalid) || !strings.Contains(err.Error(), `"inflight"`) || !strings.Contains(err.Error(), "inFlight") {
		t.Errorf("Transient of a misspelt field: got %v, want ErrInvalid naming it and the fields there are", err)
	}
	if vs := cat.Versions("carried"); len(vs) != 0 {
		t.Errorf("a refused registration registered versions %v", vs)
	}
}
