package manifest

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
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
	if err := Validate(p); err != nil {
		return nil, err
	}
	if cat == nil || dir == nil {
		return nil, errors.New("manifest: Build needs a catalogue and a directory")
	}
	b := &builder{
		pkg:      p.Clone(),
		cat:      cat,
		dir:      dir,
		kinds:    map[string]bool{},
		named:    map[string]bool{},
		targets:  map[string]*Member{},
		skipped:  map[string]bool{},
		atTarget: map[string]bool{},
	}
	b.pkg.SetDefaults()
	for i, u := range b.pkg.Updates {
		b.kinds[u.Kind] = true
		for _, a := range u.Targets.Actors {
			b.named[a] = true
		}
		b.resolve(i, u)
	}
	groupOf, groups := b.groups()
	ordered := b.orderNames()
	g := newDepGraph(b.kinds, ordered, b.pkg.Order)
	cycles := g.cycles()
	for _, c := range cycles {
		b.ps.add("order", "cycle %s", c)
	}
	if len(cycles) > 0 {
		return nil, b.ps.err()
	}

	// Steps: the dependency levels that have targets, renumbered from 1.
	level := g.levels()
	nodeOf := func(m *Member) string {
		if _, ok := ordered[m.Name]; ok {
			return m.Name
		}
		return m.Kind
	}
	var used []int
	for _, m := range b.targets {
		used = append(used, level[nodeOf(m)])
	}
	slices.Sort(used)
	used = slices.Compact(used)
	stepOf := func(m *Member) int { i, _ := slices.BinarySearch(used, level[nodeOf(m)]); return i }

	units := make([][]Unit, len(used))
	for gi, members := range groups {
		if len(members) == 0 {
			continue // every member was skipped
		}
		step := stepOf(members[0])
		for _, m := range members[1:] {
			if stepOf(m) != step {
				var parts []string
				for _, m := range members {
					parts = append(parts, fmt.Sprintf("%s in step %d", m.Name, stepOf(m)+1))
				}
				b.ps.add(fmt.Sprintf("groups[%d]", gi), "members fall in different dependency steps (%s); a group commits at once, so no member may depend on another", strings.Join(parts, ", "))
				break
			}
		}
		u := Unit{Group: b.pkg.Groups[gi].Name}
		for _, m := range members {
			u.Members = append(u.Members, *m)
		}
		slices.SortFunc(u.Members, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
		units[step] = append(units[step], u)
	}
	if len(b.ps) > 0 {
		return nil, b.ps.err()
	}
	// The lone actors, most of a fleet, are sorted by name as plain
	// strings and merged with the few groups: sorting 100,000 Units with a
	// comparison function took a third of the plan's time.
	lone := make([][]string, len(used))
	for _, m := range b.targets {
		if _, ok := groupOf[m.Name]; !ok {
			lone[stepOf(m)] = append(lone[stepOf(m)], m.Name)
		}
	}

	plan := &Plan{Package: b.pkg, Skipped: b.skips}
	slices.SortStableFunc(plan.Skipped, func(a, b Skip) int { return strings.Compare(a.Name, b.Name) })
	r := b.pkg.Rollout
	for i, grouped := range units {
		us := b.merge(grouped, lone[i])
		step := Step{Names: stepNames(us, ordered)}
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

// merge returns one step's units in plan order (by name; a group before a
// lone actor of the same name): groups, and the names of lone targets.
func (b *builder) merge(groups []Unit, lone []string) []Unit {
	byName := func(a, b Unit) int {
		return cmp.Or(strings.Compare(a.Name(), b.Name()), strings.Compare(b.Group, a.Group))
	}
	slices.SortFunc(groups, byName)
	slices.Sort(lone)
	us := make([]Unit, 0, len(groups)+len(lone))
	for len(groups) > 0 || len(lone) > 0 {
		if len(lone) == 0 || len(groups) > 0 && groups[0].Name() <= lone[0] {
			us = append(us, groups[0])
			groups = groups[1:]
			continue
		}
		us = append(us, Unit{Members: []Member{*b.targets[lone[0]]}})
		lone = lone[1:]
	}
	return us
}

// builder holds what Build learns as it goes.
type builder struct {
	pkg      *Package
	cat      *registry.Catalog
	dir      *registry.Directory
	ps       problems
	kinds    map[string]bool    // the kinds of the updates
	named    map[string]bool    // the actors named in targets
	targets  map[string]*Member // by name
	skipped  map[string]bool    // by name
	atTarget map[string]bool    // skipped for running the target version already
	skips    []Skip
	all      map[string][]registry.Entry // every live actor by name, made on first need
}

// resolve finds the targets of update i and checks it against the
// catalogue.
func (b *builder) resolve(i int, u KindUpdate) {
	at := fmt.Sprintf("updates[%d]", i)
	versions := b.cat.Versions(u.Kind)
	if len(versions) == 0 {
		b.ps.addErr(at+".kind", "", fmt.Errorf("%w %q (the catalogue has: %s)", registry.ErrUnknownKind, u.Kind, orNone(b.cat.Kinds())))
		return
	}
	if !slices.Contains(versions, u.To) {
		b.ps.addErr(at+".to", "", fmt.Errorf("%w: %s has no version %d (registered: %s)", registry.ErrUnknownVersion, u.Kind, u.To, joinVersions(versions)))
		return
	}

	from := map[uint32]bool{} // the versions to plan from
	for _, v := range u.From {
		from[v] = true
	}
	running := map[uint32]bool{} // the versions targets run
	take := func(e registry.Entry) {
		name := e.PID.GetId()
		switch {
		case e.Version == u.To:
			b.skip(e, "already at the target version")
			b.atTarget[e.PID.GetId()] = true
			return
		case len(u.From) > 0 && !from[e.Version]:
			b.skip(e, fmt.Sprintf("version %d is not in from %v", e.Version, u.From))
			return
		}
		if prev, dup := b.targets[name]; dup {
			b.ps.add(at+".targets", "two live target actors are named %q (%s, a %s, and %s, a %s); targets, groups and order name actors by name, so names must be unique",
				name, pidString(prev.PID), prev.Kind, pidString(e.PID), e.Kind)
			return
		}
		b.targets[name] = &Member{PID: e.PID, Name: name, Kind: u.Kind, From: e.Version, To: u.To}
		from[e.Version] = true
		running[e.Version] = true
	}
	if u.Targets.All {
		// Taken as the directory goes, in no particular order (the units
		// are sorted by name later): no copy of a whole fleet's entries.
		// take does not call the directory, whose lock Range holds.
		b.dir.Range(u.Kind, func(e registry.Entry) bool {
			if hasLabels(e.Labels, u.Targets.Labels) {
				take(e)
			}
			return true
		})
	} else {
		// Named targets are looked up one by one: a small package must not
		// cost as much as the whole fleet of its kind.
		for j, name := range u.Targets.Actors {
			var es []registry.Entry
			for _, e := range b.dir.ByName(name) {
				if e.Kind == u.Kind {
					es = append(es, e)
				}
			}
			switch len(es) {
			case 0:
				b.ps.add(at+".targets.actors["+strconv.Itoa(j)+"]", "%s", b.notLive(name, u.Kind))
			case 1:
				take(es[0])
			default:
				b.ps.add(at+".targets.actors["+strconv.Itoa(j)+"]", "%d live %s actors are named %q (%s); names must be unique", len(es), u.Kind, name, pids(es))
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
	for _, v := range slices.Sorted(maps.Keys(from)) {
		if _, err := b.cat.Plan(u.Kind, v, u.To); err != nil {
			b.ps.addErr(at, fmt.Sprintf("from %d to %d: ", v, u.To), err)
			continue
		}
		if back != "" && running[v] {
			if _, err := b.cat.Plan(u.Kind, u.To, v); err != nil {
				b.ps.addErr(at, fmt.Sprintf("back from %d to %d (%s): ", u.To, v, back), err)
			}
		}
	}
}

func (b *builder) skip(e registry.Entry, reason string) {
	name := e.PID.GetId()
	b.skipped[name] = true
	b.skips = append(b.skips, Skip{PID: e.PID, Name: name, Kind: e.Kind, Version: e.Version, Reason: reason})
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

// groups maps the group members to their groups' index, and lists each
// group's members that are targets. A member that was skipped is left out.
func (b *builder) groups() (map[string]int, [][]*Member) {
	groupOf := map[string]int{}
	groups := make([][]*Member, len(b.pkg.Groups))
	for gi, g := range b.pkg.Groups {
		for mj, name := range g.Members {
			switch m := b.targets[name]; {
			case m != nil:
				groupOf[name] = gi
				groups[gi] = append(groups[gi], m)
			case b.skipped[name] && !b.atTarget[name]:
				b.ps.add(fmt.Sprintf("groups[%d].members[%d]", gi, mj), "%q runs a version that is not in its update's from: an all-or-nothing group cannot leave a member behind; add the version to from, or take the actor out of the group", name)
			case b.skipped[name]:
			case b.named[name]:
				// not live: reported at its update already
			default:
				b.ps.add(fmt.Sprintf("groups[%d].members[%d]", gi, mj), "%q is not a target of any update", name)
			}
		}
	}
	return groupOf, groups
}

// orderNames checks the names in order and returns the targets it names,
// with their kinds.
func (b *builder) orderNames() map[string]string {
	ordered := map[string]string{}
	check := func(path, name string) {
		m := b.targets[name]
		switch {
		case b.kinds[name] && m != nil:
			b.ps.add(path, "%q is both a kind and the name of an actor; rename one", name)
		case b.kinds[name]:
		case m != nil:
			ordered[name] = m.Kind
		case b.skipped[name] || b.named[name]:
			// skipped: nothing to wait for; not live: reported already
		default:
			b.ps.add(path, "%q is neither a kind nor an actor this package updates", name)
		}
	}
	for i, d := range b.pkg.Order {
		check(fmt.Sprintf("order[%d].name", i), d.Name)
		for j, a := range d.After {
			check(fmt.Sprintf("order[%d].after[%d]", i, j), a)
		}
	}
	return ordered
}

// stepNames lists the names a step covers: the kind of each member, or its
// own name when order names it.
func stepNames(units []Unit, ordered map[string]string) []string {
	var names []string
	for _, u := range units {
		for _, m := range u.Members {
			if _, ok := ordered[m.Name]; ok {
				names = append(names, m.Name)
			} else {
				names = append(names, m.Kind)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
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
