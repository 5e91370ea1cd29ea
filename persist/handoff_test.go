package persist_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/persist"
	"github.com/molt-go/molt/persist/storetest"
)

func TestHandoffWaitsForTheStore(t *testing.T) {
	h := persist.NewHandoff()
	saved := make(chan error, 1)
	go func() {
		saved <- h.Save(context.Background(), "a", storetest.Snapshot("a", 1, 8))
	}()
	select {
	case err := <-saved:
		t.Fatalf("Save returned %v before the store was handed over", err)
	case <-time.After(20 * time.Millisecond): // the absence of an answer is the property
	}
	mem := persist.Memory()
	h.Ready(mem)
	select {
	case err := <-saved:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Save did not go on within 10s of Ready")
	}
	e, err := mem.Load(context.Background(), "a")
	if err != nil || e.GetSequence() != 1 {
		t.Fatalf("the store handed over holds %v, %v", e, err)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Load(context.Background(), "a"); !errors.Is(err, persist.ErrClosed) {
		t.Fatalf("Close did not close the store handed over: %v", err)
	}
}

func TestHandoffFailsAndTimesOut(t *testing.T) {
	h := persist.NewHandoff()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := h.Load(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Load before Ready, past its deadline = %v", err)
	}
	h.Fail(errors.New("the old process kept the file"))
	err := h.Save(context.Background(), "a", envelope.New("k", 1, "msgpack", nil))
	if !errors.Is(err, persist.ErrNoStore) {
		t.Fatalf("Save after Fail = %v, want ErrNoStore", err)
	}
	h.Ready(persist.Memory()) // too late: the first word counts
	if _, err := h.Load(context.Background(), "a"); !errors.Is(err, persist.ErrNoStore) {
		t.Fatalf("Ready after Fail changed the answer: %v", err)
	}
}
