package registry_test

import (
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
)

type smallV1 struct{ A, B, C, D int }

func (*smallV1) Receive(actor.Context) {}

type smallV2 struct{ A, B, C, D, E int }

func (*smallV2) Receive(actor.Context) {}

type blobV1 struct {
	N    int
	Data []byte
}

func (*blobV1) Receive(actor.Context) {}

type blobV2 struct {
	N    int
	Data []byte
}

func (*blobV2) Receive(actor.Context) {}

// BenchmarkTransfer measures Plan.Transfer of one migration for each way of
// isolating its input: a codec round trip (msgpack, the default), a Clone,
// or none (Pure). The 1MB cases show what the codec copy costs for a large
// state; a Pure migration that keeps the same slice costs nothing per byte.
func BenchmarkTransfer(b *testing.B) {
	small := func(vopts []registry.VersionOption, mopts ...registry.MigrationOption) func(*registry.Catalog) error {
		return func(c *registry.Catalog) error {
			if err := registry.Register(c, "k", 1, func() *smallV1 { return &smallV1{} }, vopts...); err != nil {
				return err
			}
			if err := registry.Register(c, "k", 2, func() *smallV2 { return &smallV2{} }); err != nil {
				return err
			}
			return registry.Migrate(c, "k", 1, 2, func(s *smallV1) (*smallV2, error) {
				return &smallV2{A: s.A, B: s.B, C: s.C, D: s.D, E: s.A + s.B}, nil
			}, mopts...)
		}
	}
	blob := func(mopts ...registry.MigrationOption) func(*registry.Catalog) error {
		return func(c *registry.Catalog) error {
			if err := registry.Register(c, "k", 1, func() *blobV1 { return &blobV1{} }); err != nil {
				return err
			}
			if err := registry.Register(c, "k", 2, func() *blobV2 { return &blobV2{} }); err != nil {
				return err
			}
			return registry.Migrate(c, "k", 1, 2, func(s *blobV1) (*blobV2, error) {
				return &blobV2{N: s.N, Data: s.Data}, nil
			}, mopts...)
		}
	}
	cloneSmall := registry.Clone(func(s *smallV1) *smallV1 { cp := *s; return &cp })
	cases := []struct {
		name  string
		setup func(c *registry.Catalog) error
		live  actor.Actor
		bytes int64
	}{
		{"small/codec", small(nil), &smallV1{A: 1, B: 2, C: 3, D: 4}, 0},
		{"small/clone", small([]registry.VersionOption{cloneSmall}), &smallV1{A: 1, B: 2, C: 3, D: 4}, 0},
		{"small/pure", small(nil, registry.Pure()), &smallV1{A: 1, B: 2, C: 3, D: 4}, 0},
		{"1MB/codec", blob(), &blobV1{N: 1, Data: make([]byte, 1<<20)}, 1 << 20},
		{"1MB/pure", blob(registry.Pure()), &blobV1{N: 1, Data: make([]byte, 1<<20)}, 1 << 20},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			c := registry.New()
			if err := bc.setup(c); err != nil {
				b.Fatal(err)
			}
			p, err := c.Plan("k", 1, 2)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(bc.bytes)
			for b.Loop() {
				if _, err := p.Transfer(bc.live); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
