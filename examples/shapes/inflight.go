package shapes

import (
	"errors"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
)

// Messages of the quoter kind.
type (
	Quote struct{ Symbol string }
	// Price answers Quote; By is the version that answered.
	Price struct {
		Symbol string
		Cents  int64
		By     uint32
	}
	// Flush sends the quotes waiting for a full batch.
	Flush    struct{}
	GetStats struct{}
	// Stats answers GetStats.
	Stats struct {
		Version uint32
		Served  int64
		Waiting int
	}
)

// The quoter's protocol with its pricing backend.
type (
	PriceBatch struct {
		ID      uint64
		Symbols []string
	}
	BatchPriced struct {
		ID    uint64
		Cents []int64
	}
)

// BatchSize is how many quotes the quoter sends its backend at once.
const BatchSize = 2

// batching is the quoter's work in flight, the same in every version: quotes
// waiting for a full batch, and batches waiting for the backend's answer.
// It is not state: Stable says it is empty whenever the state is migrated.
type batching struct {
	next     uint64
	batch    []waitingQuote
	inFlight map[uint64][]waitingQuote
}

type waitingQuote struct {
	symbol string
	to     *actor.PID
}

func (b *batching) add(ctx actor.Context, backend *actor.PID, q *Quote) {
	b.batch = append(b.batch, waitingQuote{symbol: q.Symbol, to: ctx.Sender()})
	if len(b.batch) >= BatchSize {
		b.flush(ctx, backend)
	}
}

func (b *batching) flush(ctx actor.Context, backend *actor.PID) {
	if len(b.batch) == 0 {
		return
	}
	if b.inFlight == nil {
		b.inFlight = map[uint64][]waitingQuote{}
	}
	b.next++
	symbols := make([]string, len(b.batch))
	for i, q := range b.batch {
		symbols[i] = q.symbol
	}
	b.inFlight[b.next] = b.batch
	b.batch = nil
	ctx.Request(backend, &PriceBatch{ID: b.next, Symbols: symbols})
}

// answer sends the prices of a batch to the quotes' senders and returns how
// many it answered.
func (b *batching) answer(ctx actor.Context, m *BatchPriced, by uint32) int {
	quotes, ok := b.inFlight[m.ID]
	if !ok || len(m.Cents) != len(quotes) {
		return 0
	}
	delete(b.inFlight, m.ID)
	for i, q := range quotes {
		ctx.Send(q.to, &Price{Symbol: q.symbol, Cents: m.Cents[i], By: by})
	}
	return len(quotes)
}

func (b *batching) waiting() int {
	n := len(b.batch)
	for _, qs := range b.inFlight {
		n += len(qs)
	}
	return n
}

// QuoterV1 answers quotes by asking its backend, in batches.
type QuoterV1 struct {
	Backend *actor.PID
	Served  int64

	b batching
}

func (q *QuoterV1) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Quote:
		q.b.add(ctx, q.Backend, m)
	case *Flush:
		q.b.flush(ctx, q.Backend)
	case *BatchPriced:
		q.Served += int64(q.b.answer(ctx, m, 1))
	case *GetStats:
		ctx.Respond(&Stats{Version: 1, Served: q.Served, Waiting: q.b.waiting()})
	}
}

// UpdateComing implements update.Notifiable: a partial batch would wait for
// quotes that the update holds, and the quoter would never be stable.
// Sending it early is harmless, so an abort has nothing to undo.
func (q *QuoterV1) UpdateComing(ctx actor.Context, _ *update.Notice) {
	q.b.flush(ctx, q.Backend)
}

// Stable implements update.Quiescent: every quote has been answered, so
// none is answered by a version that did not ask for it.
func (q *QuoterV1) Stable() bool { return q.b.waiting() == 0 }

// Admit implements update.Admitter: the backend's answers come in while new
// quotes are held.
func (q *QuoterV1) Admit(message any) bool {
	_, ok := message.(*BatchPriced)
	return ok
}

// QuoterV2 also remembers the last price of each symbol.
type QuoterV2 struct {
	Backend *actor.PID
	Served  int64
	Last    map[string]int64

	b batching
}

func (q *QuoterV2) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Quote:
		q.b.add(ctx, q.Backend, m)
	case *Flush:
		q.b.flush(ctx, q.Backend)
	case *BatchPriced:
		if quotes, ok := q.b.inFlight[m.ID]; ok && len(quotes) == len(m.Cents) {
			if q.Last == nil {
				q.Last = map[string]int64{}
			}
			for i, w := range quotes {
				q.Last[w.symbol] = m.Cents[i]
			}
		}
		q.Served += int64(q.b.answer(ctx, m, 2))
	case *GetStats:
		ctx.Respond(&Stats{Version: 2, Served: q.Served, Waiting: q.b.waiting()})
	}
}

func (q *QuoterV2) UpdateComing(ctx actor.Context, _ *update.Notice) { q.b.flush(ctx, q.Backend) }
func (q *QuoterV2) Stable() bool                                     { return q.b.waiting() == 0 }
func (q *QuoterV2) Admit(message any) bool {
	_, ok := message.(*BatchPriced)
	return ok
}

// RegisterQuoter adds the quoter kind to cat, its versions asking backend.
func RegisterQuoter(cat *registry.Catalog, backend *actor.PID) error {
	api := registry.Accepts(&Quote{}, &Flush{}, &BatchPriced{}, &GetStats{})
	return errors.Join(
		registry.Register(cat, "quoter", 1, func() *QuoterV1 { return &QuoterV1{Backend: backend} },
			api, registry.Transient("b")),
		registry.Register(cat, "quoter", 2, func() *QuoterV2 { return &QuoterV2{Backend: backend} },
			api, registry.Transient("b")),
		registry.Migrate(cat, "quoter", 1, 2, func(old *QuoterV1) (*QuoterV2, error) {
			return &QuoterV2{Backend: old.Backend, Served: old.Served}, nil
		}),
	)
}
