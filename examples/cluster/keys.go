package main

import (
	"context"
	"strings"

	mc "github.com/molt-go/molt/cluster"
	"github.com/molt-go/molt/envelope"
	"github.com/molt-go/molt/persist"
)

// grainKeys keeps every grain's snapshots under one key, "kind/identity",
// whichever of its two names molt uses. A grain is spawned named
// "kind/identity" as a child of the member's placement actor: molt loads a
// persistent actor's snapshot by the name it was spawned with, and
// molt.Persist saves it under the actor's PID id, which is the parent's id,
// "/", the name ("molt-placement/account/acct-7"). Without this, a grain
// activated again (after its member died) would find no snapshot, start
// empty, and every write it tried would be refused as stale. This is a
// workaround, in the example, until molt uses one key for both.
type grainKeys struct{ persist.Store }

func grainKey(name string) string {
	return strings.TrimPrefix(name, mc.PlacementName+"/")
}

func (g grainKeys) Save(ctx context.Context, name string, snap *envelope.Envelope) error {
	return g.Store.Save(ctx, grainKey(name), snap)
}

func (g grainKeys) Load(ctx context.Context, name string) (*envelope.Envelope, error) {
	return g.Store.Load(ctx, grainKey(name))
}

func (g grainKeys) Delete(ctx context.Context, name string) error {
	return g.Store.Delete(ctx, grainKey(name))
}
