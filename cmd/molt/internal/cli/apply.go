package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/molt-go/molt/admin"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
)

func (o *options) applyCommand() *cobra.Command {
	var dryRun, summary, local bool
	cmd := &cobra.Command{
		Use:   "apply PACKAGE.yaml",
		Short: "Run an update package on the node, with its progress",
		Long: `Run an update package (YAML, or JSON for a .json file; see
docs/update-packages.md) through the node's update manager, following its
events: a progress bar (actors done and failed, the current step and
batch) when the output is a terminal, one line per event otherwise, then
a summary. The command exits 0 only if the package completed.

--dry-run prints the plan and touches nothing; --summary makes the plan
counts per step, kind and version instead of one line per actor.

Interrupting the command does not stop the package: molt cancel ID does.

Against a member of a cluster whose admin knows it, the package runs on
every member: each plans it first, and nothing runs unless all accept it;
then each member's manager updates its own actors, their progress shown
per member, and once every member completed, the kinds the package moved
as a whole get their cluster target (new grains start at that version).
A member whose package does not complete stops the others (they are
cancelled). Such a package selects actors by kind and labels: one that
names actors or has groups runs on one member, with --local.`,
		Example: `  molt apply bank-v2.yaml --dry-run
  molt apply bank-v2.yaml
  molt apply fleet.json --summary -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			req, err := readPackage(args[0])
			if err != nil {
				return err
			}
			req.DryRun, req.Summary, req.Local = dryRun, summary, local
			return o.withClient(func(ctx context.Context, c *client) error {
				return o.runPackage(ctx, c, "RunPackage", req, dryRun)
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "plan the package and print the plan; touch nothing")
	cmd.Flags().BoolVar(&summary, "summary", false, "a plan of counts per step, kind and version rather than one line per actor")
	cmd.Flags().BoolVar(&local, "local", false, "run it on the node alone, not on its whole cluster")
	return cmd
}

func (o *options) rollbackCommand() *cobra.Command {
	var dryRun, summary bool
	cmd := &cobra.Command{
		Use:   "rollback",
		Short: "Roll back the last package that ended, with its progress",
		Long: `Roll back the last package that ended with actors at their new version: the
admin runs its inverse, "rollback-ID" (each of those actors back to its old
version through the down migrations, groups kept, order reversed), through
the update manager. Progress and summary are shown as for apply. Once the
rollback ends it is itself the last package: rollback again goes forward.

The admin remembers the packages it saw since it started.`,
		Example: `  molt rollback --dry-run
  molt rollback`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			return o.withClient(func(ctx context.Context, c *client) error {
				return o.runPackage(ctx, c, "RollBackLast", &admin.RollBackLast{DryRun: dryRun, Summary: summary}, dryRun)
			})
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the inverse package's plan; touch nothing")
	cmd.Flags().BoolVar(&summary, "summary", false, "a plan of counts per step, kind and version rather than one line per actor")
	return cmd
}

// readPackage reads a package file, bounded as the admin bounds it, so
// that an oversized file is refused here with its name.
func readPackage(path string) (*admin.RunPackage, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fail(ExitUsage, "%v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fail(ExitUsage, "%v", err)
	}
	if st.Size() > admin.DefaultMaxDocumentBytes {
		return nil, fail(ExitUsage, "%s is %d bytes; a package is at most %d (the admin's MaxDocumentBytes)", path, st.Size(), admin.DefaultMaxDocumentBytes)
	}
	doc := make([]byte, st.Size())
	if _, err := f.ReadAt(doc, 0); err != nil && st.Size() > 0 {
		return nil, fail(ExitUsage, "%s: %v", path, err)
	}
	format := "yaml"
	if strings.EqualFold(filepath.Ext(path), ".json") {
		format = "json"
	}
	return &admin.RunPackage{Format: format, Document: doc}, nil
}

// runPackage sends a package request (RunPackage or RollBackLast) and,
// unless a dry run, follows the package to its end.
func (o *options) runPackage(ctx context.Context, c *client, name string, req proto.Message, dryRun bool) error {
	if !dryRun {
		// Before the request, so that no event of the package is missed.
		if err := c.subscribe(ctx); err != nil {
			return err
		}
	}
	ans, err := c.ask(ctx, req)
	if err != nil {
		return err
	}
	if cp, ok := ans.(*admin.ClusterPackage); ok {
		return o.clusterPackage(ctx, c, cp)
	}
	acc, ok := ans.(*manager.PackageAccepted)
	if !ok {
		return answerError(name, ans)
	}
	if dryRun {
		return o.printPlan(acc)
	}
	if !o.json() {
		fmt.Fprintf(o.stdout, "package %s accepted: %d actors\n", acc.GetPackageId(), acc.GetActors())
	}
	run, err := o.follow(ctx, c, acc)
	if err != nil {
		return err
	}
	if err := o.printRun(run); err != nil {
		return err
	}
	return run.err()
}

func (o *options) printPlan(acc *manager.PackageAccepted) error {
	if o.json() {
		return writeJSON(o.stdout, map[string]any{
			"package_id": acc.GetPackageId(), "dry_run": true, "actors": acc.GetActors(), "plan": acc.GetPlan(),
		})
	}
	fmt.Fprintf(o.stdout, "package %s, dry run: %d actors\n\n%s", acc.GetPackageId(), acc.GetActors(), acc.GetPlan())
	if !strings.HasSuffix(acc.GetPlan(), "\n") {
		fmt.Fprintln(o.stdout)
	}
	return nil
}

// packageRun is what the events of one package said.
type packageRun struct {
	id     string
	actors uint32
	done   *manager.Event
	order  []string                  // actors, as their first event came
	last   map[string]*manager.Event // each actor's last update or rollback
	halted string                    // the reason of a HALTED event
}

// follow reads the package's events until PACKAGE_DONE, showing its
// progress.
func (o *options) follow(ctx context.Context, c *client, acc *manager.PackageAccepted) (*packageRun, error) {
	run := &packageRun{id: acc.GetPackageId(), actors: acc.GetActors(), last: map[string]*manager.Event{}}
	p := o.newProgress(int(acc.GetActors()))
	defer p.close()
	for {
		select {
		case e := <-c.events:
			if e.GetPackageId() != run.id {
				continue
			}
			run.record(e)
			p.event(e)
			if e.GetType() == manager.EventType_PACKAGE_DONE {
				return run, nil
			}
		case <-c.cluster:
			// Another package the admin runs across its cluster: read,
			// so that the inbox never waits on a full channel.
		case err := <-c.broken:
			return nil, fail(ExitUnreachable, "lost %s while package %s ran (%v): molt watch or molt ls show how it goes", o.node, run.id, c.connectionError(err))
		case <-ctx.Done():
			return nil, fail(ExitInterrupted, "interrupted: package %s still runs on the node; molt cancel %s stops it", run.id, run.id)
		}
	}
}

func (r *packageRun) record(e *manager.Event) {
	switch e.GetType() {
	case manager.EventType_ACTOR_UPDATED, manager.EventType_ACTOR_ROLLED_BACK:
		if _, seen := r.last[e.GetActor()]; !seen {
			r.order = append(r.order, e.GetActor())
		}
		r.last[e.GetActor()] = e
	case manager.EventType_HALTED:
		r.halted = e.GetReason()
	case manager.EventType_PACKAGE_DONE:
		r.done = e
	}
}

func (r *packageRun) err() error {
	d := r.done
	if d.GetPackageOutcome() == manager.PackageOutcome_PACKAGE_OUTCOME_COMPLETED {
		return nil
	}
	msg := fmt.Sprintf("package %s %s: %d updated, %d failed, %d rolled back", r.id,
		packageOutcomeText(d.GetPackageOutcome()), d.GetUpdated(), d.GetFailed(), d.GetRolledBack())
	if reason := firstNonEmpty(d.GetReason(), r.halted); reason != "" {
		msg += ": " + reason
	}
	return fail(ExitFailed, "%s", msg)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

type unitView struct {
	Actor     string `json:"actor"`
	Kind      string `json:"kind"`
	From      uint32 `json:"from_version"`
	To        uint32 `json:"to_version"`
	Outcome   string `json:"outcome"`
	Phase     string `json:"phase,omitempty"`
	Reason    string `json:"reason,omitempty"`
	LatencyNs int64  `json:"latency_ns"`
}

// why is the unit's reason for the table: the phase it ended in, then
// what it said.
func (u unitView) why() string {
	if u.Phase == "" {
		return u.Reason
	}
	return strings.TrimSuffix(strings.ReplaceAll(u.Phase, "_", " ")+": "+u.Reason, ": ")
}

func (r *packageRun) units() []unitView {
	out := []unitView{}
	for _, a := range r.order {
		e := r.last[a]
		u := unitView{Actor: a, Kind: e.GetKind(), From: e.GetFromVersion(), To: e.GetToVersion(),
			Outcome: outcomeWord(e.GetOutcome()), Reason: e.GetReason(), LatencyNs: e.GetLatencyNs()}
		if e.GetType() == manager.EventType_ACTOR_ROLLED_BACK {
			u.Outcome = "rolled_back"
		}
		if e.GetOutcome() != update.Outcome_OUTCOME_COMMITTED && e.GetPhase() != update.Phase_PHASE_UNSPECIFIED {
			u.Phase = phaseWord(e.GetPhase())
		}
		out = append(out, u)
	}
	return out
}

func (o *options) printRun(r *packageRun) error {
	d := r.done
	if o.json() {
		return writeJSON(o.stdout, struct {
			PackageID   string     `json:"package_id"`
			Actors      uint32     `json:"actors"`
			Outcome     string     `json:"outcome"`
			Updated     uint32     `json:"updated"`
			Failed      uint32     `json:"failed"`
			RolledBack  uint32     `json:"rolled_back"`
			Unanswered  uint32     `json:"unanswered"`
			FailedUnits []string   `json:"failed_units"`
			Reason      string     `json:"reason,omitempty"`
			LatencyNs   int64      `json:"latency_ns"`
			Units       []unitView `json:"units"`
		}{
			PackageID: r.id, Actors: r.actors, Outcome: packageOutcomeWord(d.GetPackageOutcome()),
			Updated: d.GetUpdated(), Failed: d.GetFailed(), RolledBack: d.GetRolledBack(), Unanswered: d.GetUnanswered(),
			FailedUnits: append([]string{}, d.GetFailedUnits()...), Reason: firstNonEmpty(d.GetReason(), r.halted),
			LatencyNs: d.GetLatencyNs(), Units: r.units(),
		})
	}
	fmt.Fprintln(o.stdout)
	w := table(o.stdout)
	fmt.Fprintf(w, "package\t%s\n", r.id)
	fmt.Fprintf(w, "outcome\t%s\n", packageOutcomeText(d.GetPackageOutcome()))
	fmt.Fprintf(w, "updated\t%d\n", d.GetUpdated())
	fmt.Fprintf(w, "failed\t%d\n", d.GetFailed())
	fmt.Fprintf(w, "rolled back\t%d\n", d.GetRolledBack())
	if reason := firstNonEmpty(d.GetReason(), r.halted); reason != "" {
		fmt.Fprintf(w, "reason\t%s\n", reason)
	}
	if d.GetUnanswered() > 0 {
		fmt.Fprintf(w, "unanswered\t%d (their late answers may revise the outcome: molt watch)\n", d.GetUnanswered())
	}
	fmt.Fprintf(w, "took\t%s\n", dur(d.GetLatencyNs()))
	if err := w.Flush(); err != nil {
		return err
	}
	units := r.units()
	if len(units) == 0 {
		return nil
	}
	fmt.Fprintln(o.stdout)
	w = table(o.stdout)
	fmt.Fprintln(w, "ACTOR\tKIND\tFROM\tTO\tOUTCOME\tLATENCY\tREASON")
	for _, u := range units {
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", u.Actor, u.Kind, u.From, u.To,
			strings.ReplaceAll(u.Outcome, "_", " "), dur(u.LatencyNs), orDash(u.why()))
	}
	return w.Flush()
}

// progress shows a package's progress: a bar on a terminal, a line per
// event otherwise, nothing with JSON output (whose stdout is the final
// object alone).
type progress struct {
	o            *options
	bar          *progressbar.ProgressBar
	done, failed int
	step, batch  uint32
}

func (o *options) newProgress(total int) *progress {
	p := &progress{o: o}
	if o.tty && !o.json() && total > 0 {
		p.bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(o.stdout),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionSetPredictTime(false),
			progressbar.OptionSetRenderBlankState(true),
			progressbar.OptionSetDescription("starting"))
	}
	return p
}

func (p *progress) event(e *manager.Event) {
	switch e.GetType() {
	case manager.EventType_STEP_STARTED:
		p.step, p.batch = e.GetStep(), 0
	case manager.EventType_BATCH_STARTED:
		p.step, p.batch = e.GetStep(), e.GetBatch()
	case manager.EventType_ACTOR_UPDATED:
		if e.GetOutcome() == update.Outcome_OUTCOME_COMMITTED {
			p.done++
		} else {
			p.failed++
		}
	}
	switch {
	case p.bar != nil:
		p.bar.Describe(fmt.Sprintf("step %d, batch %d: %d done, %d failed", p.step, p.batch, p.done, p.failed))
		_ = p.bar.Set(p.done + p.failed)
	case !p.o.json():
		fmt.Fprintln(p.o.stdout, "  "+eventText(e))
	}
}

func (p *progress) close() {
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.o.stdout)
	}
}
