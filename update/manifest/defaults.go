package manifest

import (
	"maps"
	"slices"
	"time"

	"github.com/molt-go/molt/update"
)

// Rollout strategies and budget actions, the values of Rollout.Strategy and
// Rollout.OnBudgetExceeded.
const (
	// StrategyAllAtOnce starts every unit of a step at once, at most
	// MaxInFlight at a time. The default.
	StrategyAllAtOnce = "all-at-once"
	// StrategyRolling updates a step's units in batches: first the canaries,
	// one unit each, then batches of BatchSize units, with Pause between
	// batches.
	StrategyRolling = "rolling"

	// OnBudgetHalt stops the rollout when the failure budget is exceeded:
	// no new unit starts, the units already updated stay updated. The
	// default.
	OnBudgetHalt = "halt"
	// OnBudgetRollback stops the rollout, then rolls the units already
	// updated back to their old versions, in reverse order.
	OnBudgetRollback = "rollback"
)

// Defaults and bounds applied by SetDefaults and checked by Validate.
const (
	// DefaultPerActor is Quiescence.PerActor when the package gives none.
	DefaultPerActor = 2 * time.Second
	// MinPerActor and MaxPerActor bound the per-actor deadline a package
	// may ask for: the bounds the update protocol enforces
	// (update.MinDeadline and update.MaxDeadline).
	MinPerActor = update.MinDeadline
	MaxPerActor = update.MaxDeadline
	// MaxGroupMembers is the most members a group may have: the most names
	// one staged update can carry (update.MaxGroupMembers).
	MaxGroupMembers = update.MaxGroupMembers
	// DefaultMaxInFlight is Rollout.MaxInFlight when the package gives none.
	DefaultMaxInFlight = 64
	// MaxProbation is the longest probation window in time, the bound the
	// update protocol enforces.
	MaxProbation = update.MaxProbation
	// DefaultBatchSize is Rollout.BatchSize of a rolling rollout that gives
	// none.
	DefaultBatchSize = 100
)

// SetDefaults fills the settings the package leaves unset:
// Quiescence.PerActor 2s, Rollout.Strategy "all-at-once",
// Rollout.MaxInFlight 64, Rollout.BatchSize 100 (rolling only: an
// all-at-once rollout has no batch size) and Rollout.OnBudgetExceeded
// "halt". Quiescence.Package 0 means no bound on the whole package,
// Rollout.Canaries, Pause and FailureBudget default to 0, and a nil
// Probation means no probation. Values already set are kept, invalid ones
// included: SetDefaults does not validate. Build calls it on a copy.
func (p *Package) SetDefaults() {
	if p.Quiescence.PerActor.Duration == 0 {
		p.Quiescence.PerActor.Duration = DefaultPerActor
	}
	r := &p.Rollout
	if r.Strategy == "" {
		r.Strategy = StrategyAllAtOnce
	}
	if r.MaxInFlight == 0 {
		r.MaxInFlight = DefaultMaxInFlight
	}
	if r.BatchSize == 0 && r.Strategy == StrategyRolling {
		r.BatchSize = DefaultBatchSize
	}
	if r.OnBudgetExceeded == "" {
		r.OnBudgetExceeded = OnBudgetHalt
	}
}

// Clone returns a deep copy of the package: changing one does not change
// the other.
func (p *Package) Clone() *Package {
	c := *p
	c.Updates = slices.Clone(p.Updates)
	for i := range c.Updates {
		u := &c.Updates[i]
		u.From = slices.Clone(u.From)
		u.Targets.Actors = slices.Clone(u.Targets.Actors)
		u.Targets.Labels = maps.Clone(u.Targets.Labels)
	}
	c.Groups = slices.Clone(p.Groups)
	for i := range c.Groups {
		c.Groups[i].Members = slices.Clone(c.Groups[i].Members)
	}
	c.Order = slices.Clone(p.Order)
	for i := range c.Order {
		c.Order[i].After = slices.Clone(c.Order[i].After)
	}
	if p.Probation != nil {
		pr := *p.Probation
		c.Probation = &pr
	}
	return &c
}
