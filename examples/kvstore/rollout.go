package main

import (
	"context"
	"fmt"
	"time"

	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
	"github.com/molt-go/molt/update/manifest"
)

// rolloutPackage moves every shard that does not run version to to it,
// rolling: one canary first, then batches of four, so that at most a
// quarter of a 16-shard store is held at any moment and a version that
// fails on the canary stops the rollout with one shard touched.
func rolloutPackage(id string, to uint32, perActor time.Duration) *manifest.Package {
	return &manifest.Package{
		ID:          id,
		Description: fmt.Sprintf("every kvstore shard to version %d", to),
		Updates: []manifest.KindUpdate{{
			Kind: Kind, To: to,
			Targets: manifest.Targets{All: true, Labels: map[string]string{ShardLabel: Kind}},
		}},
		Quiescence: manifest.Quiescence{PerActor: manifest.Duration{Duration: perActor}},
		Rollout: manifest.Rollout{
			Strategy:    "rolling",
			Canaries:    1,
			BatchSize:   4,
			MaxInFlight: 4,
		},
	}
}

// rollout moves every shard to version to through the update manager, as
// `molt apply kvstore-v2.yaml` does from another process, and prints what
// happened. It returns the package's PACKAGE_DONE event, and an error if
// the package did not complete.
func (s *service) rollout(ctx context.Context, to uint32) (*manager.Event, error) {
	id := fmt.Sprintf("kvstore-v%d-%d", to, s.rollouts.Add(1))
	start := time.Now()
	var failures []string
	done, err := s.mgr.Run(ctx, rolloutPackage(id, to, s.cfg.UpdateDeadline), func(e *manager.Event) {
		if e.GetType() == manager.EventType_ACTOR_UPDATED && e.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
			failures = append(failures, fmt.Sprintf("%s: %v in %v: %s", e.GetActor(), e.GetOutcome(), e.GetPhase(), e.GetReason()))
		}
	})
	if err != nil {
		return done, fmt.Errorf("package %s: %w", id, err)
	}
	fmt.Fprintf(s.out, "kvstore: package %s: %v in %v, %d shards updated, %d failed\n",
		id, done.GetPackageOutcome(), time.Since(start).Round(time.Microsecond), done.GetUpdated(), done.GetFailed())
	for _, f := range failures {
		fmt.Fprintf(s.out, "kvstore:   %s\n", f)
	}
	if done.GetPackageOutcome() != manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED {
		return done, fmt.Errorf("package %s ended %v: %s", id, done.GetPackageOutcome(), done.GetReason())
	}
	return done, nil
}
