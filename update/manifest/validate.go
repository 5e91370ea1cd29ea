package manifest

import (
	"fmt"
	"math"
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
	_, ps := validate(p)
	return ps.err()
}

// facts is what validation learns of a package on the way: the kinds of
// its updates and the actors its targets name. Build takes them from
// validate rather than making the same maps a second time.
type facts struct {
	kindAt  map[string]int      // each kind updated, to the index of its update
	actorAt map[string]position // each actor named in targets, to where
	anyAll  bool                // some update selects all: true
}

// position is where an actor is named: updates[update].targets.actors[index].
type position struct{ update, index int }

// validate is Validate, which it serves and Build too: it returns the
// problems, and the facts that Build reuses when there is none.
func validate(p *Package) (*facts, problems) {
	if p == nil {
		return nil, problems{{Path: "package", Message: "no package (nil)"}}
	}
	v := &validator{p: p}
	if strings.TrimSpace(p.ID) == "" {
		v.ps.add("id", "required: name the package")
	}
	v.updates()
	v.groups()
	v.order()
	v.settings()
	return &v.facts, v.ps
}

// validator checks one package. Its checks write a problem's field path
// only when they report one: a package names up to thousands of actors,
// and writing "updates[0].targets.actors[3]" for each of them cost more
// than the checks themselves.
type validator struct {
	p  *Package
	ps problems
	facts
}

