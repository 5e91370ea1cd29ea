package shapes

import (
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
)

// Messages of the quota kind.
type (
	// Take asks for n units; Granted answers.
	Take    struct{ N int64 }
	Granted struct{ OK bool }
	// Give returns n units.
	Give     struct{ N int64 }
	GetUsage struct{}
	// Usage answers GetUsage.
	Usage struct{ Used, Limit int64 }
)

// QuotaV1 grants units up to a limit.
type QuotaV1 struct {
	Limit, Used int64
}

func (q *QuotaV1) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Take:
		ok := m.N >= 0 && q.Used+m.N <= q.Limit
		if ok {
			q.Used += m.N
		}
		ctx.Respond(&Granted{OK: ok})
	case *Give:
		q.Used = max(q.Used-m.N, 0)
	case *GetUsage:
		ctx.Respond(&Usage{Used: q.Used, Limit: q.Limit})
	}
}

// CheckInvariants implements update.Checker.
func (q *QuotaV1) CheckInvariants() error {
	if q.Used < 0 || q.Used > q.Limit {
		return fmt.Errorf("quota: %d used of %d", q.Used, q.Limit)
	}
	return nil
}

// QuotaV2 lets a client go beyond the limit by a burst. It has a bug: a Take
// of 0 divides by zero.
type QuotaV2 struct {
	Limit, Used, Burst int64
	Fits               int64 // how many more takes of the last size would fit
}

func (q *QuotaV2) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Take:
		q.Fits = (q.Limit + q.Burst - q.Used) / m.N // the bug: a Take of 0 panics
		ok := m.N >= 0 && q.Used+m.N <= q.Limit+q.Burst
		if ok {
			q.Used += m.N
		}
		ctx.Respond(&Granted{OK: ok})
	case *Give:
		q.Used = max(q.Used-m.N, 0)
	case *GetUsage:
		ctx.Respond(&Usage{Used: q.Used, Limit: q.Limit})
	}
}

// CheckInvariants implements update.Checker.
func (q *QuotaV2) CheckInvariants() error {
	if q.Used < 0 || q.Burst < 0 || q.Used > q.Limit+q.Burst {
		return fmt.Errorf("quota: %d used of %d and a burst of %d", q.Used, q.Limit, q.Burst)
	}
	return nil
}

// RegisterQuota adds the quota kind to cat, with a limit of limit units.
func RegisterQuota(cat *registry.Catalog) error {
	const limit = 10
	api := registry.Accepts(&Take{}, &Give{}, &GetUsage{})
	return errors.Join(
		registry.Register(cat, "quota", 1, func() *QuotaV1 { return &QuotaV1{Limit: limit} }, api),
		registry.Register(cat, "quota", 2, func() *QuotaV2 { return &QuotaV2{Limit: limit, Burst: limit / 2} }, api),
		registry.Migrate(cat, "quota", 1, 2, func(old *QuotaV1) (*QuotaV2, error) {
			return &QuotaV2{Limit: old.Limit, Used: old.Used, Burst: old.Limit / 2}, nil
		}),
		// Down: version 1 has no burst. A client inside its burst would be
		// over version 1's limit, so the downgrade is refused until it
		// gives units back.
		registry.Migrate(cat, "quota", 2, 1, func(old *QuotaV2) (*QuotaV1, error) {
			if old.Used > old.Limit {
				return nil, fmt.Errorf("quota: %d used is over version 1's limit of %d", old.Used, old.Limit)
			}
			return &QuotaV1{Limit: old.Limit, Used: old.Used}, nil
		}),
	)
}
