package manifest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/internal/directory"
	"github.com/molt-go/molt/registry"
)

// Build turns a package into the plan the manager runs, resolved against
// the live actors. It validates the package (Validate), then:
//
//   - resolves each update's targets in the directory: the named actors
//     (by PID id), or with all: true every live actor of the kind that has
//     all the labels. A target at one of the from versions (any version
//     other than to when from is empty) becomes a Member; one already at to,
//     or at a version not in from, is left out and listed in Plan.Skipped.
//     A named actor that is not live, or is of another kind, is a problem;
//   - checks each update against the catalogue: the kind and the target
//     version exist, and cat.Plan finds a way to the target from every from
//     version and every version a target runs; when the package can roll
//     back (probation, or onBudgetExceeded: rollback), also the way back
//     from the target to every version a target runs;
//   - checks that group members are targets (a member that is skipped is
//     left out of its group) and that names in order are kinds of the
//     package or targets;
//   - orders the targets by their dependencies: a target's step is 1 + the
//     highest step of what it depends on, where a target depends on what
//     its own name and its kind depend on in order, and a dependency on a
//     kind is one on every target of the kind but the target itself. The
//     ordering is transitive (through kinds and actors with no target too);
//     steps with no target are dropped. All members of a group must fall in
//     one step;
//   - makes the units (each group, and each target in no group), sorts
//     them by name (a group's name, a lone actor's name) in each step, and
//     cuts each step into batches by the rollout: all-at-once makes one
//     batch per step; rolling makes, in each step, a batch of one unit for
//     each of the first Canaries units (Batch.Canary), then batches of
//     BatchSize units.
//
// Every problem is reported at once, as a *ValidationError with field
// paths; registry errors are kept in Problem.Err (errors.Is sees them).
// Build only reads the catalogue and the directory: it sends nothing to
// any actor, so a dry run (Build, then Plan.WriteTo) changes nothing.
// The plan's Package is a copy of p with its defaults filled (SetDefaults).
func Build(p *Package, cat *registry.Catalog, dir *registry.Directory) (*Plan, error) {
	f, ps := validate(p)
	if err := ps.err(); err != nil {
		return nil, err
	}
	if cat == nil || dir == nil {
		return nil, errors.New("manifest: Build needs a catalogue and a directory")
	}
	// A valid package's kinds and named actors are the keys of validate's
	// maps: the builder reads them there.
	b := &builder{
		pkg:     p.Clone(),
		cat:     cat,
		dir:     dir,
		names:   directory.WriterOf(dir).(nameRanger),
		facts:   f,
		members: make([]Member, 0, len(f.actorAt)),
	}
	b.pkg.SetDefaults()
	for i, u := range b.pkg.Updates {
		b.resolve(i, u)
	}
	groups := b.groups()
	ordered := b.orderNames()
	g := newDepGraph(b.kindAt, ordered, b.pkg.Order)
	cycles := g.cycles()
	for _, c := range cycles {
		b.ps.add("order", "cycle %s", c)
	}
	if len(cycles) > 0 {
		return nil, b.ps.err()
	}

	// Steps: the dependency levels that have targets, renumbered from 1.
	steps := b.steps(g.levels(), ordered)
	units := make([][]Unit, len(steps.names))
	for gi, members := range groups {
		if len(members) == 0 {
			continue // every member was skipped
		}
		step := steps.of[members[0]]
		for _, m := range members[1:] {
			if steps.of[m] != step {
				b.ps.add(elem("groups", gi), "members fall in different dependency steps (%s); a group commits at once, so no member may depend on another", b.groupSteps(members, steps.of))
				break
			}
		}
		u := Unit{Group: b.pkg.Groups[gi].Name, Members: make([]Member, len(members))}
		for j, m := range members {
			u.Members[j] = b.members[m]
		}
		slices.SortFunc(u.Members, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
		units[step] = append(units[step], u)
	}
	if len(b.ps) > 0 {
		return nil, b.ps.err()
	}
	// The lone actors, most of a fleet, each a unit of one member.
	lone := b.lone(steps)

	plan := &Plan{Package: b.pkg, Skipped: b.skips}
	slices.SortStableFunc(plan.Skipped, func(a, b Skip) int { return strings.Compare(a.Name, b.Name) })
	r := b.pkg.Rollout
	for i, grouped := range units {
		us := b.merge(grouped, lone[i])
		step := Step{Names: steps.names[i]}
		switch r.Strategy {
		case StrategyRolling:
			canaries := min(r.Canaries, len(us))
			for _, u := range us[:canaries] {
				step.Batches = append(step.Batches, Batch{Canary: true, Units: []Unit{u}})
			}
			for rest := us[canaries:]; len(rest) > 0; {
				n := min(r.BatchSize, len(rest))
				step.Batches = append(step.Batches, Batch{Units: rest[:n:n]})
				rest = rest[n:]
			}
		default:
			step.Batches = []Batch{{Units: us}}
		}
		plan.Steps = append(plan.Steps, step)
	}
	return plan, nil
}

// groupSteps writes where the members of a group fall, for the problem of
// a group across steps: "a in step 1, b in step 2".
func (b *builder) groupSteps(members []int32, stepOf []int) string {
	parts := make([]string, len(members))
	for j, m := range members {
		parts[j] = fmt.Sprintf("%s in step %d", b.members[m].Name, stepOf[m]+1)
	}
	return strings.Join(parts, ", ")
}

// lone returns the lone targets (in no group) of each step, sorted by
// name: slices of b.members, which it reorders. What indexes b.members
// (targets, grouped, steps.of) does not hold afterwards.
//
// A fleet's sort was most of Build: a comparison reads two names, out of
// the Members, wherever their bytes are, and a swap moves 48 bytes with
// write barriers while the collector runs. So the targets are sorted as
// nameKeys, 16 bytes with no pointer, by radix; then b.members is put in
// their order, in place: each Member moves once, into no new array.
func (b *builder) lone(steps stepping) [][]Member {
	// The keys of the lone targets, a step after the other, then of the
	// grouped ones: the order b.members is put in.
	start := make([]int, len(steps.loneCount)+1)
	for s, n := range steps.loneCount {
		start[s+1] = start[s] + n
	}
	keys := make([]nameKey, len(b.members))
	next := slices.Clone(start)
	grouped := start[len(steps.loneCount)]
	for i := range b.members {
		at := &grouped
		if !b.grouped[i] {
			at = &next[steps.of[i]]
		}
		keys[*at].i = int32(i)
		*at++
	}
	var scratch []nameKey // for the radix sort, as large as the largest step
	for s, n := range steps.loneCount {
		if n > len(scratch) && n > smallSort {
			scratch = make([]nameKey, slices.Max(steps.loneCount))
		}
		b.sortByName(keys[start[s]:start[s+1]], 0, false, scratch)
	}
	// b.members[p] = b.members[keys[p].i], a cycle of the permutation at
	// a time; a key done is marked -1.
	for p := range keys {
		if keys[p].i < 0 || int(keys[p].i) == p {
			continue
		}
		m := b.members[p]
		for q := p; ; {
			from := int(keys[q].i)
			keys[q].i = -1
			if from == p {
				b.members[q] = m
				break
			}
			b.members[q] = b.members[from]
			q = from
		}
	}
	lone := make([][]Member, len(steps.loneCount))
	for s := range lone {
		lone[s] = b.members[start[s]:start[s+1]:start[s+1]]
	}
	return lone
}

// merge returns one step's units in plan order (by name; a group before a
// lone actor of the same name): groups, and the lone targets, sorted by
// name already. The lone targets' units share their array, a member each:
// one allocation for the step rather than one per actor.
func (b *builder) merge(groups []Unit, lone []Member) []Unit {
	byName := func(a, b Unit) int {
		return cmp.Or(strings.Compare(a.Name(), b.Name()), strings.Compare(b.Group, a.Group))
	}
	slices.SortFunc(groups, byName)
	us := make([]Unit, 0, len(groups)+len(lone))
	for len(groups) > 0 || len(lone) > 0 {
		if len(lone) == 0 || len(groups) > 0 && groups[0].Name() <= lone[0].Name {
			us = append(us, groups[0])
			groups = groups[1:]
			continue
		}
		us = append(us, Unit{Members: lone[:1:1]})
		lone = lone[1:]
	}
	return us
}

// stepping places the targets in steps.
type stepping struct {
	of        []int      // the step of each target, by its index in builder.members
	names     [][]string // the names each step covers (Step.Names)
	loneCount []int      // the number of lone targets (in no group) of each step
}

// steps places each target in the step of its node (its own name when
// order names it, else its kind): the dependency levels that have targets,
// indexed from 0. A step covers the nodes of its targets: found from the
// few nodes rather than from every target, which a fleet has 100,000 of.
func (b *builder) steps(level map[string]int, ordered map[string]string) stepping {
	// The level of each target. Targets come a kind at a time (a fleet is
	// one kind), so the node's level is looked up only when the node
	// changes, and the nodes that have targets are recorded then.
	of := make([]int, len(b.members))
	nodes := map[string]int{} // the nodes that have targets, to their levels
	node, lv := "", 0
	for i := range b.members {
		m := &b.members[i]
		n := m.Kind
		if _, ok := ordered[m.Name]; ok {
			n = m.Name
		}
		if n != node || i == 0 {
			node, lv = n, level[n]
			nodes[n] = lv
		}
		of[i] = lv
	}
	// Levels run from 1 to the number of nodes of the graph, so slices
	// indexed by level renumber them: the levels that have targets, in
	// order, are the steps.
	maxLevel := 0
	for _, lv := range nodes {
		maxLevel = max(maxLevel, lv)
	}
	has := make([]bool, maxLevel+1)
	for _, lv := range nodes {
		has[lv] = true
	}
	stepAt := make([]int, maxLevel+1)
	n := 0
	for lv := range has {
		if has[lv] {
			stepAt[lv] = n
			n++
		}
	}
	s := stepping{of: of, names: make([][]string, n), loneCount: make([]int, n)}
	for node, lv := range nodes {
		s.names[stepAt[lv]] = append(s.names[stepAt[lv]], node)
	}
	for _, names := range s.names {
		slices.Sort(names)
	}
	for i, lv := range of { // levels until now, steps from now on
		of[i] = stepAt[lv]
		if !b.grouped[i] {
			s.loneCount[of[i]]++
		}
	}
	return s
}

// nameRanger is a read of registry.Directory that molt's own code reaches
// through its write side (internal/directory.WriterOf): Range with each
// actor's name, which the directory is keyed by, and whether the name is
// unique among the live actors. See registry's writer.RangeNames.
type nameRanger interface {
	RangeNames(kind string, fn func(name string, e registry.Entry, unique bool) bool)
}

// builder holds what Build learns as it goes.
type builder struct {
	pkg   *Package
	cat   *registry.Catalog
	dir   *registry.Directory
	names nameRanger // dir's RangeNames
	ps    problems
	*facts
	members []Member // the targets, as found
	// targets has the index of each of members[:indexed] by name; nil
	// until needed. members[indexed:] are targets of one RangeNames whose
	// names it found unique in the directory, every name in a node's:
	// they differ from one another's and from the indexed ones'. A fleet
	// needs no index unless a group or order names a target (target).
	targets map[string]int32
	indexed int
	grouped []bool // whether each target is in a group, by index; made by groups
	skips   []Skip
	skipped map[string]bool             // skips by name: whether at the target version; made on first need
	all     map[string][]registry.Entry // every live actor by name, made on first need
}

// resolve finds the targets of update i and checks it against the
// catalogue.
func (b *builder) resolve(i int, u KindUpdate) {
	at := func(field string) string { return elem("updates", i) + field }
	versions := b.cat.Versions(u.Kind)
	if len(versions) == 0 {
		b.ps.addErr(at(".kind"), "", fmt.Errorf("%w %q (the catalogue has: %s)", registry.ErrUnknownKind, u.Kind, orNone(b.cat.Kinds())))
		return
	}
	if !slices.Contains(versions, u.To) {
		b.ps.addErr(at(".to"), "", fmt.Errorf("%w: %s has no version %d (registered: %s)", registry.ErrUnknownVersion, u.Kind, u.To, joinVersions(versions)))
		return
	}

	from := map[uint32]bool{} // the versions to plan from
	for _, v := range u.From {
		from[v] = true
	}
	running := map[uint32]bool{}    // the versions targets run
	var notInFrom map[uint32]string // skip reasons, written once per version
	last := u.To                    // the version of the last target: in from and running already
	var dups []string               // the names of the problems take reports, in order
	// take makes e, named name, a target, or a skip, or a problem when a
	// target has the name already. unique says that no other live actor
	// has the name, in the same view of the directory as every target
	// not indexed yet came from: none of them can have it.
	take := func(name string, e registry.Entry, unique bool) {
		switch {
		case e.Version == u.To:
			b.skip(name, e, "already at the target version")
			return
		case len(u.From) > 0 && !from[e.Version]:
			reason, ok := notInFrom[e.Version]
			if !ok {
				if notInFrom == nil {
					notInFrom = map[uint32]string{}
				}
				reason = fmt.Sprintf("version %d is not in from %v", e.Version, u.From)
				notInFrom[e.Version] = reason
			}
			b.skip(name, e, reason)
			return
		}
		if !unique {
			b.index()
		}
		if prev, dup := b.targets[name]; dup {
			prev := &b.members[prev]
			b.ps.add(at(".targets"), "two live target actors are named %q (%s, a %s, and %s, a %s); targets, groups and order name actors by name, so names must be unique",
				name, pidString(prev.PID), prev.Kind, pidString(e.PID), e.Kind)
			dups = append(dups, name)
			return
		}
		if !unique {
			b.targets[name] = int32(len(b.members))
			b.indexed++
		}
		b.members = append(b.members, Member{PID: e.PID, Name: name, Kind: u.Kind, From: e.Version, To: u.To})
		if e.Version != last {
			from[e.Version] = true
			running[e.Version] = true
			last = e.Version
		}
	}
	if u.Targets.All {
		// Taken as the directory goes, in no particular order (the units
		// are sorted by name later): no copy of a whole fleet's entries.
		// take does not call the directory, whose lock RangeNames holds.
		// They are counted first, to make room for them at once. The
		// targets found so far are indexed, to check this update's
		// against; this update's own need no index when their names are
		// unique in the directory, as every name in one node is.
		selected := func(yield func(string, registry.Entry, bool)) {
			b.names.RangeNames(u.Kind, func(name string, e registry.Entry, unique bool) bool {
				if hasLabels(e.Labels, u.Targets.Labels) {
					yield(name, e, unique)
				}
				return true
			})
		}
		n := 0
		selected(func(string, registry.Entry, bool) { n++ })
		b.members = slices.Grow(b.members, n)
		if b.indexed < len(b.members) {
			b.index()
		}
		first := len(b.ps)
		selected(take)
		// Actors that share a name are reported by name, not in the order
		// of the directory's maps. Of the actors of one name, the one the
		// directory holds first is the target, and the problems of the
		// others come in the directory's order, which is theirs.
		if len(dups) > 1 {
			found := slices.Clone(b.ps[first:])
			order := make([]int, len(dups))
			for j := range order {
				order[j] = j
			}
			slices.SortStableFunc(order, func(j, k int) int { return strings.Compare(dups[j], dups[k]) })
			for j, k := range order {
				b.ps[first+j] = found[k]
			}
		}
	} else {
		// Named targets are looked up one by one: a small package must not
		// cost as much as the whole fleet of its kind.
		for j, name := range u.Targets.Actors {
			es := b.dir.ByName(name)
			switch first, n := firstOfKind(es, u.Kind); n {
			case 0:
				b.ps.add(elem(at(".targets.actors"), j), "%s", b.notLive(name, u.Kind))
			case 1:
				take(name, first, false)
			default:
				es = slices.DeleteFunc(slices.Clone(es), func(e registry.Entry) bool { return e.Kind != u.Kind })
				b.ps.add(elem(at(".targets.actors"), j), "%d live %s actors are named %q (%s); names must be unique", len(es), u.Kind, name, pids(es))
			}
		}
	}

	var back string
	switch {
	case b.pkg.Probation != nil && b.pkg.Rollout.OnBudgetExceeded == OnBudgetRollback:
		back = "probation and onBudgetExceeded: rollback roll back"
	case b.pkg.Probation != nil:
		back = "probation rolls back"
	case b.pkg.Rollout.OnBudgetExceeded == OnBudgetRollback:
		back = "onBudgetExceeded: rollback rolls back"
	}
	for _, v := range sortedVersions(from) {
		if _, err := b.cat.Plan(u.Kind, v, u.To); err != nil {
			b.ps.addErr(at(""), fmt.Sprintf("from %d to %d: ", v, u.To), err)
			continue
		}
		if back != "" && running[v] {
			if _, err := b.cat.Plan(u.Kind, u.To, v); err != nil {
				b.ps.addErr(at(""), fmt.Sprintf("back from %d to %d (%s): ", u.To, v, back), err)
			}
		}
	}
}

// index puts every target in b.targets. Made at once, for as many
// targets as there is room for (see resolve), the map is not grown step by
// step, which for a fleet copied and rehashed it several times over.
func (b *builder) index() {
	if b.targets == nil {
		b.targets = make(map[string]int32, cap(b.members))
	}
	for ; b.indexed < len(b.members); b.indexed++ {
		b.targets[b.members[b.indexed].Name] = int32(b.indexed)
	}
}

// target returns the index in b.members of the target named name.
func (b *builder) target(name string) (int32, bool) {
	b.index()
	m, ok := b.targets[name]
	return m, ok
}

// firstOfKind returns the first of es of kind, and how many are: without
// a copy of es, which for a named target is most often the one wanted.
func firstOfKind(es []registry.Entry, kind string) (first registry.Entry, n int) {
	for _, e := range es {
		if e.Kind == kind {
			if n == 0 {
				first = e
			}
			n++
		}
	}
	return first, n
}

// sortedVersions returns the versions of a set in order.
func sortedVersions(set map[uint32]bool) []uint32 {
	vs := make([]uint32, 0, len(set))
	for v := range set {
		vs = append(vs, v)
	}
	slices.Sort(vs)
	return vs
}

func (b *builder) skip(name string, e registry.Entry, reason string) {
	b.skips = append(b.skips, Skip{PID: e.PID, Name: name, Kind: e.Kind, Version: e.Version, Reason: reason})
}

// isSkipped reports whether an actor named name was skipped, and whether
// one so named is at its target version already. The map of names it
// reads is made on the first question (groups and order ask): a fleet's
// skips cost no map when nothing asks.
func (b *builder) isSkipped(name string) (skipped, atTarget bool) {
	if b.skipped == nil {
		b.skipped = make(map[string]bool, len(b.skips))
		for _, s := range b.skips {
			// A skip's kind is its update's (one update per kind).
			at := s.Version == b.pkg.Updates[b.kindAt[s.Kind]].To
			b.skipped[s.Name] = b.skipped[s.Name] || at
		}
	}
	atTarget, skipped = b.skipped[name]
	return skipped, atTarget
}

// notLive explains why no live actor of kind is named name.
func (b *builder) notLive(name, kind string) string {
	if b.all == nil {
		b.all = map[string][]registry.Entry{}
		for _, e := range b.dir.List("") {
			b.all[e.PID.GetId()] = append(b.all[e.PID.GetId()], e)
		}
	}
	if es := b.all[name]; len(es) > 0 {
		return fmt.Sprintf("%q is a live actor of kind %q, not %q", name, es[0].Kind, kind)
	}
	return fmt.Sprintf("no live actor is named %q", name)
}

// groups lists each group's members that are targets, by their index in
// b.members, and marks them in b.grouped. A member that was skipped is
// left out.
func (b *builder) groups() [][]int32 {
	b.grouped = make([]bool, len(b.members))
	groups := make([][]int32, len(b.pkg.Groups))
	for gi, g := range b.pkg.Groups {
		groups[gi] = make([]int32, 0, len(g.Members))
		for mj, name := range g.Members {
			m, target := b.target(name)
			if target {
				b.grouped[m] = true
				groups[gi] = append(groups[gi], m)
				continue
			}
			skipped, atTarget := b.isSkipped(name)
			_, named := b.actorAt[name]
			switch {
			case skipped && !atTarget:
				b.ps.add(elem(elem("groups", gi)+".members", mj), "%q runs a version that is not in its update's from: an all-or-nothing group cannot leave a member behind; add the version to from, or take the actor out of the group", name)
			case skipped:
			case named:
				// not live: reported at its update already
			default:
				b.ps.add(elem(elem("groups", gi)+".members", mj), "%q is not a target of any update", name)
			}
		}
	}
	return groups
}

// orderNames checks the names in order and returns the targets it names,
// with their kinds.
func (b *builder) orderNames() map[string]string {
	ordered := map[string]string{}
	check := func(name string, path func() string) {
		_, kind := b.kindAt[name]
		m, target := b.target(name)
		switch {
		case kind && target:
			b.ps.add(path(), "%q is both a kind and the name of an actor; rename one", name)
		case kind:
		case target:
			ordered[name] = b.members[m].Kind
		default:
			skipped, _ := b.isSkipped(name)
			if _, named := b.actorAt[name]; !skipped && !named {
				b.ps.add(path(), "%q is neither a kind nor an actor this package updates", name)
			}
			// skipped: nothing to wait for; not live: reported already
		}
	}
	for i, d := range b.pkg.Order {
		at := func(field string) string { return elem("order", i) + field }
		check(d.Name, func() string { return at(".name") })
		for j, a := range d.After {
			check(a, func() string { return elem(at(".after"), j) })
		}
	}
	return ordered
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func pids(es []registry.Entry) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = pidString(e.PID)
	}
	return strings.Join(parts, ", ")
}

// pidString writes a PID as address/id.
func pidString(p *actor.PID) string { return p.GetAddress() + "/" + p.GetId() }

func joinVersions(vs []uint32) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ", ")
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
