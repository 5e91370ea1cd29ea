package manifest

import (
	"slices"
	"strings"
)

// depGraph is the dependency graph of a package. Its nodes are the kinds the
// package updates and the actors that Order names one by one; an edge a -> b
// says that a is updated after b. A kind node stands for the actors of the
// kind that Order does not name; an actor node inherits the dependencies of
// its kind, and a dependency on a kind is a dependency on every node of the
// kind.
type depGraph struct {
	nodes []string            // sorted
	edges map[string][]string // sorted, no duplicates, no self-loops
}

// newDepGraph builds the graph. kinds are the kinds the package updates;
// actorKind gives the kind of each actor named in order ("" when unknown:
// such an actor inherits nothing). Names in order that are neither are
// nodes of their own with only their own dependencies. Self-dependencies
// (a kind after itself, an actor after its own kind) are dropped.
func newDepGraph(kinds map[string]bool, actorKind map[string]string, order []Dependency) *depGraph {
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
	members := map[string][]string{} // kind -> its actor nodes
	for a, k := range actorKind {
		if k != "" {
			members[k] = append(members[k], a)
		}
	}
	expand := func(name string) []string {
		if kinds[name] {
			return append([]string{name}, members[name]...)
		}
		return []string{name}
	}
	g := &depGraph{edges: map[string][]string{}}
	for n := range set {
		g.nodes = append(g.nodes, n)
		var out []string
		for _, a := range after[n] {
			out = append(out, expand(a)...)
		}
		if k := actorKind[n]; k != "" && !kinds[n] {
			for _, a := range after[k] {
				out = append(out, expand(a)...)
			}
		}
		out = slices.DeleteFunc(out, func(s string) bool { return s == n })
		slices.Sort(out)
		if out = slices.Compact(out); len(out) > 0 {
			g.edges[n] = out
		}
	}
	slices.Sort(g.nodes)
	return g
}

// cycles returns one cycle of each strongly connected component that has
// one, as "a -> b -> a" (a depends on b, which depends on a), starting at
// the component's smallest name. The result is deterministic.
func (g *depGraph) cycles() []string {
	// Tarjan's algorithm.
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var comps [][]string
	next := 0
	var visit func(string)
	visit = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range g.edges[v] {
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var comp []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			if len(comp) > 1 {
				slices.Sort(comp)
				comps = append(comps, comp)
			}
		}
	}
	for _, n := range g.nodes {
		if _, seen := index[n]; !seen {
			visit(n)
		}
	}
	slices.SortFunc(comps, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	out := make([]string, 0, len(comps))
	for _, comp := range comps {
		out = append(out, g.shortestCycle(comp))
	}
	return out
}

// shortestCycle finds, breadth first inside one component, the shortest
// way from its first node back to it.
func (g *depGraph) shortestCycle(comp []string) string {
	in := map[string]bool{}
	for _, n := range comp {
		in[n] = true
	}
	start := comp[0]
	prev := map[string]string{}
	queue := []string{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range g.edges[v] {
			if !in[w] {
				continue
			}
			if w == start {
				path := []string{start}
				for u := v; u != start; u = prev[u] {
					path = append(path, u)
				}
				path = append(path, start)
				slices.Reverse(path[1 : len(path)-1])
				return strings.Join(path, " -> ")
			}
			if _, seen := prev[w]; !seen {
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return strings.Join(comp, " -> ") // not reached for a strongly connected component
}

// levels returns the dependency level of every node of an acyclic graph: 1
// for a node that depends on nothing, otherwise 1 + the highest level of
// what it depends on.
func (g *depGraph) levels() map[string]int {
	level := map[string]int{}
	var visit func(string) int
	visit = func(v string) int {
		if l, ok := level[v]; ok {
			return l
		}
		level[v] = 1 // provisional; the graph has no cycle
		l := 1
		for _, w := range g.edges[v] {
			l = max(l, visit(w)+1)
		}
		level[v] = l
		return l
	}
	for _, n := range g.nodes {
		visit(n)
	}
	return level
}
