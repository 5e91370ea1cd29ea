package manifest

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// summaryFirst is how many actors, groups or skipped actors a summary
// names before it says how many more there are: enough to check that the
// right ones were picked, few enough that a fleet fits on a screen.
const summaryFirst = 5

// Summary writes a short dry run of the plan to w: the same package and
// settings lines as WriteTo, then for each step its batches (canaries
// counted), units and actors, the number of actors per kind and version
// change, its groups with their sizes, and its actors in the order they
// are updated, the first five named and the rest counted ("... and 995
// more"); then the skipped actors by reason, counted the same way, and the
// totals. Its length depends on the number of steps, kinds and skip
// reasons, not on the number of actors: the dry run of a fleet of 1,000
// prints 1,000 lines, its summary about a dozen. For example:
//
//	package fleet-v2
//	rollout: rolling, 1 canary, batches of 100 units, at most 64 in flight, no pause, failure budget 0 then halt
//	quiescence: 2s per actor, no bound for the package
//	probation: none
//	step 1 of 1: account: 11 batches (1 canary), 999 units, 1000 actors
//	  account 1→2: 1000 actors
//	  groups: 1 (pair: 2 members)
//	  actors: acct-0002, acct-0003, acct-0004, acct-0005, acct-0006 ... and 995 more
//	total: 1 step, 11 batches, 999 units, 1000 actors, 0 skipped
func (p *Plan) Summary(w io.Writer) error {
	var b strings.Builder
	p.writeHeader(&b)
	if len(p.Steps) == 0 {
		b.WriteString("nothing to update\n")
	}
	for si, s := range p.Steps {
		canaries, units := 0, 0
		var actors []string
		var groups []string
		changes := map[string]int{}
		for _, batch := range s.Batches {
			if batch.Canary {
				canaries++
			}
			units += len(batch.Units)
			for _, u := range batch.Units {
				if u.Group != "" {
					groups = append(groups, fmt.Sprintf("%s: %s", u.Group, plural(len(u.Members), "member", "members")))
				}
				for _, m := range u.Members {
					actors = append(actors, m.Name)
					changes[fmt.Sprintf("%s %d→%d", m.Kind, m.From, m.To)]++
				}
			}
		}
		fmt.Fprintf(&b, "step %d of %d: %s: %s", si+1, len(p.Steps), strings.Join(s.Names, ", "), plural(len(s.Batches), "batch", "batches"))
		if canaries > 0 {
			fmt.Fprintf(&b, " (%s)", plural(canaries, "canary", "canaries"))
		}
		fmt.Fprintf(&b, ", %s, %s\n", plural(units, "unit", "units"), plural(len(actors), "actor", "actors"))
		for _, c := range slices.Sorted(maps.Keys(changes)) {
			fmt.Fprintf(&b, "  %s: %s\n", c, plural(changes[c], "actor", "actors"))
		}
		if len(groups) > 0 {
			fmt.Fprintf(&b, "  groups: %d (%s)\n", len(groups), firstFew(groups))
		}
		fmt.Fprintf(&b, "  actors: %s\n", firstFew(actors))
	}
	if len(p.Skipped) > 0 {
		fmt.Fprintf(&b, "skipped: %d\n", len(p.Skipped))
		byReason := map[string][]string{}
		var reasons []string
		for _, s := range p.Skipped {
			if byReason[s.Reason] == nil {
				reasons = append(reasons, s.Reason)
			}
			byReason[s.Reason] = append(byReason[s.Reason], s.Name)
		}
		for _, r := range reasons {
			fmt.Fprintf(&b, "  %s: %d (%s)\n", r, len(byReason[r]), firstFew(byReason[r]))
		}
	}
	p.writeTotal(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

// firstFew joins the first summaryFirst names and counts the rest.
func firstFew(names []string) string {
	if len(names) <= summaryFirst {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s ... and %d more", strings.Join(names[:summaryFirst], ", "), len(names)-summaryFirst)
}
