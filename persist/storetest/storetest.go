package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/persist"
	"google.golang.org/protobuf/proto"
)

// Run checks that the stores open returns keep the rules of persist.Store.
// open must return a new, empty store each time it is called; Run closes
// the stores it opens. Besides the rules of the Store documentation, Run
// expects persist.ErrName for an empty name and for one over
// envelope.MaxNameLength bytes, and a second Close to return
// persist.ErrClosed.
func Run(t *testing.T, open func(t *testing.T) persist.Store) {
	t.Helper()
	fresh := func(t *testing.T) persist.Store {
		t.Helper()
		s := open(t)
		if s == nil {
			t.Fatal("open returned a nil store")
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil && !errors.Is(err, persist.ErrClosed) {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	cases := []struct {
		name string
		run  func(t *testing.T, s persist.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"LargeState", testLargeState},
		{"NotFound", testNotFound},
		{"Delete", testDelete},
		{"Stale", testStale},
		{"RefusesBadEnvelope", testRefusesBad},
		{"Copies", testCopies},
		{"Names", testNames},
		{"CanceledContext", testCanceled},
		{"Closed", testClosed},
		{"ConcurrentNames", testConcurrentNames},
		{"ConcurrentSameName", testConcurrentSameName},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, fresh(t)) })
	}
}

