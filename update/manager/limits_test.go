package manager_test

import (
	"strings"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/update/manager"
	"github.com/molt-go/molt/update/manifest"
)

// TestUnknownFormatIsRefused: "xml" or "toml" was read as YAML, and the
// caller got a YAML parse error, or worse, a plan. Each is refused with the
// formats the manager accepts; the accepted spellings still work.
func TestUnknownFormatIsRefused(t *testing.T) {
	node, m := setup(t)
	spawn(t, node, "acct", "a", "b")
	for _, tc := range []struct {
		format string
		ok     bool
	}{
		{"xml", false}, {"toml", false}, {"yaml ", false},
		{"yaml", true}, {"YAML", true}, {"yml", true}, {"", true}, {"json", true},
	} {
		doc := yamlPackage
		if tc.format == "json" {
			doc = `{"id": "by-message", "updates": [{"kind": "acct", "to": 2, "targets": {"actors": ["a", "b"]}}]}`
		}
		v := ask(t, node, m.PID(), &manager.RunPackage{Format: tc.format, Document: []byte(doc), DryRun: true})
		if tc.ok {
			if _, ok := v.(*manager.PackageAccepted); !ok {
				t.Errorf("format %q: %v, want PackageAccepted", tc.format, v)
			}
			continue
		}
		ref, ok := v.(*manager.PackageRefused)
		if !ok || !strings.Contains(ref.GetReason(), "unknown") || !strings.Contains(ref.GetReason(), `"json"`) || !strings.Contains(ref.GetReason(), `"yaml"`) {
			t.Errorf("format %q: %v; want a refusal naming the accepted formats", tc.format, v)
		}
	}
}

func spawnLimited(t *testing.T, cfg manager.Config) (*molt.Node, *manager.Manager) {
	t.Helper()
	node := molt.NewNode(acctCatalog(t))
	m, err := manager.SpawnConfig(node, cfg)
	if err != nil {
		node.Shutdown()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Stop()
		node.Shutdown()
	})
	return node, m
}

// TestLimits: every limit on what comes from outside, exceeded, gives an
// error naming it, and changes nothing.
func TestLimits(t *testing.T) {
	node, m := spawnLimited(t, manager.Config{MaxDocumentBytes: 200, MaxIDBytes: 16, MaxReasonBytes: 40, MaxSubscribers: 2})
	pids := spawn(t, node, "acct", "a", "b")
	refused := func(what string, v any, limit string) {
		t.Helper()
		ref, ok := v.(*manager.PackageRefused)
		if !ok || !strings.Contains(ref.GetReason(), limit) {
			t.Errorf("%s: %v; want PackageRefused naming %s", what, v, limit)
		}
	}
	refused("a big document", ask(t, node, m.PID(), &manager.RunPackage{Format: "yaml", Document: []byte(yamlPackage + strings.Repeat("#", 200))}), "MaxDocumentBytes")
	long := strings.Replace(yamlPackage, "by-message", strings.Repeat("x", 17), 1)
	refused("a long package id", ask(t, node, m.PID(), &manager.RunPackage{Format: "yaml", Document: []byte(long)}), "MaxIDBytes")
	refused("cancel with a long id", ask(t, node, m.PID(), &manager.CancelPackage{PackageId: strings.Repeat("x", 17)}), "MaxIDBytes")
	for _, pid := range pids {
		if versionOf(t, node, pid) != 1 {
			t.Fatal("a refused package changed an actor")
		}
	}

	// Two subscribers fit; the same one twice is one; a third is refused.
	got := make(chan any, 8)
	probe := func() *pa.PID {
		pid := node.Root().Spawn(pa.PropsFromFunc(func(ctx pa.Context) {
			if r, ok := ctx.Message().(*manager.PackageRefused); ok {
				got <- r
			}
		}))
		t.Cleanup(func() { _ = node.Root().StopFuture(pid).Wait() })
		return pid
	}
	first := probe()
	node.Root().RequestWithCustomSender(m.PID(), &manager.Subscribe{}, first)
	node.Root().RequestWithCustomSender(m.PID(), &manager.Subscribe{}, first)
	node.Root().RequestWithCustomSender(m.PID(), &manager.Subscribe{}, probe())
	third := probe()
	node.Root().RequestWithCustomSender(m.PID(), &manager.Subscribe{}, third)
	select {
	case v := <-got:
		refused("a third subscriber", v, "MaxSubscribers")
	case <-time.After(10 * time.Second):
		t.Fatal("the third subscriber was not refused within 10s")
	}

	// A reason from an actor's result is cut to MaxReasonBytes, and says so.
	ask(t, node, pids[0], &arm{Fail: "migrate"})
	pkg := &manifest.Package{ID: "reasons", Updates: []manifest.KindUpdate{{Kind: "acct", To: 2, Targets: manifest.Targets{Actors: []string{"a"}}}}}
	_, rec := runWithin(t, m, pkg, 10*time.Second, nil)
	for _, e := range rec.of(manager.EventType_ACTOR_UPDATED) {
		if !strings.Contains(e.GetReason(), "MaxReasonBytes") || len(e.GetReason()) > 200 {
			t.Errorf("the actor's reason was not cut to the limit: %q", e.GetReason())
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (manager.Config{}).Validate(); err != nil {
		t.Fatalf("the zero Config: %v", err)
	}
	err := manager.Config{MaxDocumentBytes: -1, MaxSubscribers: -2, MaxIDBytes: 5000}.Validate()
	for _, name := range []string{"MaxDocumentBytes", "MaxSubscribers", "MaxIDBytes"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Validate does not name %s: %v", name, err)
		}
	}
	node := molt.NewNode(acctCatalog(t))
	defer node.Shutdown()
	if m, err := manager.SpawnConfig(node, manager.Config{MaxReasonBytes: -1}); err == nil || m != nil {
		t.Errorf("SpawnConfig with a bad Config: %v, %v", m, err)
	}
}

// TestDefaultDocumentLimitIsTheManifests: a document the manager lets
// through by default, the loader must not refuse for its size.
func TestDefaultDocumentLimitIsTheManifests(t *testing.T) {
	if got, want := manager.DefaultMaxDocumentBytes, manifest.DefaultLimits().MaxBytes; got != want {
		t.Errorf("manager.DefaultMaxDocumentBytes is %d, manifest.DefaultLimits().MaxBytes %d", got, want)
	}
}

// TestRaisedDocumentLimitReachesTheLoader: a manager configured for larger
// documents reads them; the manifest's own default does not stop them.
func TestRaisedDocumentLimitReachesTheLoader(t *testing.T) {
	node, m := spawnLimited(t, manager.Config{MaxDocumentBytes: 4 << 20})
	spawn(t, node, "acct", "a", "b")
	doc := yamlPackage + "\n" + strings.Repeat("# padding\n", 200_000) // 2 MB
	v := ask(t, node, m.PID(), &manager.RunPackage{Format: "yaml", Document: []byte(doc), DryRun: true})
	if acc, ok := v.(*manager.PackageAccepted); !ok || acc.GetActors() != 2 {
		t.Fatalf("a %d-byte document under a 4 MiB limit: %v; want a dry run of 2 actors", len(doc), v)
	}
}
