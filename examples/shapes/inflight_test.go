package shapes

import (
	"context"
	"testing"
	"time"

	pa "github.com/asynkron/protoactor-go/actor"
	molt "github.com/molt-go/molt/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/registry/registrytest"
	"github.com/molt-go/molt/update"
	"google.golang.org/protobuf/types/known/durationpb"
)

// releaseBatches makes a gated backend answer every batch it holds.
type releaseBatches struct{}

// pricingBackend prices a symbol at 100 cents a letter. Gated, it holds the
// batches until releaseBatches, so that a test chooses when answers come;
// it reports the size of each batch it receives on got.
func pricingBackend(gated bool, got chan<- int) pa.ReceiveFunc {
	type held struct {
		to *pa.PID
		m  *PriceBatch
	}
	var waiting []held
	answer := func(ctx pa.Context, h held) {
		cents := make([]int64, len(h.m.Symbols))
		for i, s := range h.m.Symbols {
			cents[i] = int64(100 * len(s))
		}
		ctx.Send(h.to, &BatchPriced{ID: h.m.ID, Cents: cents})
	}
	return func(ctx pa.Context) {
		switch m := ctx.Message().(type) {
		case *PriceBatch:
			got <- len(m.Symbols)
			if gated {
				waiting = append(waiting, held{to: ctx.Sender(), m: m})
			} else {
				answer(ctx, held{to: ctx.Sender(), m: m})
			}
		case *releaseBatches:
			for _, h := range waiting {
				answer(ctx, h)
			}
			waiting = nil
		}
	}
}

// quoterNode runs a quoter at version 1 and its backend.
func quoterNode(t *testing.T, gated bool) (node *molt.Node, quoter, backend *pa.PID, got chan int) {
	t.Helper()
	got = make(chan int, 16)
	cat := registry.New()
	node = newNode(t, cat)
	backend = node.Root().Spawn(pa.PropsFromFunc(pricingBackend(gated, got)))
	if err := RegisterQuoter(cat, backend); err != nil {
		t.Fatal(err)
	}
	return node, spawn(t, node, "quoter", 1), backend, got
}

func wantBatch(t *testing.T, got <-chan int, size int, what string) {
	t.Helper()
	select {
	case n := <-got:
		if n != size {
			t.Fatalf("%s: the backend got a batch of %d quotes, want %d", what, n, size)
		}
	case <-time.After(patience):
		t.Fatalf("%s: the backend got no batch within %v", what, patience)
	}
}

func quote(node *molt.Node, pid *pa.PID, symbol string) *pa.Future {
	return node.Root().RequestFuture(pid, &Quote{Symbol: symbol}, patience)
}

func wantPrice(t *testing.T, f *pa.Future, symbol string, by uint32) {
	t.Helper()
	got, err := f.Result()
	if err != nil {
		t.Fatalf("no price for %s within %v: %v", symbol, patience, err)
	}
	p, ok := got.(*Price)
	if !ok || p.Symbol != symbol || p.Cents != int64(100*len(symbol)) || p.By != by {
		t.Fatalf("quote of %s answered %+v, want its price from version %d", symbol, got, by)
	}
}

// startUpdate runs node.Update in the background: the test goes on while
// the update waits for the quoter to be stable.
func startUpdate(node *molt.Node, pid *pa.PID, req *update.UpdateActor) <-chan *update.UpdateResult {
	done := make(chan *update.UpdateResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		res, err := node.Update(ctx, pid, req)
		if err != nil {
			res = &update.UpdateResult{Reason: err.Error()}
		}
		done <- res
	}()
	return done
}

func waitUpdate(t *testing.T, done <-chan *update.UpdateResult, want update.Outcome) *update.UpdateResult {
	t.Helper()
	select {
	case res := <-done:
		if res.GetOutcome() != want {
			t.Fatalf("the update ended %v in %v (%s), want %v", res.GetOutcome(), res.GetPhase(), res.GetReason(), want)
		}
		return res
	case <-time.After(patience):
		t.Fatalf("the update did not end within %v", patience)
		return nil
	}
}

