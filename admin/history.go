package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
	"github.com/molt-go/molt/update/manifest"
)

// history records, from the manager's events, which actor each package
// moved from which version to which, so that the admin can roll back the
// last package: the manager has no such request, and by the time an
// operator asks, the package and its plan are gone from the manager.
type history struct {
	max      int
	packages map[string]*record
	order    []string // package ids, oldest first, to forget the oldest
	last     *record  // the last package that ended with actors moved
}

type record struct {
	id    string
	moved map[string]move // by actor name
	doc   *manifest.Package
	done  bool
}

type move struct {
	kind     string
	from, to uint32
}

func newHistory(max int) history {
	return history{max: max, packages: make(map[string]*record)}
}

func (h *history) get(id string) *record {
	if r := h.packages[id]; r != nil {
		return r
	}
	for len(h.order) >= h.max {
		// Forget the oldest; the last package is kept aside in h.last.
		delete(h.packages, h.order[0])
		h.order = h.order[1:]
	}
	r := &record{id: id, moved: make(map[string]move)}
	h.packages[id] = r
	h.order = append(h.order, id)
	return r
}

// document keeps the package a RunPackage or RollBackLast ran, for the
// groups and order of its rollback.
func (h *history) document(id string, pkg *manifest.Package) {
	h.run(id).doc = pkg
}

// run returns the record of a run of package id that is starting: a
// package id may run again (rollback-x after an earlier rollback-x), and
// what an earlier run moved is not this run's to roll back.
func (h *history) run(id string) *record {
	if r := h.packages[id]; r != nil && r.done {
		delete(h.packages, id)
		h.order = slices.DeleteFunc(h.order, func(o string) bool { return o == id })
	}
	return h.get(id)
}

func (h *history) record(e *manager.Event) {
	if e.GetPackageId() == "" {
		return
	}
	r := h.get(e.GetPackageId())
	if e.GetType() == manager.EventType_PACKAGE_STARTED {
		r = h.run(e.GetPackageId())
	}
	committed := e.GetOutcome() == update.Outcome_OUTCOME_COMMITTED
	switch e.GetType() {
	case manager.EventType_ACTOR_UPDATED:
		if committed {
			r.moved[e.GetActor()] = move{kind: e.GetKind(), from: e.GetFromVersion(), to: e.GetToVersion()}
		}
	case manager.EventType_ACTOR_ROLLED_BACK:
		if committed {
			delete(r.moved, e.GetActor())
		}
	case manager.EventType_PROBATION_ENDED:
		if e.GetProbation() == update.ProbationOutcome_PROBATION_OUTCOME_ROLLED_BACK {
			delete(r.moved, e.GetActor())
		}
	case manager.EventType_PACKAGE_DONE:
		r.done = true
		if len(r.moved) > 0 {
			h.last = r
		}
	}
}

// inverse returns the package that moves every actor the last package
// moved back to its old version.
func (h *history) inverse() (*manifest.Package, error) {
	r := h.last
	if r == nil || len(r.moved) == 0 {
		return nil, errors.New("no package has ended with actors at a new version since the admin started: there is nothing to roll back")
	}
	byKind := make(map[string][]string)
	back := make(map[string]move) // per kind: the versions to go from and to
	for name, m := range r.moved {
		if b, seen := back[m.kind]; seen && (b.from != m.from || b.to != m.to) {
			return nil, fmt.Errorf("package %q moved actors of kind %s from version %d to %d and from %d to %d: their rollback is two packages, write them by hand", r.id, m.kind, b.from, b.to, m.from, m.to)
		}
		back[m.kind] = m
		byKind[m.kind] = append(byKind[m.kind], name)
	}
	id := "rollback-" + r.id
	if len(id) > manager.DefaultMaxIDBytes {
		id = strings.ToValidUTF8(id[:manager.DefaultMaxIDBytes], "")
	}
	pkg := &manifest.Package{
		ID:          id,
		Description: fmt.Sprintf("The admin's rollback of package %s: each actor it moved, back to its old version.", r.id),
	}
	kinds := slices.Sorted(maps.Keys(byKind))
	for _, k := range kinds {
		names := byKind[k]
		slices.Sort(names)
		m := back[k]
		pkg.Updates = append(pkg.Updates, manifest.KindUpdate{Kind: k, From: []uint32{m.to}, To: m.from, Targets: manifest.Targets{Actors: names}})
	}
	if d := r.doc; d != nil {
		for _, g := range d.Groups {
			var members []string
			for _, n := range g.Members {
				if _, ok := r.moved[n]; ok {
					members = append(members, n)
				}
			}
			if len(members) > 0 {
				pkg.Groups = append(pkg.Groups, manifest.Group{Name: g.Name, Members: members})
			}
		}
		// What went after goes back first.
		known := func(n string) bool {
			_, actor := r.moved[n]
			_, kind := byKind[n]
			return actor || kind
		}
		after := make(map[string][]string)
		for _, dep := range d.Order {
			for _, before := range dep.After {
				if known(dep.Name) && known(before) {
					after[before] = append(after[before], dep.Name)
				}
			}
		}
		for _, n := range slices.Sorted(maps.Keys(after)) {
			pkg.Order = append(pkg.Order, manifest.Dependency{Name: n, After: after[n]})
		}
		pkg.Quiescence = d.Quiescence
		pkg.Rollout = d.Rollout
		// A rollback that fails halts: rolling back a rollback is for the
		// operator to decide.
		pkg.Rollout.OnBudgetExceeded = ""
	}
	return pkg, nil
}

func manifestJSON(p *manifest.Package) ([]byte, error) { return json.Marshal(p) }
