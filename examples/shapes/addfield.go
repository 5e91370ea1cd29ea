package shapes

import (
	"errors"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
)

// Messages of the profile kind.
type (
	SetName    struct{ Name string }
	SetLocale  struct{ Locale string }
	GetProfile struct{}
	// Profile answers GetProfile.
	Profile struct{ Name, Locale string }
)

// DefaultLocale is the locale of a profile that never chose one: every
// profile of version 1.
const DefaultLocale = "en"

// ProfileV1 is a user's profile: a name.
type ProfileV1 struct {
	Name string
}

func (p *ProfileV1) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *SetName:
		p.Name = m.Name
	case *GetProfile:
		ctx.Respond(&Profile{Name: p.Name})
	}
}

// ProfileV2 adds the user's locale.
type ProfileV2 struct {
	Name   string
	Locale string
}

func (p *ProfileV2) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *SetName:
		p.Name = m.Name
	case *SetLocale:
		p.Locale = m.Locale
	case *GetProfile:
		ctx.Respond(&Profile{Name: p.Name, Locale: p.Locale})
	}
}

// CheckInvariants implements update.Checker: a migration that forgets the
// new field is caught before the switch, not by the first user who asks.
func (p *ProfileV2) CheckInvariants() error {
	if p.Locale == "" {
		return errors.New("profile: no locale")
	}
	return nil
}

// RegisterProfile adds the profile kind to cat.
func RegisterProfile(cat *registry.Catalog) error {
	return errors.Join(
		registry.Register(cat, "profile", 1, func() *ProfileV1 { return &ProfileV1{} },
			registry.Accepts(&SetName{}, &GetProfile{})),
		registry.Register(cat, "profile", 2, func() *ProfileV2 { return &ProfileV2{Locale: DefaultLocale} },
			registry.Accepts(&SetName{}, &SetLocale{}, &GetProfile{})),
		registry.Migrate(cat, "profile", 1, 2, func(old *ProfileV1) (*ProfileV2, error) {
			return &ProfileV2{Name: old.Name, Locale: DefaultLocale}, nil
		}),
	)
}