func TestQuoterMigrations(t *testing.T) {
	cat := newCatalog(t, func(cat *registry.Catalog) error { return RegisterQuoter(cat, pa.NewPID("nonhost", "backend")) })
	registrytest.Check(t, cat, "quoter")
}

// TestInFlightCommit: quotes the backend has not answered when the update
// comes are answered by version 1, which asked for them, the partial batch
// included; a quote sent during the update waits, and version 2 answers it.
func TestInFlightCommit(t *testing.T) {
	node, pid, backend, got := quoterNode(t, true)
	a, b, c := quote(node, pid, "a"), quote(node, pid, "bb"), quote(node, pid, "ccc")
	wantBatch(t, got, 2, "a full batch")
	if s := ask[*Stats](t, node, pid, &GetStats{}); s.Waiting != 3 {
		t.Fatalf("version 1 has %d quotes waiting, want 3", s.Waiting)
	}

	done := startUpdate(node, pid, &update.UpdateActor{ToVersion: 2})
	wantBatch(t, got, 1, "the partial batch that UpdateComing flushes")
	d := quote(node, pid, "dddd") // the update is preparing: held
	node.Root().Send(backend, &releaseBatches{})
	res := waitUpdate(t, done, update.Outcome_OUTCOME_COMMITTED)
	if res.GetHeldMessages() != 1 {
		t.Errorf("the update held %d messages, want 1 (the quote sent while it prepared)", res.GetHeldMessages())
	}
	wantPrice(t, a, "a", 1)
	wantPrice(t, b, "bb", 1)
	wantPrice(t, c, "ccc", 1)
	node.Root().Send(pid, &Flush{})
	wantBatch(t, got, 1, "version 2's first quote, flushed")
	node.Root().Send(backend, &releaseBatches{})
	wantPrice(t, d, "dddd", 2)
	if s := ask[*Stats](t, node, pid, &GetStats{}); s.Version != 2 || s.Served != 4 {
		t.Fatalf("after the update: %+v, want version 2 with 4 quotes served", *s)
	}
}

// TestInFlightAbort: the backend does not answer before the deadline, so
// the update aborts in preparation; the quote held meanwhile goes to
// version 1, which answers every quote once the backend does.
func TestInFlightAbort(t *testing.T) {
	node, pid, backend, got := quoterNode(t, true)
	a := quote(node, pid, "a")
	if s := ask[*Stats](t, node, pid, &GetStats{}); s.Waiting != 1 {
		t.Fatalf("version 1 has %d quotes waiting, want 1", s.Waiting)
	}
	done := startUpdate(node, pid, &update.UpdateActor{ToVersion: 2, Deadline: durationpb.New(50 * time.Millisecond)})
	wantBatch(t, got, 1, "the partial batch that UpdateComing flushes")
	b := quote(node, pid, "bb")
	res := waitUpdate(t, done, update.Outcome_OUTCOME_ABORTED)
	if res.GetPhase() != update.Phase_PHASE_PREPARATION {
		t.Fatalf("aborted in %v (%s), want preparation", res.GetPhase(), res.GetReason())
	}
	node.Root().Send(pid, &Flush{}) // b was released to version 1, in a partial batch
	wantBatch(t, got, 1, "the quote held during the aborted update")
	node.Root().Send(backend, &releaseBatches{})
	wantPrice(t, a, "a", 1)
	wantPrice(t, b, "bb", 1)
	runs(t, node, pid, 1)
}

// TestInFlightInOrder: a caller whose earlier quotes must be answered by
// version 1 sends the update in order: it takes effect after them.
func TestInFlightInOrder(t *testing.T) {
	node, pid, _, _ := quoterNode(t, false)
	var before []*pa.Future
	for _, s := range []string{"a", "bb", "ccc", "dddd", "eeeee"} {
		before = append(before, quote(node, pid, s))
	}
	updateTo(t, node, pid, &update.UpdateActor{ToVersion: 2, Order: update.Order_ORDER_IN_ORDER}, update.Outcome_OUTCOME_COMMITTED)
	after := quote(node, pid, "ff")
	node.Root().Send(pid, &Flush{})
	for i, s := range []string{"a", "bb", "ccc", "dddd", "eeeee"} {
		wantPrice(t, before[i], s, 1)
	}
	wantPrice(t, after, "ff", 2)
}
