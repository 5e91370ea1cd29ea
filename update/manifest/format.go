package manifest

import (
	"fmt"
	"io"
	"strings"
)

// WriteTo writes the dry-run text of the plan to w: the package, its
// settings (defaults filled), then each step in order with the names it
// covers, each batch (canaries marked), each unit (groups by name, with
// their members indented) and each member as "name kind from→to", then the
// skipped actors and the counts. The text is deterministic: the same package
// and directory give the same text. For example:
//
//	package bank-v2: account balances in cents
//	rollout: rolling, 1 canary, batches of 2 units, at most 64 in flight, no pause, failure budget 0 then halt
//	quiescence: 2s per actor, no bound for the package
//	probation: none
//	step 1 of 1: account
//	  batch 1 of 2 (canary): 1 unit
//	    acct-1 account 1→2
//	  batch 2 of 2: 1 unit
//	    group pair
//	      acct-2 account 1→2
//	      acct-3 account 1→2
//	total: 1 step, 2 batches, 2 units, 3 actors, 0 skipped
func (p *Plan) WriteTo(w io.Writer) (int64, error) {
	n, err := io.WriteString(w, p.String())
	return int64(n), err
}

// Format writes the dry-run text of the plan to w (see WriteTo).
func (p *Plan) Format(w io.Writer) error {
	_, err := p.WriteTo(w)
	return err
}

// String returns the dry-run text of the plan (see WriteTo).
func (p *Plan) String() string {
	var b strings.Builder
	p.writeHeader(&b)
	if len(p.Steps) == 0 {
		b.WriteString("nothing to update\n")
	}
	for si, s := range p.Steps {
		fmt.Fprintf(&b, "step %d of %d: %s\n", si+1, len(p.Steps), strings.Join(s.Names, ", "))
		for bi, batch := range s.Batches {
			fmt.Fprintf(&b, "  batch %d of %d", bi+1, len(s.Batches))
			if batch.Canary {
				b.WriteString(" (canary)")
			}
			fmt.Fprintf(&b, ": %s\n", plural(len(batch.Units), "unit", "units"))
			for _, u := range batch.Units {
				indent := "    "
				if u.Group != "" {
					fmt.Fprintf(&b, "    group %s\n", u.Group)
					indent = "      "
				}
				for _, m := range u.Members {
					fmt.Fprintf(&b, "%s%s %s %d→%d\n", indent, m.Name, m.Kind, m.From, m.To)
				}
			}
		}
	}
	if len(p.Skipped) > 0 {
		b.WriteString("skipped:\n")
		for _, s := range p.Skipped {
			fmt.Fprintf(&b, "  %s %s %d: %s\n", s.Name, s.Kind, s.Version, s.Reason)
		}
	}
	p.writeTotal(&b)
	return b.String()
}

// writeHeader writes the package line and its settings, the same in the
// dry run and its summary.
func (p *Plan) writeHeader(b *strings.Builder) {
	pkg := p.Package
	if pkg == nil {
		pkg = &Package{}
	}
	fmt.Fprintf(b, "package %s", pkg.ID)
	if d := strings.Join(strings.Fields(pkg.Description), " "); d != "" {
		fmt.Fprintf(b, ": %s", d)
	}
	b.WriteString("\n")

	r := pkg.Rollout
	b.WriteString("rollout: ")
	if r.Strategy == StrategyRolling {
		fmt.Fprintf(b, "rolling, %s, batches of %s, ", plural(r.Canaries, "canary", "canaries"), plural(r.BatchSize, "unit", "units"))
	} else {
		b.WriteString("all at once, ")
	}
	fmt.Fprintf(b, "at most %d in flight, ", r.MaxInFlight)
	if r.Strategy == StrategyRolling {
		if r.Pause.Duration > 0 {
			fmt.Fprintf(b, "pause %s, ", fmtDuration(r.Pause.Duration))
		} else {
			b.WriteString("no pause, ")
		}
	}
	fmt.Fprintf(b, "failure budget %d then %s\n", r.FailureBudget, r.OnBudgetExceeded)

	q := pkg.Quiescence
	fmt.Fprintf(b, "quiescence: %s per actor, ", fmtDuration(q.PerActor.Duration))
	if q.Package.Duration > 0 {
		fmt.Fprintf(b, "%s for the package\n", fmtDuration(q.Package.Duration))
	} else {
		b.WriteString("no bound for the package\n")
	}

	b.WriteString("probation: ")
	switch pr := pkg.Probation; {
	case pr == nil:
		b.WriteString("none\n")
	case pr.Messages > 0 && pr.Duration.Duration > 0:
		fmt.Fprintf(b, "%s or %s after commit, whichever ends first\n", plural(pr.Messages, "message", "messages"), fmtDuration(pr.Duration.Duration))
	case pr.Messages > 0:
		fmt.Fprintf(b, "%s after commit\n", plural(pr.Messages, "message", "messages"))
	default:
		fmt.Fprintf(b, "%s after commit\n", fmtDuration(pr.Duration.Duration))
	}
}

func (p *Plan) writeTotal(b *strings.Builder) {
	batches, units, actors := p.Counts()
	fmt.Fprintf(b, "total: %s, %s, %s, %s, %d skipped\n",
		plural(len(p.Steps), "step", "steps"), plural(batches, "batch", "batches"),
		plural(units, "unit", "units"), plural(actors, "actor", "actors"), len(p.Skipped))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
