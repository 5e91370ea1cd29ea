package protocol

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/registry"
	"github.com/molt-go/molt/update"
)

// Rollback puts back version to on host, with the state migrated down from
// state, a state of the running version (the running behaviour, or a
// snapshot of it), as probation does when a new version fails. It runs the
// migration chain to version to, checks the result's invariants, installs
// it and delivers VersionChanged. On an error the running version stays
// installed, unchanged.
func Rollback(ctx actor.Context, catalog *registry.Catalog, host Host, state actor.Actor, to uint32) error {
	from := host.Version()
	plan, err := catalog.Plan(host.Kind(), from, to)
	if err != nil {
		return err
	}
	old, err := plan.Transfer(state)
	if err != nil {
		return err
	}
	if err := checkInvariants("rolled-back", old); err != nil {
		return err
	}
	current := host.Behavior()
	host.Install(to, old, plan.Adapters())
	err = guard("receiving VersionChanged", func() error {
		host.Deliver(ctx, old, &update.VersionChanged{From: from, To: to})
		return nil
	})
	if err != nil {
		host.Install(from, current, catalog.Adapters(host.Kind(), from))
		return fmt.Errorf("version %d %w", to, err)
	}
	return nil
}
