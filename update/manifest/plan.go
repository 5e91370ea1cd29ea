package manifest

import "github.com/asynkron/protoactor-go/actor"

// Plan is the protocol the manager runs for a package, resolved against the
// live actors: steps in dependency order, each a sequence of batches of
// units. Build makes it; a dry run prints it (WriteTo, String) and touches
// nothing. A Plan is a snapshot of the directory at Build time: an actor
// may since have stopped or changed version, which its update then reports
// (the manager sends Member.From as the update's from_version).
type Plan struct {
	// Package is the package the plan was built from, copied, with its
	// defaults filled (SetDefaults): the manager reads the rollout,
	// quiescence and probation settings from it.
	Package *Package
	// Steps run one after the other; a step starts once the previous one
	// has committed. Rollback undoes them in reverse order.
	Steps []Step
	// Skipped lists the selected actors that the plan leaves alone (already
	// at the target version, or at a version not in from), by name. The
	// manager does nothing with them; a dry run shows them.
	Skipped []Skip
}

// Step updates the units of one dependency level.
type Step struct {
	// Names are the kinds and actor names this step covers, for events:
	// the kind of each member, or the member's own name when the package's
	// order names it; sorted.
	Names   []string
	Batches []Batch
}

// Batch is a set of units updated together, at most MaxInFlight at once;
// the next batch starts when this one is over (and the rollout's pause has
// passed).
type Batch struct {
	// Canary marks a batch of one canary unit (rolling rollouts only): the
	// rest of the step starts only if it commits.
	Canary bool
	Units  []Unit
}

// Unit is updated atomically: one actor, or an all-or-nothing group.
type Unit struct {
	// Group is the group's name, or empty for a lone actor.
	Group string
	// Members are sorted by name; a lone actor's unit has one.
	Members []Member
}

// Name returns the group's name, or the lone actor's name.
func (u Unit) Name() string {
	if u.Group != "" || len(u.Members) == 0 {
		return u.Group
	}
	return u.Members[0].Name
}

// Member is one actor to update.
type Member struct {
	PID  *actor.PID
	Name string // the PID's id
	Kind string
	// From is the version the actor ran at Build time; To the target.
	From, To uint32
}

// Skip is a selected actor that the plan leaves alone.
type Skip struct {
	PID     *actor.PID
	Name    string
	Kind    string
	Version uint32 // the version it runs
	Reason  string
}

// Counts returns the number of batches, units and actors (members) in the
// plan; len(p.Steps) is the number of steps.
func (p *Plan) Counts() (batches, units, actors int) {
	for _, s := range p.Steps {
		batches += len(s.Batches)
		for _, b := range s.Batches {
			units += len(b.Units)
			for _, u := range b.Units {
				actors += len(u.Members)
			}
		}
	}
	return batches, units, actors
}