// RunDamaged checks that a store refuses records damaged at rest. damage
// must replace the stored record of name in s with edit applied to the
// record's bytes (for a store of envelope.Marshal bytes, those bytes),
// bypassing the store's own checks, and return the store to use from then
// on: s itself, or s closed and opened again on the same data. RunDamaged
// checks that Load then returns an error wrapping envelope.ErrMalformed,
// ErrFormat or ErrCorrupt, never an envelope, and that a Save of a higher
// sequence replaces the damaged record.
func RunDamaged(t *testing.T, open func(t *testing.T) persist.Store, damage func(t *testing.T, s persist.Store, name string, edit func(record []byte) []byte) persist.Store) {
	t.Helper()
	const name = "damaged"
	cases := []struct {
		name string
		edit func(record []byte, state []byte) []byte
		want error // nil: any envelope error
	}{
		{"FlippedStateBit", func(r, state []byte) []byte {
			i := bytes.Index(r, state)
			if i < 0 {
				panic("storetest: the record does not hold the state bytes")
			}
			r = bytes.Clone(r)
			r[i+len(state)/2] ^= 0x10
			return r
		}, envelope.ErrCorrupt},
		{"Truncated", func(r, _ []byte) []byte { return bytes.Clone(r[:len(r)/2]) }, nil},
		{"Garbage", func(r, _ []byte) []byte { return bytes.Repeat([]byte{0xff}, len(r)) }, envelope.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			closed := false
			t.Cleanup(func() {
				if !closed {
					_ = s.Close()
				}
			})
			ctx := context.Background()
			snap := Snapshot(name, 7, 512)
			mustSave(t, s, name, snap)
			s = damage(t, s, name, func(r []byte) []byte { return c.edit(r, snap.GetState()) })
			got, err := s.Load(ctx, name)
			switch {
			case err == nil:
				t.Fatalf("Load of a damaged record returned an envelope (sequence %d) and no error", got.GetSequence())
			case got != nil:
				t.Errorf("Load of a damaged record returned an envelope with its error %v", err)
			case c.want != nil && !errors.Is(err, c.want):
				t.Errorf("Load of a damaged record: %v, want an error wrapping %v", err, c.want)
			case c.want == nil && !isEnvelopeError(err):
				t.Errorf("Load of a damaged record: %v, want an envelope error", err)
			}
			mustSave(t, s, name, Snapshot(name, 8, 64))
			mustLoad(t, s, name, 8)
			closed = true
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func isEnvelopeError(err error) bool {
	return errors.Is(err, envelope.ErrMalformed) || errors.Is(err, envelope.ErrFormat) || errors.Is(err, envelope.ErrCorrupt)
}

// Kind is the kind of the snapshots Snapshot makes.
const Kind = "storetest.state"

// Snapshot returns a valid envelope of name at seq whose state is size
// bytes that depend on name and seq, so that CheckSnapshot can tell a
// snapshot from a torn or mixed one.
func Snapshot(name string, seq uint64, size int) *envelope.Envelope {
	e := envelope.New(Kind, 1, "raw", State(name, seq, size))
	e.Name = name
	e.Sequence = seq
	e.Labels = map[string]string{"sequence": fmt.Sprint(seq)}
	return e
}

// State returns the state bytes of Snapshot(name, seq, size).
func State(name string, seq uint64, size int) []byte {
	head := fmt.Sprintf("%s#%d|", name, seq)
	b := make([]byte, size)
	for i := range b {
		if i < len(head) {
			b[i] = head[i]
		} else {
			b[i] = byte(uint64(i)*31 + seq*7 + uint64(len(name)))
		}
	}
	return b
}

// CheckSnapshot reports whether e is a whole snapshot made by Snapshot for
// name, whatever its sequence and size: it passes its Check, and its name,
// labels and state all belong to the same sequence.
func CheckSnapshot(e *envelope.Envelope, name string) error {
	if err := e.Check(); err != nil {
		return err
	}
	seq := e.GetSequence()
	if e.GetName() != name || e.GetKind() != Kind || e.GetLabels()["sequence"] != fmt.Sprint(seq) {
		return fmt.Errorf("snapshot of %q at sequence %d has name %q, kind %q, labels %v", name, seq, e.GetName(), e.GetKind(), e.GetLabels())
	}
	if !bytes.Equal(e.GetState(), State(name, seq, len(e.GetState()))) {
		return fmt.Errorf("snapshot of %q at sequence %d: the state is not the one of that sequence", name, seq)
	}
	return nil
}

func mustSave(t *testing.T, s persist.Store, name string, e *envelope.Envelope) {
	t.Helper()
	if err := s.Save(context.Background(), name, e); err != nil {
		t.Fatalf("Save %q sequence %d: %v", name, e.GetSequence(), err)
	}
}

func mustLoad(t *testing.T, s persist.Store, name string, seq uint64) *envelope.Envelope {
	t.Helper()
	e, err := s.Load(context.Background(), name)
	if err != nil {
		t.Fatalf("Load %q: %v", name, err)
	}
	if err := CheckSnapshot(e, name); err != nil {
		t.Fatalf("Load %q: %v", name, err)
	}
	if e.GetSequence() != seq {
		t.Fatalf("Load %q: sequence %d, want %d", name, e.GetSequence(), seq)
	}
	return e
}

func wantNotFound(t *testing.T, s persist.Store, name string) {
	t.Helper()
	e, err := s.Load(context.Background(), name)
	if !errors.Is(err, persist.ErrNotFound) {
		t.Fatalf("Load %q: %v (sequence %d), want ErrNotFound", name, err, e.GetSequence())
	}
	if e != nil {
		t.Errorf("Load %q returned an envelope with ErrNotFound", name)
	}
}

func testRoundTrip(t *testing.T, s persist.Store) {
	want := Snapshot("a", 1, 100)
	want.SealedUnixNanos = 1234567890
	mustSave(t, s, "a", want)
	got := mustLoad(t, s, "a", 1)
	if !proto.Equal(got, want) {
		t.Errorf("Load returned\n%v\nwant\n%v", got, want)
	}
	// Sequence 0 (unused sequences) and an empty state are valid.
	zero := envelope.New(Kind, 3, "raw", nil)
	zero.Name = "b"
	mustSave(t, s, "b", zero)
	if got, err := s.Load(context.Background(), "b"); err != nil || !proto.Equal(got, zero) {
		t.Errorf("Load of an envelope with sequence 0 and no state: %v, %v", got, err)
	}
	mustLoad(t, s, "a", 1)
}

func testLargeState(t *testing.T, s persist.Store) {
	want := Snapshot("large", 3, 1<<20)
	mustSave(t, s, "large", want)
	if got := mustLoad(t, s, "large", 3); !proto.Equal(got, want) {
		t.Error("a 1 MiB snapshot did not round trip")
	}
}

func testNotFound(t *testing.T, s persist.Store) {
	wantNotFound(t, s, "never")
	mustSave(t, s, "other", Snapshot("other", 1, 10))
	wantNotFound(t, s, "never")
	wantNotFound(t, s, "othe")
}

func testDelete(t *testing.T, s persist.Store) {
	ctx := context.Background()
	if err := s.Delete(ctx, "never"); err != nil {
		t.Errorf("Delete of a name never saved: %v", err)
	}
	mustSave(t, s, "a", Snapshot("a", 10, 50))
	mustSave(t, s, "b", Snapshot("b", 10, 50))
	if err := s.Delete(ctx, "a"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, "a")
	mustLoad(t, s, "b", 10)
	if err := s.Delete(ctx, "a"); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	// Once deleted, the name holds no sequence to be stale against.
	mustSave(t, s, "a", Snapshot("a", 2, 50))
	mustLoad(t, s, "a", 2)
}

func testStale(t *testing.T, s persist.Store) {
	ctx := context.Background()
	mustSave(t, s, "a", Snapshot("a", 5, 64))
	err := s.Save(ctx, "a", Snapshot("a", 4, 64))
	if !errors.Is(err, persist.ErrStale) {
		t.Fatalf("Save of sequence 4 over 5: %v, want ErrStale", err)
	}
	mustLoad(t, s, "a", 5)
	if err := s.Save(ctx, "a", Snapshot("a", 0, 64)); !errors.Is(err, persist.ErrStale) {
		t.Errorf("Save of sequence 0 over 5: %v, want ErrStale", err)
	}
	// An equal sequence replaces (a retry).
	retry := Snapshot("a", 5, 80)
	mustSave(t, s, "a", retry)
	if got := mustLoad(t, s, "a", 5); len(got.GetState()) != 80 {
		t.Errorf("Save of an equal sequence did not replace the snapshot: state of %d bytes, want 80", len(got.GetState()))
	}
	mustSave(t, s, "a", Snapshot("a", 6, 64))
	mustLoad(t, s, "a", 6)
	// Sequences are per name.
	mustSave(t, s, "b", Snapshot("b", 1, 64))
	mustLoad(t, s, "b", 1)
	// The largest sequence is ordered as any other.
	mustSave(t, s, "c", Snapshot("c", 1<<63+1, 8))
	if err := s.Save(ctx, "c", Snapshot("c", 1<<63, 8)); !errors.Is(err, persist.ErrStale) {
		t.Errorf("Save of sequence 2^63 over 2^63+1: %v, want ErrStale", err)
	}
	mustSave(t, s, "c", Snapshot("c", ^uint64(0), 8))
	mustLoad(t, s, "c", ^uint64(0))
}

func testRefusesBad(t *testing.T, s persist.Store) {
	ctx := context.Background()
	stored := Snapshot("a", 3, 64)
	mustSave(t, s, "a", stored)
	bad := []struct {
		what string
		e    func() *envelope.Envelope
		want error
	}{
		{"nil", func() *envelope.Envelope { return nil }, envelope.ErrMalformed},
		{"no format", func() *envelope.Envelope { e := Snapshot("a", 9, 64); e.Format = 0; return e }, envelope.ErrMalformed},
		{"a later format", func() *envelope.Envelope { e := Snapshot("a", 9, 64); e.Format = envelope.Format + 1; return e }, envelope.ErrFormat},
		{"no kind", func() *envelope.Envelope { e := Snapshot("a", 9, 64); e.Kind = ""; return e }, envelope.ErrMalformed},
		{"version 0", func() *envelope.Envelope { e := Snapshot("a", 9, 64); e.Version = 0; return e }, envelope.ErrMalformed},
		{"bad checksum", func() *envelope.Envelope { e := Snapshot("a", 9, 64); e.Checksum++; return e }, envelope.ErrCorrupt},
		{"changed state", func() *envelope.Envelope { e := Snapshot("a", 9, 64); e.State[10] ^= 1; return e }, envelope.ErrCorrupt},
		{"too many labels", func() *envelope.Envelope {
			e := Snapshot("a", 9, 64)
			for i := range envelope.MaxLabels + 1 {
				e.Labels[fmt.Sprint("l", i)] = "v"
			}
			return e
		}, envelope.ErrMalformed},
	}
	for _, b := range bad {
		e := b.e()
		before := proto.Clone(e)
		err := s.Save(ctx, "a", e)
		if !errors.Is(err, b.want) {
			t.Errorf("Save of an envelope with %s: %v, want an error wrapping %v", b.what, err, b.want)
		}
		if e != nil && !proto.Equal(e, before) {
			t.Errorf("Save of an envelope with %s changed the caller's envelope", b.what)
		}
		mustLoad(t, s, "a", 3)
		if err := s.Save(ctx, "fresh", b.e()); err == nil {
			t.Errorf("Save of an envelope with %s under a new name succeeded", b.what)
		}
		wantNotFound(t, s, "fresh")
	}
}

func testCopies(t *testing.T, s persist.Store) {
	e := Snapshot("a", 2, 64)
	mustSave(t, s, "a", e)
	// The caller may reuse its envelope after Save.
	e.State[20] ^= 0xff
	e.Sequence = 99
	e.Labels["sequence"] = "99"
	e.Name = "changed"
	got := mustLoad(t, s, "a", 2)
	// And do what it likes with what Load returned.
	got.State[20] ^= 0xff
	got.Sequence = 100
	got.Labels["x"] = "y"
	mustLoad(t, s, "a", 2)
}

func testNames(t *testing.T, s persist.Store) {
	ctx := context.Background()
	names := []string{
		"a", "A", "a/b", "a.b", "a b", " a", "a\x00b", "κόσμε", "$root/child/42",
		strings.Repeat("n", envelope.MaxNameLength),
	}
	for i, n := range names {
		mustSave(t, s, n, Snapshot(n, uint64(i+1), 32))
	}
	for i, n := range names {
		mustLoad(t, s, n, uint64(i+1))
	}
	for _, n := range []string{"", strings.Repeat("n", envelope.MaxNameLength+1)} {
		if err := s.Save(ctx, n, Snapshot("x", 1, 8)); !errors.Is(err, persist.ErrName) {
			t.Errorf("Save under a name of %d bytes: %v, want ErrName", len(n), err)
		}
		if e, err := s.Load(ctx, n); !errors.Is(err, persist.ErrName) || e != nil {
			t.Errorf("Load of a name of %d bytes: %v, want ErrName", len(n), err)
		}
		if err := s.Delete(ctx, n); !errors.Is(err, persist.ErrName) {
			t.Errorf("Delete of a name of %d bytes: %v, want ErrName", len(n), err)
		}
	}
}

func testCanceled(t *testing.T, s persist.Store) {
	mustSave(t, s, "a", Snapshot("a", 1, 64))
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithTimeout(context.Background(), -1)
	defer cancel2()
	for _, c := range []struct {
		ctx  context.Context
		want error
	}{{canceled, context.Canceled}, {expired, context.DeadlineExceeded}} {
		if err := s.Save(c.ctx, "a", Snapshot("a", 2, 64)); !errors.Is(err, c.want) {
			t.Errorf("Save with a done context: %v, want %v", err, c.want)
		}
		if err := s.Save(c.ctx, "b", Snapshot("b", 2, 64)); !errors.Is(err, c.want) {
			t.Errorf("Save of a new name with a done context: %v, want %v", err, c.want)
		}
		if e, err := s.Load(c.ctx, "a"); !errors.Is(err, c.want) || e != nil {
			t.Errorf("Load with a done context: %v, want %v", err, c.want)
		}
		if err := s.Delete(c.ctx, "a"); !errors.Is(err, c.want) {
			t.Errorf("Delete with a done context: %v, want %v", err, c.want)
		}
		mustLoad(t, s, "a", 1)
		wantNotFound(t, s, "b")
	}
}

func testClosed(t *testing.T, s persist.Store) {
	ctx := context.Background()
	mustSave(t, s, "a", Snapshot("a", 1, 64))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Save(ctx, "a", Snapshot("a", 2, 64)); !errors.Is(err, persist.ErrClosed) {
		t.Errorf("Save after Close: %v, want ErrClosed", err)
	}
	if e, err := s.Load(ctx, "a"); !errors.Is(err, persist.ErrClosed) || e != nil {
		t.Errorf("Load after Close: %v, want ErrClosed", err)
	}
	if err := s.Delete(ctx, "a"); !errors.Is(err, persist.ErrClosed) {
		t.Errorf("Delete after Close: %v, want ErrClosed", err)
	}
	if err := s.Close(); !errors.Is(err, persist.ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
}

// Sizes of the concurrent subtests: small enough for a store that fsyncs
// each commit to run them in well under a second.
const (
	writers = 8
	rounds  = 25
)

// loadUntil runs Loads of names until stop closes, checking that every
// envelope is whole and that no name's sequence goes back.
func loadUntil(t *testing.T, s persist.Store, names []string, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	last := make(map[string]uint64)
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		n := names[i%len(names)]
		e, err := s.Load(context.Background(), n)
		if errors.Is(err, persist.ErrNotFound) {
			if last[n] != 0 {
				t.Errorf("Load %q: ErrNotFound after sequence %d", n, last[n])
				return
			}
			continue
		}
		if err != nil {
			t.Errorf("Load %q during Saves: %v", n, err)
			return
		}
		if err := CheckSnapshot(e, n); err != nil {
			t.Errorf("Load %q during Saves: torn or mixed record: %v", n, err)
			return
		}
		if e.GetSequence() < last[n] {
			t.Errorf("Load %q: sequence %d after %d", n, e.GetSequence(), last[n])
			return
		}
		last[n] = e.GetSequence()
	}
}

func testConcurrentNames(t *testing.T, s persist.Store) {
	names := make([]string, writers)
	for i := range names {
		names[i] = fmt.Sprint("actor-", i)
	}
	stop := make(chan struct{})
	var loaders, saves sync.WaitGroup
	for range 2 {
		loaders.Add(1)
		go loadUntil(t, s, names, stop, &loaders)
	}
	for _, n := range names {
		saves.Add(1)
		go func() {
			defer saves.Done()
			for seq := uint64(1); seq <= rounds; seq++ {
				if err := s.Save(context.Background(), n, Snapshot(n, seq, 256+int(seq))); err != nil {
					t.Errorf("Save %q sequence %d: %v", n, seq, err)
					return
				}
			}
		}()
	}
	saves.Wait()
	close(stop)
	loaders.Wait()
	for _, n := range names {
		mustLoad(t, s, n, rounds)
	}
}

func testConcurrentSameName(t *testing.T, s persist.Store) {
	const name = "contended"
	stop := make(chan struct{})
	var loaders, saves sync.WaitGroup
	for range 2 {
		loaders.Add(1)
		go loadUntil(t, s, []string{name}, stop, &loaders)
	}
	var mu sync.Mutex
	var acked, stale uint64
	for w := range writers {
		saves.Add(1)
		go func() {
			defer saves.Done()
			// Writer w saves sequences w+1, w+1+writers, ...: increasing
			// for each writer, interleaved between them.
			for i := range rounds {
				seq := uint64(i*writers + w + 1)
				err := s.Save(context.Background(), name, Snapshot(name, seq, 200+w))
				mu.Lock()
				switch {
				case err == nil:
					acked = max(acked, seq)
				case errors.Is(err, persist.ErrStale):
					stale++
				default:
					t.Errorf("Save sequence %d: %v", seq, err)
				}
				mu.Unlock()
			}
		}()
	}
	saves.Wait()
	close(stop)
	loaders.Wait()
	if acked == 0 {
		t.Fatal("no Save was acknowledged")
	}
	mustLoad(t, s, name, acked)
	t.Logf("%d Saves, highest acknowledged sequence %d, %d refused as stale", writers*rounds, acked, stale)
}
