package manifest

import (
	"maps"
	"slices"
	"strings"
)

// depGraph is the dependency graph of a package. Its real nodes are the
// kinds the package updates and the actors that Order names one by one; a
// dependency a -> b says that a is updated after b. A kind node stands for
// the actors of the kind that Order does not name; an actor node inherits
// the dependencies of its kind, and a dependency on a kind is a dependency
// on every node of the kind, but the node itself.
//
// Written out, those rules make an edge from every actor of a kind to every
// actor of each kind its kind depends on: quadratic in the size of Order.
// So the graph shares them through virtual nodes instead: all(K) depends on
// K and on each actor node of K, and inherit(K) on what K depends on; a
// dependency on K is an edge to all(K), an actor of K depends on
// inherit(K). The graph is then linear in the size of the package. A path
// between two distinct real nodes through virtual ones is a dependency of
// the first on the second; a path from a real node back to itself through
// virtual nodes only is a dependency on itself, which the rules drop, and
// cycles and levels ignore.
type depGraph struct {
	names []string  // real nodes 0..len(names)-1, sorted; then virtual ones
	out   [][]int32 // successors of each node, sorted, no duplicates
	sccs  [][]int32 // strongly connected components, sinks first; made once
}

// newDepGraph builds the graph. kinds are the kinds the package updates
// (the keys; validate's map of them serves as it is);
// actorKind gives the kind of each actor named in order ("" when unknown:
// such an actor inherits nothing). Names in order that are neither are
// nodes of their own with only their own dependencies.
func newDepGraph[V any](kinds map[string]V, actorKind map[string]string, order []Dependency) *depGraph {
	isKind := func(name string) bool { _, ok := kinds[name]; return ok }
	after := map[string][]string{}
	set := map[string]bool{}
	for k := range kinds {
		set[k] = true
	}
	for a := range actorKind {
		set[a] = true
	}
	for _, d := range order {
		if d.Name == "" {
			continue
		}
		set[d.Name] = true
		for _, a := range d.After {
			if a != "" {
				after[d.Name] = append(after[d.Name], a)
				set[a] = true
			}
		}
	}
	g := &depGraph{}
	for n := range set {
		g.names = append(g.names, n)
	}
	slices.Sort(g.names)
	id := make(map[string]int32, len(g.names))
	for i, n := range g.names {
		id[n] = int32(i)
	}
	g.out = make([][]int32, len(g.names))
	virtual := func(succ []int32) int32 {
		g.out = append(g.out, succ)
		return int32(len(g.out) - 1)
	}

	// all(K), for each kind with actor nodes.
	members := map[string][]int32{}
	for a, k := range actorKind {
		if k != "" && isKind(k) {
			members[k] = append(members[k], id[a])
		}
	}
	// The virtual nodes are made a kind at a time in order of name: their
	// numbers order the successors that shortestCycle tries first, so the
	// cycle it reports, of several as short, must not follow a map's order.
	withActors := slices.Sorted(maps.Keys(members))
	all := map[string]int32{}
	for _, k := range withActors {
		all[k] = virtual(append([]int32{id[k]}, members[k]...))
	}
	ref := func(name string) int32 {
		if v, ok := all[name]; ok {
			return v
		}
		return id[name]
	}
	deps := func(name string) []int32 {
		var out []int32
		for _, a := range after[name] {
			out = append(out, ref(a))
		}
		return out
	}
	// inherit(K), for each kind with dependencies and actor nodes.
	inherit := map[string]int32{}
	for _, k := range withActors {
		if len(after[k]) > 0 {
			inherit[k] = virtual(deps(k))
		}
	}
	for i, n := range g.names {
		out := deps(n)
		if k := actorKind[n]; k != "" && !isKind(n) {
			if v, ok := inherit[k]; ok {
				out = append(out, v)
			}
		}
		g.out[i] = out
	}
	for i, out := range g.out {
		out = slices.DeleteFunc(out, func(w int32) bool { return w == int32(i) })
		slices.Sort(out)
		g.out[i] = slices.Compact(out)
	}
	return g
}

func (g *depGraph) real(v int32) bool { return int(v) < len(g.names) }

