package manifest

import "time"

// Package is a self-describing update package: what to update, to which
// version, in which groups and order, how fast, and what to watch after. It
// is defined in Go or loaded from YAML or JSON (Load); field names below are
// the file's keys.
type Package struct {
	// ID names the package in events and results. Required.
	ID string `json:"id"`
	// Description is free text for operators.
	Description string `json:"description,omitempty"`
	// Updates lists what changes, one entry per kind. At least one.
	Updates []KindUpdate `json:"updates"`
	// Groups are all-or-nothing groups: every member commits, or none does.
	Groups []Group `json:"groups,omitempty"`
	// Order lists dependencies: a kind or actor is updated only after the
	// ones it depends on, and rolled back before them.
	Order []Dependency `json:"order,omitempty"`
	// Quiescence bounds the time to reach stable states.
	Quiescence Quiescence `json:"quiescence,omitzero"`
	// Rollout says how many actors are updated at once.
	Rollout Rollout `json:"rollout,omitzero"`
	// Probation, when set, watches each actor after its commit and rolls it
	// back through its down migration if the new version panics or breaks
	// its invariants.
	Probation *Probation `json:"probation,omitempty"`
}

// KindUpdate updates the targets of one kind to version To. A package has
// one KindUpdate per kind.
type KindUpdate struct {
	// Kind is the registered kind to update. Required.
	Kind string `json:"kind"`
	// From lists the versions an actor may run for the update to apply to
	// it; empty means any version other than To.
	From []uint32 `json:"from,omitempty"`
	// To is the target version (>= 1); lower than the current version for a
	// downgrade through down migrations. Required.
	To uint32 `json:"to"`
	// Targets selects the actors. Required: name actors, or ask for all.
	Targets Targets `json:"targets"`
}

// Targets selects live actors of a kind.
type Targets struct {
	// Actors names actors by the name they were spawned with (their PID id).
	Actors []string `json:"actors,omitempty"`
	// All selects every live actor of the kind at one of the From versions.
	All bool `json:"all,omitempty"`
	// Labels keeps only the actors spawned with all these labels (with
	// these values); only with All.
	Labels map[string]string `json:"labels,omitempty"`
}

// Group is an all-or-nothing group of actors, by name. Its members are
// staged together, and committed only once all have staged.
type Group struct {
	// Name names the group in the plan and in events; unique. Required.
	Name string `json:"name"`
	// Members are actor names, each a target of some update and in one
	// group at most. At least one.
	Members []string `json:"members"`
}

// Dependency says that Name (a kind or an actor name) depends on the kinds
// or actors in After: those are updated first. An actor inherits the
// dependencies of its kind; a dependency on a kind is one on every actor of
// the kind.
type Dependency struct {
	Name  string   `json:"name"`
	After []string `json:"after"`
}

// Quiescence bounds the preparation of each actor and of the whole package.
type Quiescence struct {
	// PerActor is each actor's update deadline (default 2s, at most 10m).
	PerActor Duration `json:"perActor,omitzero"`
	// Package bounds the whole package (default: none); a group's deadline
	// is PerActor.
	Package Duration `json:"package,omitzero"`
}

// Rollout says how the targets are updated: all at once, or rolling.
type Rollout struct {
	// Strategy is "all-at-once" (default) or "rolling".
	Strategy string `json:"strategy,omitempty"`
	// MaxInFlight bounds the units (actors or groups) updating at once
	// within a batch (default 64).
	MaxInFlight int `json:"maxInFlight,omitempty"`
	// BatchSize is the number of units (actors or groups) per batch when
	// rolling (default 100).
	BatchSize int `json:"batchSize,omitempty"`
	// Canaries is the number of units of each step updated first, each
	// alone in a batch, before the rest (rolling only; default 0).
	Canaries int `json:"canaries,omitempty"`
	// Pause between batches (rolling only; default none).
	Pause Duration `json:"pause,omitzero"`
	// FailureBudget is how many units may fail before the rollout halts
	// (default 0: the first failure halts it).
	FailureBudget int `json:"failureBudget,omitempty"`
	// OnBudgetExceeded is "halt" (default) or "rollback": halt, then roll
	// back the units already updated, in reverse order.
	OnBudgetExceeded string `json:"onBudgetExceeded,omitempty"`
}

// Probation watches an actor after its commit: a panic or a failed
// invariant within the window rolls it back to its old version.
type Probation struct {
	// Messages is the window in messages handled by the new version.
	Messages int `json:"messages,omitempty"`
	// Duration is the window in time. The window ends at whichever of the
	// two comes first; at least one is required.
	Duration Duration `json:"duration,omitzero"`
}

// Duration is a time.Duration written as a Go duration string ("250ms",
// "2s", "1m30s") in files; a number is rejected, since it would not say its
// unit. The zero Duration means "not set".
type Duration struct{ time.Duration }
