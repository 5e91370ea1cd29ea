package manifest

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Problem is one thing wrong with a package.
type Problem struct {
	// Path is the field path of the offending value, as in the file:
	// "updates[1].to", "groups[0].members[2]", "rollout.strategy". It is
	// "package" for the package as a whole.
	Path string
	// Message says what is wrong, and what would be right.
	Message string
	// Line is the line of the file, when the decoder knows it (JSON
	// files); 0 otherwise.
	Line int
	// Err is the underlying error, if any (a registry error from Build:
	// errors.Is(err, registry.ErrNoPath) sees it through ValidationError).
	Err error
}

// String formats the problem as "path: message", with the line first when
// it is known.
func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", p.Line, p.Path, p.Message)
	}
	return p.Path + ": " + p.Message
}

// ValidationError lists every problem found in a package, in the order of
// the package's fields. Load, Validate and Build return it; test for it with
// errors.As.
type ValidationError struct {
	Problems []Problem
}

// Error lists the problems one per line, after a line that counts them.
func (e *ValidationError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		b.WriteString("invalid update package: 1 problem")
	} else {
		fmt.Fprintf(&b, "invalid update package: %d problems", len(e.Problems))
	}
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns the underlying errors of the problems that have one, so
// that errors.Is finds a registry sentinel error in a Build error.
func (e *ValidationError) Unwrap() []error {
	var out []error
	for _, p := range e.Problems {
		if p.Err != nil {
			out = append(out, p.Err)
		}
	}
	return out
}

// problems collects Problems.
type problems []Problem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) addErr(path, prefix string, err error) {
	*ps = append(*ps, Problem{Path: path, Message: prefix + err.Error(), Err: err})
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}