// components returns the strongly connected components of the graph, real
// and virtual nodes alike, each after every component it reaches (Tarjan's
// algorithm, without recursion: Order may be long).
func (g *depGraph) components() [][]int32 {
	if g.sccs != nil {
		return g.sccs
	}
	n := len(g.out)
	index := make([]int32, n)
	low := make([]int32, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int32
	type frame struct{ v, next int32 }
	var calls []frame
	next := int32(0)
	sccs := [][]int32{}
	for root := range int32(n) {
		if index[root] >= 0 {
			continue
		}
		calls = append(calls, frame{root, 0})
		index[root], low[root] = next, next
		next++
		stack = append(stack, root)
		onStack[root] = true
		for len(calls) > 0 {
			f := &calls[len(calls)-1]
			v := f.v
			if int(f.next) < len(g.out[v]) {
				w := g.out[v][f.next]
				f.next++
				switch {
				case index[w] < 0:
					index[w], low[w] = next, next
					next++
					stack = append(stack, w)
					onStack[w] = true
					calls = append(calls, frame{w, 0})
				case onStack[w]:
					low[v] = min(low[v], index[w])
				}
				continue
			}
			calls = calls[:len(calls)-1]
			if len(calls) > 0 {
				u := calls[len(calls)-1].v
				low[u] = min(low[u], low[v])
			}
			if low[v] == index[v] {
				var comp []int32
				for {
					w := stack[len(stack)-1]
					stack = stack[:len(stack)-1]
					onStack[w] = false
					comp = append(comp, w)
					if w == v {
						break
					}
				}
				sccs = append(sccs, comp)
			}
		}
	}
	g.sccs = sccs
	return sccs
}

// cycles returns one cycle of each strongly connected component that has
// one, as "a -> b -> a" (a depends on b, which depends on a), starting at
// the component's smallest name. The result is deterministic.
func (g *depGraph) cycles() []string {
	var comps [][]int32
	for _, comp := range g.components() {
		// A component with one real node is a dependency on itself.
		var reals []int32
		for _, v := range comp {
			if g.real(v) {
				reals = append(reals, v)
			}
		}
		if len(reals) > 1 {
			slices.Sort(comp)
			comps = append(comps, comp)
		}
	}
	slices.SortFunc(comps, func(a, b []int32) int { return int(a[0] - b[0]) })
	out := make([]string, 0, len(comps))
	for _, comp := range comps {
		out = append(out, g.shortestCycle(comp))
	}
	return out
}

// shortestCycle finds, inside one component, a cycle through its smallest
// (real) node with the fewest real nodes. It is a breadth-first search in
// which entering a real node costs 1 and a virtual one 0, over states
// (node, whether the path has passed a real node other than the start):
// only a path that has may close the cycle.
func (g *depGraph) shortestCycle(comp []int32) string {
	in := make(map[int32]bool, len(comp))
	for _, v := range comp {
		in[v] = true
	}
	start := comp[0]
	type state struct {
		v      int32
		passed bool
	}
	dist := map[state]int{{start, false}: 0}
	prev := map[state]state{}
	target := state{start, true}
	// cur holds the states at distance d, to which 0-cost steps append;
	// next those at d+1.
	for d, cur := 0, []state{{start, false}}; len(cur) > 0; d++ {
		var next []state
		for i := 0; i < len(cur); i++ {
			s := cur[i]
			if dist[s] != d {
				continue // reached at a lower distance since
			}
			if s == target {
				next = nil
				break
			}
			for _, w := range g.out[s.v] {
				if !in[w] || w == start && !s.passed {
					continue
				}
				t, cost := state{w, s.passed}, 0
				if g.real(w) {
					t.passed, cost = true, 1
				}
				if old, seen := dist[t]; seen && old <= d+cost {
					continue
				}
				dist[t], prev[t] = d+cost, s
				if cost == 0 {
					cur = append(cur, t)
				} else {
					next = append(next, t)
				}
			}
		}
		cur = next
	}
	var path []string
	for s := target; ; s = prev[s] {
		if g.real(s.v) {
			path = append(path, g.names[s.v])
		}
		if s == (state{start, false}) {
			break
		}
	}
	slices.Reverse(path)
	return strings.Join(path, " -> ")
}

// levels returns the dependency level of every real node of an acyclic
// graph: 1 for a node that depends on nothing, otherwise 1 + the highest
// level of what it depends on.
//
// The components come sinks first. In an acyclic graph a component holds
// at most one real node r, with the virtual nodes that lead back to r: a
// virtual node's value is the highest level of the real nodes it leads to,
// without r for r itself, with r for anyone else.
func (g *depGraph) levels() map[string]int {
	value := make([]int, len(g.out)) // real: its level; virtual: with r
	excl := make([]int, len(g.out))  // virtual in r's component: without r
	comp := make([]int32, len(g.out))
	for ci, c := range g.components() {
		for _, v := range c {
			comp[v] = int32(ci)
		}
	}
	for ci, c := range g.components() {
		r := int32(-1)
		for _, v := range c {
			if g.real(v) {
				r = v
			}
		}
		of := func(w int32) int {
			if comp[w] == int32(ci) && !g.real(w) {
				return excl[w]
			}
			if w == r {
				return 0
			}
			return value[w]
		}
		// A component's virtual nodes lead one to another at most twice
		// (inherit to all to real): three rounds settle them.
		for range 3 {
			for _, v := range c {
				if !g.real(v) {
					m := 0
					for _, w := range g.out[v] {
						m = max(m, of(w))
					}
					excl[v] = m
				}
			}
		}
		if r >= 0 {
			m := 0
			for _, w := range g.out[r] {
				m = max(m, of(w))
			}
			value[r] = m + 1
		}
		for _, v := range c {
			if !g.real(v) {
				value[v] = excl[v]
				if r >= 0 {
					value[v] = max(value[v], value[r])
				}
			}
		}
	}
	level := make(map[string]int, len(g.names))
	for i, n := range g.names {
		level[n] = value[i]
	}
	return level
}
