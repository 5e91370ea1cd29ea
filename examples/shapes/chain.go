package shapes

import (
	"errors"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
)

// Messages of the contact kind.
type (
	GetContact struct{}
	// Contact answers GetContact, in every version.
	Contact struct {
		Display string
		Emails  []string
	}
	AddEmail struct{ Address string }
)

// ContactV1 holds a full name.
type ContactV1 struct {
	Name string
}

func (c *ContactV1) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*GetContact); ok {
		ctx.Respond(&Contact{Display: c.Name})
	}
}

// ContactV2 splits the name.
type ContactV2 struct {
	Given, Family string
}

func (c *ContactV2) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*GetContact); ok {
		ctx.Respond(&Contact{Display: strings.TrimSpace(c.Given + " " + c.Family)})
	}
}

// ContactV3 adds e-mail addresses.
type ContactV3 struct {
	Given, Family string
	Emails        []string
}

func (c *ContactV3) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *AddEmail:
		c.Emails = append(c.Emails, m.Address)
	case *GetContact:
		ctx.Respond(&Contact{Display: strings.TrimSpace(c.Given + " " + c.Family), Emails: c.Emails})
	}
}

// ContactV4 records which addresses were verified.
type ContactV4 struct {
	Given, Family string
	Emails        []Email
}

type Email struct {
	Address  string
	Verified bool
}

func (c *ContactV4) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *AddEmail:
		c.Emails = append(c.Emails, Email{Address: m.Address})
	case *GetContact:
		addrs := make([]string, len(c.Emails))
		for i, e := range c.Emails {
			addrs[i] = e.Address
		}
		ctx.Respond(&Contact{Display: strings.TrimSpace(c.Given + " " + c.Family), Emails: addrs})
	}
}

// splitName puts the last word of a name in Family, the rest in Given.
func splitName(name string) (given, family string) {
	name = strings.TrimSpace(name)
	i := strings.LastIndexByte(name, ' ')
	if i < 0 {
		return "", name
	}
	return strings.TrimSpace(name[:i]), name[i+1:]
}

// RegisterContact adds the contact kind to cat: one migration per step,
// and a shortcut from 1 to 3 that skips version 2's intermediate state.
func RegisterContact(cat *registry.Catalog) error {
	v12 := registry.Accepts(&GetContact{})
	v34 := registry.Accepts(&GetContact{}, &AddEmail{})
	return errors.Join(
		registry.Register(cat, "contact", 1, func() *ContactV1 { return &ContactV1{} }, v12),
		registry.Register(cat, "contact", 2, func() *ContactV2 { return &ContactV2{} }, v12),
		registry.Register(cat, "contact", 3, func() *ContactV3 { return &ContactV3{} }, v34),
		registry.Register(cat, "contact", 4, func() *ContactV4 { return &ContactV4{} }, v34),
		registry.Migrate(cat, "contact", 1, 2, func(old *ContactV1) (*ContactV2, error) {
			given, family := splitName(old.Name)
			return &ContactV2{Given: given, Family: family}, nil
		}),
		registry.Migrate(cat, "contact", 2, 3, func(old *ContactV2) (*ContactV3, error) {
			return &ContactV3{Given: old.Given, Family: old.Family}, nil
		}),
		registry.Migrate(cat, "contact", 3, 4, func(old *ContactV3) (*ContactV4, error) {
			v4 := &ContactV4{Given: old.Given, Family: old.Family}
			for _, a := range old.Emails {
				v4.Emails = append(v4.Emails, Email{Address: a}) // never verified by version 3
			}
			return v4, nil
		}),
		registry.Migrate(cat, "contact", 1, 3, func(old *ContactV1) (*ContactV3, error) {
			given, family := splitName(old.Name)
			return &ContactV3{Given: given, Family: family}, nil
		}),
	)
}
