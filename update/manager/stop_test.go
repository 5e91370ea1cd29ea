package manager_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/molt-go/molt/update/manager"
	"github.com/molt-go/molt/update/manifest"
)

// TestRunReturnsWhenTheManagerStops: before the fix, Run waited forever
// for a PACKAGE_DONE that a stopped manager never sends (and goleak saw
// its goroutine); Run(context.Background()) must return ErrStopped,
// promptly, saying where the package was.
func TestRunReturnsWhenTheManagerStops(t *testing.T) {
	node, m := setup(t)
	pids := spawn(t, node, "acct", "stuck", "ok")
	ask(t, node, pids[0], &arm{Fail: "never-stable"})
	pkg := &manifest.Package{
		ID:         "stopped-manager",
		Updates:    []manifest.KindUpdate{{Kind: "acct", To: 2, Targets: manifest.Targets{All: true}}},
		Quiescence: manifest.Quiescence{PerActor: manifest.Duration{Duration: 5 * time.Second}},
		Rollout:    manifest.Rollout{FailureBudget: 1},
	}
	sub := newSubscriber(t, node, m)
	type result struct {
		ev  *manager.Event
		err error
	}
	ran := make(chan result, 1)
	go func() {
		ev, err := m.Run(context.Background(), pkg, nil)
		ran <- result{ev, err}
	}()
	// ok's result is in before the stop: one sent to a stopped manager
	// would only go to the dead letters, whose throttle goleak sees.
	sub.next(t, manager.EventType_ACTOR_UPDATED)
	m.Stop()
	select {
	case r := <-ran:
		if !errors.Is(r.err, manager.ErrStopped) {
			t.Fatalf("Run returned %v, %v; want an error wrapping ErrStopped", r.ev, r.err)
		}
		for _, want := range []string{`"stopped-manager"`, "step 1 of 1", "1 updated", "1 units"} {
			if !strings.Contains(r.err.Error(), want) {
				t.Errorf("Run's error does not say %s: %v", want, r.err)
			}
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return within 2s of the manager's stop")
	}
	// A manager that is gone refuses at once.
	start := time.Now()
	if _, err := m.Run(context.Background(), pkg, nil); !errors.Is(err, manager.ErrStopped) || time.Since(start) > 2*time.Second {
		t.Errorf("Run on a stopped manager: %v after %v; want ErrStopped at once", err, time.Since(start))
	}
}
