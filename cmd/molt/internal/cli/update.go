package cli

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/molt-go/molt/admin"
	"github.com/molt-go/molt/update"
	"github.com/molt-go/molt/update/manager"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"
)

// parseTarget reads NAME or PID; a PID is ADDRESS/ID, as ls prints it.
// An id may hold '/' (a child actor), so only a first segment that is a
// host and a numeric port makes the argument a PID.
func parseTarget(arg string) (name string, pid *update.ActorRef) {
	addr, id, ok := strings.Cut(arg, "/")
	if ok && id != "" {
		if _, port, err := net.SplitHostPort(addr); err == nil {
			if _, err := strconv.Atoi(port); err == nil {
				return "", &update.ActorRef{Address: addr, Id: id}
			}
		}
	}
	return arg, nil
}

func (o *options) updateCommand() *cobra.Command {
	var (
		to, from        uint32
		deadline        time.Duration
		stage, inOrder  bool
		id, kind        string
		labels          []string
		toSet, fromFlag bool
	)
	cmd := &cobra.Command{
		Use:   "update NAME|PID --to N",
		Short: "Update one live actor, or a selection, to another version",
		Long: `Update one live actor, by name or by PID (ADDRESS/ID, as ls prints it), or the
actors of a kind selected with --kind and --label, to version --to, through
the node's admin. Each actor runs the six phases and answers with its
result; the command prints them and exits 0 only if every actor committed.

--stage makes a selection all-or-nothing: every actor stages, and they
commit only once all have; one failure aborts the others. --in-order
waits for the messages already queued (ORDER_IN_ORDER) instead of
overtaking them.`,
		Example: `  molt update counter --to 2
  molt update 127.0.0.1:8090/counter --to 1 --deadline 500ms
  molt update --kind account --label region=eu --to 2 --stage
  molt update ledger --to 2 --from 1 --in-order -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			toSet, fromFlag = cmd.Flags().Changed("to"), cmd.Flags().Changed("from")
			if !toSet || to == 0 {
				return fail(ExitUsage, "update: give the target version with --to N (N ≥ 1)")
			}
			req := &admin.UpdateActors{ToVersion: to, Stage: stage, UpdateId: id}
			if fromFlag {
				req.FromVersion = from
			}
			if deadline != 0 {
				req.Deadline = durationpb.New(deadline)
			}
			if inOrder {
				req.Order = update.Order_ORDER_IN_ORDER
			}
			switch {
			case len(args) == 1 && (kind != "" || len(labels) > 0):
				return fail(ExitUsage, "update: name one actor, or select with --kind and --label, not both")
			case len(args) == 1:
				req.Name, req.Pid = parseTarget(args[0])
			case kind != "":
				l, err := parseLabels(labels)
				if err != nil {
					return err
				}
				req.Selector = &admin.Selector{Kind: kind, Labels: l}
			default:
				return fail(ExitUsage, "update: name the actor (NAME or ADDRESS/ID), or select actors with --kind")
			}
			return o.withClient(func(ctx context.Context, c *client) error {
				// The admin waits up to twice the deadline and a second
				// for an actor's answer; the CLI waits a little longer, so
				// that the admin's word arrives rather than a timeout.
				wait := o.timeout
				d := update.DefaultDeadline
				if deadline != 0 {
					d = deadline
				}
				if w := 2*d + 2*time.Second; w > wait {
					wait = w
				}
				ans, err := c.askWithin(ctx, req, wait)
				if err != nil {
					return err
				}
				res, ok := ans.(*admin.UpdateActorsResult)
				if !ok {
					return answerError("UpdateActors", ans)
				}
				if err := o.printResults(res); err != nil {
					return err
				}
				return resultsError(res)
			})
		},
	}
	f := cmd.Flags()
	f.Uint32Var(&to, "to", 0, "the version to update to (required)")
	f.Uint32Var(&from, "from", 0, "only if the actor runs this version; otherwise the update is rejected")
	f.DurationVar(&deadline, "deadline", 0, "each actor's update deadline, 1ms to 10m (default 2s)")
	f.BoolVar(&stage, "stage", false, "all or nothing across the selection: stage every actor, then commit them together")
	f.BoolVar(&inOrder, "in-order", false, "wait for the messages already queued (ORDER_IN_ORDER) instead of overtaking them")
	f.StringVar(&id, "id", "", "the update's id in every result (the admin makes one if empty)")
	f.StringVar(&kind, "kind", "", "select the live actors of this kind instead of naming one")
	f.StringArrayVar(&labels, "label", nil, "with --kind: only the actors with this label, key=value (repeat for several)")
	return cmd
}

func (o *options) printResults(res *admin.UpdateActorsResult) error {
	if o.json() {
		out := struct {
			UpdateID  string        `json:"update_id"`
			Committed bool          `json:"committed"`
			Results   []*resultView `json:"results"`
		}{UpdateID: res.GetUpdateId(), Committed: allCommitted(res), Results: []*resultView{}}
		for _, r := range res.GetResults() {
			out.Results = append(out.Results, viewResult(r))
		}
		return writeJSON(o.stdout, out)
	}
	w := table(o.stdout)
	fmt.Fprintln(w, "ACTOR\tKIND\tOUTCOME\tFROM\tTO\tPHASE\tHELD\tTOTAL\tREASON")
	for _, r := range res.GetResults() {
		fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\t%d\t%s\t%s\n", r.GetActor(), r.GetKind(), outcomeWord(r.GetOutcome()),
			r.GetFromVersion(), r.GetToVersion(), phaseText(r.GetPhase()), r.GetHeldMessages(), dur(r.GetTotalNs()), orDash(r.GetReason()))
	}
	return w.Flush()
}

// allCommitted: a staged update says so itself; otherwise every result
// must be a commit.
func allCommitted(res *admin.UpdateActorsResult) bool {
	if len(res.GetResults()) == 0 {
		return false
	}
	for _, r := range res.GetResults() {
		if r.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
			return false
		}
	}
	return true
}

// resultsError is nil when every actor committed, else the first failure
// on one line.
func resultsError(res *admin.UpdateActorsResult) error {
	if len(res.GetResults()) == 0 {
		return fail(ExitFailed, "update %s selected no live actor", res.GetUpdateId())
	}
	failed := 0
	var first *update.UpdateResult
	for _, r := range res.GetResults() {
		if r.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
			failed++
			if first == nil {
				first = r
			}
		}
	}
	if first == nil {
		return nil
	}
	msg := fmt.Sprintf("update %s: %s: %s", res.GetUpdateId(), first.GetActor(), resultText(first))
	if failed > 1 {
		msg += fmt.Sprintf(" (and %d more not committed)", failed-1)
	}
	return fail(ExitFailed, "%s", msg)
}

func (o *options) cancelCommand() *cobra.Command {
	var local bool
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a running update package",
		Long: `Cancel a running update package by its id: no new batch starts, and the
updates in flight finish or abort cleanly. What was updated stays updated
(molt rollback undoes the last package once it has ended).

The admin cannot list the packages that run, so the id is required: apply
prints it, and molt watch shows it in every event.

Against a member of a cluster whose admin knows it, the package is
cancelled on every member that runs it (--local: on the node alone).`,
		Example: `  molt cancel bank-v2`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fail(ExitUsage, "cancel: name the package to cancel (its id, as apply or molt watch print it); the admin cannot list running packages")
			}
			return nil
		},
		RunE: func(_ *cobra.Command, args []string) error {
			return o.withClient(func(ctx context.Context, c *client) error {
				ans, err := c.ask(ctx, &admin.CancelPackage{PackageId: args[0], Local: local})
				if err != nil {
					return err
				}
				if cp, ok := ans.(*admin.ClusterPackage); ok {
					return o.printClusterCancel(cp)
				}
				if _, ok := ans.(*manager.PackageAccepted); !ok {
					return answerError("CancelPackage", ans)
				}
				if o.json() {
					return writeJSON(o.stdout, map[string]any{"package_id": args[0], "cancelled": true})
				}
				fmt.Fprintf(o.stdout, "package %s cancelled: no new batch starts; updates in flight finish or abort\n", args[0])
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&local, "local", false, "cancel it on the node alone, not on its whole cluster")
	return cmd
}