// Validate checks a package on its own, without looking at the catalogue or
// at live actors, and reports every problem it finds at once as a
// *ValidationError (nil if there is none). Unset settings are valid: they
// take their defaults (see SetDefaults). The rules:
//
//   - id is required; updates has at least one entry, each with a kind
//     (one entry per kind), to >= 1, from versions >= 1, distinct and
//     other than to.
//   - targets name actors (non-empty, each a target of one update only) or
//     say all: true, not both; labels (non-empty keys) only with all.
//   - groups have a unique, non-empty name and at least one member; a
//     member is in one group only and must be a target of some update.
//   - order entries have a name (listed once) and at least one name in
//     after; no name depends on itself, names are kinds or actors of the
//     package, and there is no cycle, reported as "order: cycle a -> b -> a"
//     (a depends on b, b on a).
//   - quiescence.perActor is from 1ms to 10m, quiescence.package >= 0.
//   - a group names at most MaxGroupMembers members.
//   - rollout.strategy is all-at-once or rolling, onBudgetExceeded halt or
//     rollback; maxInFlight, batchSize, canaries, failureBudget and pause
//     are >= 0; batchSize, canaries and pause only with rolling.
//   - probation gives messages or duration (or both), neither negative.
//
// A target or order name that only live actors can resolve (an update has
// all: true) is checked by Build.
func Validate(p *Package) error {
	if p == nil {
		return &ValidationError{Problems: []Problem{{Path: "package", Message: "no package (nil)"}}}
	}
	var ps problems
	if strings.TrimSpace(p.ID) == "" {
		ps.add("id", "required: name the package")
	}

	// Updates and their targets.
	if len(p.Updates) == 0 {
		ps.add("updates", "at least one update is required")
	}
	kinds := map[string]bool{}
	kindAt := map[string]int{}
	actorKind := map[string]string{} // actors named in targets
	type position struct{ update, index int }
	actorAt := map[string]position{}
	anyAll := false
	for i, u := range p.Updates {
		at := "updates[" + strconv.Itoa(i) + "]"
		switch {
		case u.Kind == "":
			ps.add(at+".kind", "required: the kind to update")
		case kinds[u.Kind]:
			ps.add(at+".kind", "%q is already updated by updates[%d]; give one entry per kind", u.Kind, kindAt[u.Kind])
		default:
			kinds[u.Kind] = true
			kindAt[u.Kind] = i
		}
		if u.To < 1 {
			ps.add(at+".to", "must be >= 1 (versions are numbered from 1)")
		}
		seen := map[uint32]int{}
		for j, v := range u.From {
			fp := at + ".from[" + strconv.Itoa(j) + "]"
			switch first, dup := seen[v]; {
			case v < 1:
				ps.add(fp, "must be >= 1 (versions are numbered from 1)")
			case v == u.To:
				ps.add(fp, "%d is the target version; an actor already at it is left alone", v)
			case dup:
				ps.add(fp, "%d is already listed at from[%d]", v, first)
			default:
				seen[v] = j
			}
		}
		t := u.Targets
		tp := at + ".targets"
		switch {
		case len(t.Actors) == 0 && !t.All:
			ps.add(tp, "give actors (a list of names) or all: true")
		case len(t.Actors) > 0 && t.All:
			ps.add(tp, "give actors or all: true, not both")
		}
		anyAll = anyAll || t.All
		if len(t.Labels) > 0 && !t.All {
			ps.add(tp+".labels", "labels filter all: true; named actors are not filtered")
		}
		for _, k := range sortedKeys(t.Labels) {
			if k == "" {
				ps.add(tp+".labels", "a label key must not be empty")
			}
		}
		for j, a := range t.Actors {
			ap := tp + ".actors[" + strconv.Itoa(j) + "]"
			if a == "" {
				ps.add(ap, "must not be empty: give the name the actor was spawned with")
				continue
			}
			if first, dup := actorAt[a]; dup {
				if first.update == i {
					ps.add(ap, "%q is already listed at actors[%d]", a, first.index)
				} else {
					ps.add(ap, "%q is already a target of updates[%d]", a, first.update)
				}
				continue
			}
			actorAt[a] = position{i, j}
			actorKind[a] = u.Kind
		}
	}
	// known reports whether name is a kind or an actor of the package, as
	// far as can be told without live actors.
	known := func(name string) bool { return anyAll || kinds[name] || actorKind[name] != "" }

	// Groups.
	groupAt := map[string]int{}
	memberAt := map[string]int{}
	for i, g := range p.Groups {
		at := "groups[" + strconv.Itoa(i) + "]"
		switch first, dup := groupAt[g.Name]; {
		case g.Name == "":
			ps.add(at+".name", "required: name the group")
		case dup:
			ps.add(at+".name", "%q is already the name of groups[%d]", g.Name, first)
		default:
			groupAt[g.Name] = i
		}
		if len(g.Members) == 0 {
			ps.add(at+".members", "at least one member is required")
		}
		if n := len(g.Members); n > MaxGroupMembers {
			ps.add(at+".members", "%d members, over the limit of %d that one all-or-nothing update can name (update.MaxGroupMembers); split the group", n, MaxGroupMembers)
		}
		inGroup := map[string]int{}
		for j, m := range g.Members {
			mp := at + ".members[" + strconv.Itoa(j) + "]"
			if m == "" {
				ps.add(mp, "must not be empty: give an actor name")
				continue
			}
			if first, dup := inGroup[m]; dup {
				ps.add(mp, "%q is already listed at members[%d]", m, first)
				continue
			}
			inGroup[m] = j
			if first, dup := memberAt[m]; dup {
				ps.add(mp, "%q is already a member of groups[%d] (%q); an actor is in one group at most", m, first, p.Groups[first].Name)
				continue
			}
			memberAt[m] = i
			if !anyAll && actorKind[m] == "" {
				ps.add(mp, "%q is not a target of any update", m)
			}
		}
	}

	// Order.
	orderAt := map[string]int{}
	ordered := map[string]string{} // actors named in order, with their kinds if known
	for i, d := range p.Order {
		at := "order[" + strconv.Itoa(i) + "]"
		switch first, dup := orderAt[d.Name]; {
		case d.Name == "":
			ps.add(at+".name", "required: a kind or an actor name")
		case dup:
			ps.add(at+".name", "%q is already listed at order[%d]; merge the two", d.Name, first)
		default:
			orderAt[d.Name] = i
			ps.checkName(at+".name", d.Name, kinds, actorKind, known, ordered)
		}
		if len(d.After) == 0 {
			ps.add(at+".after", "at least one name is required: the kinds or actors %q depends on", d.Name)
		}
		seen := map[string]int{}
		for j, a := range d.After {
			ap := at + ".after[" + strconv.Itoa(j) + "]"
			first, dup := seen[a]
			switch {
			case a == "":
				ps.add(ap, "must not be empty: give a kind or an actor name")
			case a == d.Name:
				ps.add(ap, "%q depends on itself", a)
			case dup:
				ps.add(ap, "%q is already listed at after[%d]", a, first)
			default:
				seen[a] = j
				ps.checkName(ap, a, kinds, actorKind, known, ordered)
			}
		}
	}
	if len(p.Order) > 0 {
		for _, c := range newDepGraph(kinds, ordered, p.Order).cycles() {
			ps.add("order", "cycle %s", c)
		}
	}

	// Quiescence.
	q := p.Quiescence
	if d := q.PerActor.Duration; d < 0 || d > MaxPerActor || d > 0 && d < MinPerActor {
		ps.add("quiescence.perActor", "must be from %s to %s (unset: %s); got %s", fmtDuration(MinPerActor), fmtDuration(MaxPerActor), fmtDuration(DefaultPerActor), fmtDuration(d))
	}
	if q.Package.Duration < 0 {
		ps.add("quiescence.package", "must be >= 0 (unset: no bound); got %v", q.Package.Duration)
	}

	// Rollout.
	r := p.Rollout
	rolling := r.Strategy == StrategyRolling
	switch r.Strategy {
	case "", StrategyAllAtOnce, StrategyRolling:
	default:
		ps.add("rollout.strategy", "%q is not one of %s, %s", r.Strategy, StrategyAllAtOnce, StrategyRolling)
		rolling = true // do not also complain about rolling-only settings
	}
	nonNegative := func(path string, n int) bool {
		if n < 0 {
			ps.add(path, "must be >= 0; got %d", n)
		}
		return n >= 0
	}
	nonNegative("rollout.maxInFlight", r.MaxInFlight)
	nonNegative("rollout.failureBudget", r.FailureBudget)
	if nonNegative("rollout.batchSize", r.BatchSize) && r.BatchSize > 0 && !rolling {
		ps.add("rollout.batchSize", "only with strategy rolling; all-at-once runs every unit of a step in one batch")
	}
	if nonNegative("rollout.canaries", r.Canaries) && r.Canaries > 0 && !rolling {
		ps.add("rollout.canaries", "only with strategy rolling; all-at-once has no canaries")
	}
	if r.Pause.Duration < 0 {
		ps.add("rollout.pause", "must be >= 0; got %v", r.Pause.Duration)
	} else if r.Pause.Duration > 0 && !rolling {
		ps.add("rollout.pause", "only with strategy rolling; all-at-once has one batch per step")
	}
	switch r.OnBudgetExceeded {
	case "", OnBudgetHalt, OnBudgetRollback:
	default:
		ps.add("rollout.onBudgetExceeded", "%q is not one of %s, %s", r.OnBudgetExceeded, OnBudgetHalt, OnBudgetRollback)
	}

	// Probation.
	if pr := p.Probation; pr != nil {
		if pr.Messages == 0 && pr.Duration.Duration == 0 {
			ps.add("probation", "give messages or duration (the window after commit), or leave probation out")
		}
		nonNegative("probation.messages", pr.Messages)
		if pr.Messages > math.MaxUint32 {
			ps.add("probation.messages", "must be at most %d", uint32(math.MaxUint32))
		}
		if pr.Duration.Duration < 0 || pr.Duration.Duration > MaxProbation {
			ps.add("probation.duration", "must be between 0 and %v; got %v", MaxProbation, pr.Duration.Duration)
		}
	}
	return ps.err()
}

// checkName checks a name used in order, and records it in ordered if it
// is an actor.
func (ps *problems) checkName(path, name string, kinds map[string]bool, actorKind map[string]string, known func(string) bool, ordered map[string]string) {
	switch {
	case kinds[name] && actorKind[name] != "":
		ps.add(path, "%q is both a kind and the name of an actor; rename one", name)
	case kinds[name]:
	case !known(name):
		ps.add(path, "%q is neither a kind nor an actor this package updates", name)
	default:
		ordered[name] = actorKind[name]
	}
}

// fmtDuration writes a duration without its zero trailing units: "10m"
// rather than "10m0s", "1h" rather than "1h0m0s".
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
