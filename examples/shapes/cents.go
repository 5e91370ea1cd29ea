package shapes

import (
	"errors"
	"fmt"
	"math"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
)

// Messages of the wallet kind. They speak cents in every version: only the
// state changes type.
type (
	Deposit    struct{ Cents int64 }
	GetBalance struct{}
	// Balance answers GetBalance.
	Balance struct{ Cents int64 }
)

// MaxExactCents is the largest balance a float64 of euros holds to the
// cent: beyond it, neighbouring float64 values are more than a cent apart.
const MaxExactCents = 1 << 53 / 100

// WalletV1 keeps the balance in euros, as a float64: sums drift by
// fractions of a cent, which is why version 2 exists.
type WalletV1 struct {
	Euros float64
}

func (w *WalletV1) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Deposit:
		w.Euros += float64(m.Cents) / 100
	case *GetBalance:
		ctx.Respond(&Balance{Cents: int64(math.Round(w.Euros * 100))})
	}
}

// CheckInvariants implements update.Checker.
func (w *WalletV1) CheckInvariants() error {
	if math.IsNaN(w.Euros) || math.Abs(w.Euros*100) > MaxExactCents {
		return fmt.Errorf("wallet: %v euros is not a balance", w.Euros)
	}
	return nil
}

// WalletV2 keeps the balance in cents, exactly.
type WalletV2 struct {
	Cents int64
}

func (w *WalletV2) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *Deposit:
		w.Cents += m.Cents
	case *GetBalance:
		ctx.Respond(&Balance{Cents: w.Cents})
	}
}

// RegisterWallet adds the wallet kind to cat.
func RegisterWallet(cat *registry.Catalog) error {
	api := registry.Accepts(&Deposit{}, &GetBalance{})
	return errors.Join(
		registry.Register(cat, "wallet", 1, func() *WalletV1 { return &WalletV1{} }, api),
		registry.Register(cat, "wallet", 2, func() *WalletV2 { return &WalletV2{} }, api),
		// Up: the drift is below half a cent (the invariant bounds the
		// balance), so rounding to the nearest cent recovers what was
		// deposited.
		registry.Migrate(cat, "wallet", 1, 2, func(old *WalletV1) (*WalletV2, error) {
			return &WalletV2{Cents: int64(math.Round(old.Euros * 100))}, nil
		}),
		// Down: a balance beyond what float64 holds to the cent would be
		// rounded: refuse it, and the downgrade aborts with the cents intact.
		registry.Migrate(cat, "wallet", 2, 1, func(old *WalletV2) (*WalletV1, error) {
			if old.Cents > MaxExactCents || old.Cents < -MaxExactCents {
				return nil, fmt.Errorf("wallet: %d cents cannot be held in float64 euros without rounding", old.Cents)
			}
			return &WalletV1{Euros: float64(old.Cents) / 100}, nil
		}),
	)
}
