package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

func (o *options) watchCommand() *cobra.Command {
	var (
		forD  time.Duration
		count int
		pkg   string
	)
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Print the update manager's events as they happen",
		Long: `Subscribe to the node's update manager events (packages, steps, batches,
each actor's update, groups, probations, halts, rollbacks) and print them
as they happen, one per line (one JSON object per line with -o json), until
interrupted, for --for, or after --count events. It exits 0 when it ends
that way.`,
		Example: `  molt watch
  molt watch --for 10m --package bank-v2
  molt watch -o json --count 1   # wait for the next event`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if forD < 0 || count < 0 {
				return fail(ExitUsage, "watch: --for and --count cannot be negative")
			}
			return o.withClient(func(ctx context.Context, c *client) error {
				if err := c.subscribe(ctx); err != nil {
					return err
				}
				var end <-chan time.Time
				if forD > 0 {
					t := time.NewTimer(forD)
					defer t.Stop()
					end = t.C
				}
				// On stderr, so that stdout holds events alone; tests and
				// scripts also learn from it that the subscription holds.
				fmt.Fprintf(o.stderr, "watching %s's events\n", o.node)
				seen := 0
				for count == 0 || seen < count {
					select {
					case e := <-c.events:
						if pkg != "" && e.GetPackageId() != pkg {
							continue
						}
						seen++
						now := time.Now()
						if o.json() {
							if err := writeJSONLine(o.stdout, viewEvent(e, now)); err != nil {
								return err
							}
							continue
						}
						fmt.Fprintf(o.stdout, "%s  %-16s  %-17s  %s\n", now.Format("15:04:05.000"), e.GetPackageId(), eventWord(e.GetType()), eventText(e))
					case <-c.cluster:
						// What the admin runs across its cluster: this
						// node's own part is among the manager's events.
					case err := <-c.broken:
						return c.connectionError(err)
					case <-end:
						return nil
					case <-ctx.Done():
						return nil
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().DurationVar(&forD, "for", 0, "stop after this long (default: until interrupted)")
	cmd.Flags().IntVar(&count, "count", 0, "stop after this many events (default: no limit)")
	cmd.Flags().StringVar(&pkg, "package", "", "only the events of this package")
	return cmd
}