// elem writes the path of element i of the list at path: "updates[2]".
func elem(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// actorKind returns the kind of the update that names actor in its
// targets, "" if none does (or if that update has no kind).
func (v *validator) actorKind(name string) string {
	if at, ok := v.actorAt[name]; ok {
		return v.p.Updates[at.update].Kind
	}
	return ""
}

// known reports whether name is a kind or an actor of the package, as far
// as can be told without live actors.
func (v *validator) known(name string) bool {
	_, kind := v.kindAt[name]
	return v.anyAll || kind || v.actorKind(name) != ""
}

// updates checks the updates and their targets, and learns the kinds and
// the named actors.
func (v *validator) updates() {
	p := v.p
	if len(p.Updates) == 0 {
		v.ps.add("updates", "at least one update is required")
	}
	actors := 0
	for _, u := range p.Updates {
		actors += len(u.Targets.Actors)
	}
	v.kindAt = make(map[string]int, len(p.Updates))
	v.actorAt = make(map[string]position, actors)
	for i, u := range p.Updates {
		at := func(field string) string { return elem("updates", i) + field }
		switch first, dup := v.kindAt[u.Kind]; {
		case u.Kind == "":
			v.ps.add(at(".kind"), "required: the kind to update")
		case dup:
			v.ps.add(at(".kind"), "%q is already updated by updates[%d]; give one entry per kind", u.Kind, first)
		default:
			v.kindAt[u.Kind] = i
		}
		if u.To < 1 {
			v.ps.add(at(".to"), "must be >= 1 (versions are numbered from 1)")
		}
		v.from(u, at)
		t := u.Targets
		switch {
		case len(t.Actors) == 0 && !t.All:
			v.ps.add(at(".targets"), "give actors (a list of names) or all: true")
		case len(t.Actors) > 0 && t.All:
			v.ps.add(at(".targets"), "give actors or all: true, not both")
		}
		v.anyAll = v.anyAll || t.All
		if len(t.Labels) > 0 && !t.All {
			v.ps.add(at(".targets.labels"), "labels filter all: true; named actors are not filtered")
		}
		if _, empty := t.Labels[""]; empty {
			v.ps.add(at(".targets.labels"), "a label key must not be empty")
		}
		v.targets(i, t.Actors, at)
	}
}

// from checks an update's from versions; at writes the update's paths.
func (v *validator) from(u KindUpdate, at func(string) string) {
	seen := map[uint32]int{}
	for j, ver := range u.From {
		switch first, dup := seen[ver]; {
		case ver < 1:
			v.ps.add(elem(at(".from"), j), "must be >= 1 (versions are numbered from 1)")
		case ver == u.To:
			v.ps.add(elem(at(".from"), j), "%d is the target version; an actor already at it is left alone", ver)
		case dup:
			v.ps.add(elem(at(".from"), j), "%d is already listed at from[%d]", ver, first)
		default:
			seen[ver] = j
		}
	}
}

// targets checks the actors update i names, and records where each is.
func (v *validator) targets(i int, actors []string, at func(string) string) {
	for j, a := range actors {
		if a == "" {
			v.ps.add(elem(at(".targets.actors"), j), "must not be empty: give the name the actor was spawned with")
			continue
		}
		if first, dup := v.actorAt[a]; dup {
			if first.update == i {
				v.ps.add(elem(at(".targets.actors"), j), "%q is already listed at actors[%d]", a, first.index)
			} else {
				v.ps.add(elem(at(".targets.actors"), j), "%q is already a target of updates[%d]", a, first.update)
			}
			continue
		}
		v.actorAt[a] = position{i, j}
	}
}

// groups checks the groups and their members.
func (v *validator) groups() {
	p := v.p
	groupAt := make(map[string]int, len(p.Groups))
	members := 0
	for _, g := range p.Groups {
		members += len(g.Members)
	}
	// One map serves both checks on a member: listed twice in its group
	// (its last group is this one), and in two groups (its first group is
	// another).
	type seen struct{ first, last, index int }
	memberAt := make(map[string]seen, members)
	for i, g := range p.Groups {
		at := func(field string) string { return elem("groups", i) + field }
		switch first, dup := groupAt[g.Name]; {
		case g.Name == "":
			v.ps.add(at(".name"), "required: name the group")
		case dup:
			v.ps.add(at(".name"), "%q is already the name of groups[%d]", g.Name, first)
		default:
			groupAt[g.Name] = i
		}
		if len(g.Members) == 0 {
			v.ps.add(at(".members"), "at least one member is required")
		}
		if n := len(g.Members); n > MaxGroupMembers {
			v.ps.add(at(".members"), "%d members, over the limit of %d that one all-or-nothing update can name (update.MaxGroupMembers); split the group", n, MaxGroupMembers)
		}
		for j, m := range g.Members {
			if m == "" {
				v.ps.add(elem(at(".members"), j), "must not be empty: give an actor name")
				continue
			}
			s, dup := memberAt[m]
			if dup && s.last == i {
				v.ps.add(elem(at(".members"), j), "%q is already listed at members[%d]", m, s.index)
				continue
			}
			if dup {
				memberAt[m] = seen{s.first, i, j}
				v.ps.add(elem(at(".members"), j), "%q is already a member of groups[%d] (%q); an actor is in one group at most", m, s.first, p.Groups[s.first].Name)
				continue
			}
			memberAt[m] = seen{i, i, j}
			if !v.anyAll && v.actorKind(m) == "" {
				v.ps.add(elem(at(".members"), j), "%q is not a target of any update", m)
			}
		}
	}
}

// order checks the dependencies, and that they make no cycle.
func (v *validator) order() {
	p := v.p
	if len(p.Order) == 0 {
		return
	}
	orderAt := make(map[string]int, len(p.Order))
	ordered := map[string]string{} // actors named in order, with their kinds if known
	for i, d := range p.Order {
		at := func(field string) string { return elem("order", i) + field }
		switch first, dup := orderAt[d.Name]; {
		case d.Name == "":
			v.ps.add(at(".name"), "required: a kind or an actor name")
		case dup:
			v.ps.add(at(".name"), "%q is already listed at order[%d]; merge the two", d.Name, first)
		default:
			orderAt[d.Name] = i
			v.checkName(d.Name, ordered, func() string { return at(".name") })
		}
		if len(d.After) == 0 {
			v.ps.add(at(".after"), "at least one name is required: the kinds or actors %q depends on", d.Name)
		}
		seen := map[string]int{}
		for j, a := range d.After {
			path := func() string { return elem(at(".after"), j) }
			first, dup := seen[a]
			switch {
			case a == "":
				v.ps.add(path(), "must not be empty: give a kind or an actor name")
			case a == d.Name:
				v.ps.add(path(), "%q depends on itself", a)
			case dup:
				v.ps.add(path(), "%q is already listed at after[%d]", a, first)
			default:
				seen[a] = j
				v.checkName(a, ordered, path)
			}
		}
	}
	for _, c := range newDepGraph(v.kindAt, ordered, p.Order).cycles() {
		v.ps.add("order", "cycle %s", c)
	}
}

// checkName checks a name used in order, and records it in ordered if it
// is an actor; path writes where it is used.
func (v *validator) checkName(name string, ordered map[string]string, path func() string) {
	_, kind := v.kindAt[name]
	switch {
	case kind && v.actorKind(name) != "":
		v.ps.add(path(), "%q is both a kind and the name of an actor; rename one", name)
	case kind:
	case !v.known(name):
		v.ps.add(path(), "%q is neither a kind nor an actor this package updates", name)
	default:
		ordered[name] = v.actorKind(name)
	}
}

// settings checks quiescence, rollout and probation.
func (v *validator) settings() {
	p, ps := v.p, &v.ps
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
