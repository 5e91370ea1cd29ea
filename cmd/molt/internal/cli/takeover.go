package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/molt-go/molt/admin"
	"github.com/molt-go/molt/takeover"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
)

// DefaultWatchTimeout bounds takeover --watch when --timeout is not given:
// a takeover is itself time-bounded, and 10 minutes is the longest
// deadline an actor's move may have.
const DefaultWatchTimeout = 10 * time.Minute

// DefaultWatchInterval is how often takeover --watch asks.
const DefaultWatchInterval = time.Second

func (o *options) takeoverCommand() *cobra.Command {
	var (
		watch    bool
		interval time.Duration
	)
	run := func(cmd *cobra.Command, _ []string) error {
		if interval <= 0 {
			return fail(ExitUsage, "takeover: --interval is %v: it must be positive", interval)
		}
		return o.withClient(func(ctx context.Context, c *client) error {
			if !watch {
				p, err := c.takeoverStatus(ctx, o.timeout)
				if err != nil {
					return err
				}
				return o.printTakeover(p)
			}
			total := DefaultWatchTimeout
			if cmd.Flags().Changed("timeout") {
				total = o.timeout
			}
			return o.watchTakeover(ctx, c, total, interval)
		})
	}
	long := `Show how a takeover goes on the node, as its takeover service (the actor
"molt-takeover" that takeover.Serve spawns) sees it, asked through the admin
(TakeoverStatus): the takeover's id, the node's role (requester: the node
takes another process's actors over; source: another process takes this
node's over), the peer's address, whether it is done, the actors to move,
moved, failed (they stay in the source, with their state) and in flight,
the time since it began, and its error, if it ended with one.

While the node takes over from another, that takeover is shown; otherwise
the latest takeover of the node's own actors. A node that has taken over
shows its own takeover only if it runs takeover.Serve (it should, so that
the next binary can take over from it).

--watch asks every --interval until the takeover is done (waiting for one
to begin if none has), printing a line whenever it moves (a line that
rewrites itself on a terminal; nothing but the final object with -o json),
then the status. --timeout then bounds the whole watch (default 10m), not
each answer; a takeover not done by then exits 3.

Exit codes: 0, or 1 if the takeover ended with an error or with actors
that did not move, or if the node runs no takeover service.`
	example := `  molt takeover --node 127.0.0.1:8090
  molt takeover status -o json | jq .moved
  molt takeover --watch --interval 500ms --timeout 30m`
	cmd := &cobra.Command{
		Use:     "takeover",
		Short:   "Show how a takeover of the node, or by it, goes (same as takeover status)",
		Long:    long,
		Example: example,
		Args:    cobra.NoArgs,
		RunE:    run,
	}
	status := &cobra.Command{
		Use:   "status",
		Short: "Show how a takeover of the node, or by it, goes",
		Long:  long,
		Example: `  molt takeover status
  molt takeover status --watch
  molt takeover status -o json --node 127.0.0.1:8091`,
		Args: cobra.NoArgs,
		RunE: run,
	}
	for _, c := range []*cobra.Command{cmd, status} {
		c.Flags().BoolVarP(&watch, "watch", "w", false, "refresh until the takeover is done, within --timeout (default 10m with --watch)")
		c.Flags().DurationVar(&interval, "interval", DefaultWatchInterval, "how often --watch asks")
	}
	cmd.AddCommand(status)
	return cmd
}

// takeoverStatus asks the admin for the takeover's progress, waiting at
// most d. A node without a takeover service is a failure: there is
// nothing to show.
func (c *client) takeoverStatus(ctx context.Context, d time.Duration) (*takeover.Progress, error) {
	ans, err := c.askWithin(ctx, &admin.TakeoverStatus{}, d)
	if err != nil {
		return nil, err
	}
	tp, ok := ans.(*admin.TakeoverProgress)
	if !ok {
		return nil, answerError("TakeoverStatus", ans)
	}
	if !tp.GetServing() {
		return nil, fail(ExitFailed, "%s runs no takeover service (takeover.Serve): nothing takes it over, and a takeover it runs is not shown", c.o.node)
	}
	p := tp.GetProgress()
	if p == nil {
		p = &takeover.Progress{}
	}
	return p, nil
}

// watchTakeover asks every interval until the takeover is done or total
// has passed, showing each change, then prints the last status.
func (o *options) watchTakeover(ctx context.Context, c *client, total, interval time.Duration) error {
	end := time.Now().Add(total)
	line := o.newTakeoverLine()
	var last *takeover.Progress
	for {
		left := time.Until(end)
		if left <= 0 {
			break
		}
		p, err := c.takeoverStatus(ctx, min(o.timeout, left, DefaultTimeout))
		if err != nil {
			line.close()
			return err
		}
		line.show(p)
		last = p
		if p.GetDone() {
			line.close()
			if line.lines && !o.json() {
				fmt.Fprintln(o.stdout)
			}
			return o.printTakeover(p)
		}
		t := time.NewTimer(min(interval, time.Until(end)))
		select {
		case <-t.C:
		case err := <-c.broken:
			t.Stop()
			line.close()
			return c.connectionError(err)
		case <-ctx.Done():
			t.Stop()
			line.close()
			return fail(ExitInterrupted, "interrupted while watching the takeover on %s; it goes on", o.node)
		}
	}
	line.close()
	if line.lines && !o.json() {
		fmt.Fprintln(o.stdout)
	}
	if last.GetRole() == "" {
		return fail(ExitUnreachable, "no takeover began on %s within %v (--timeout)", o.node, total)
	}
	if err := o.writeTakeover(last); err != nil {
		return err
	}
	return fail(ExitUnreachable, "takeover %s on %s is not done after %v (--timeout): %s", last.GetTakeoverId(), o.node, total, takeoverLine(last))
}

// takeoverView is a takeover's progress in the JSON output.
type takeoverView struct {
	TakeoverID string `json:"takeover_id"`
	Role       string `json:"role"`
	Peer       string `json:"peer"`
	Done       bool   `json:"done"`
	Actors     uint32 `json:"actors"`
	Moved      uint32 `json:"moved"`
	Failed     uint32 `json:"failed"`
	InFlight   uint32 `json:"in_flight"`
	ElapsedNs  int64  `json:"elapsed_ns"`
	Error      string `json:"error"`
}

func viewTakeover(p *takeover.Progress) takeoverView {
	return takeoverView{
		TakeoverID: p.GetTakeoverId(), Role: p.GetRole(), Peer: p.GetPeer(), Done: p.GetDone(),
		Actors: p.GetActors(), Moved: p.GetMoved(), Failed: p.GetFailed(), InFlight: p.GetInFlight(),
		ElapsedNs: p.GetElapsed().AsDuration().Nanoseconds(), Error: p.GetError(),
	}
}

// printTakeover prints the status and returns the command's error: a
// takeover that ended with an error, or with actors that did not move,
// is a failure.
func (o *options) printTakeover(p *takeover.Progress) error {
	if err := o.writeTakeover(p); err != nil {
		return err
	}
	switch {
	case p.GetError() != "":
		return fail(ExitFailed, "takeover %s ended with an error: %s", p.GetTakeoverId(), p.GetError())
	case p.GetDone() && p.GetFailed() > 0:
		return fail(ExitFailed, "takeover %s is done, and %d of its %d actors did not move: they run in the source", p.GetTakeoverId(), p.GetFailed(), p.GetActors())
	}
	return nil
}

func (o *options) writeTakeover(p *takeover.Progress) error {
	if o.json() {
		return writeJSON(o.stdout, viewTakeover(p))
	}
	if p.GetRole() == "" {
		fmt.Fprintf(o.stdout, "no takeover has run on %s; its takeover service is ready\n", o.node)
		return nil
	}
	done := "no"
	if p.GetDone() {
		done = "yes"
	}
	w := table(o.stdout)
	fmt.Fprintf(w, "takeover\t%s\n", p.GetTakeoverId())
	fmt.Fprintf(w, "role\t%s\n", p.GetRole())
	fmt.Fprintf(w, "peer\t%s\n", orDash(p.GetPeer()))
	fmt.Fprintf(w, "done\t%s\n", done)
	fmt.Fprintf(w, "actors\t%d\n", p.GetActors())
	fmt.Fprintf(w, "moved\t%d\n", p.GetMoved())
	fmt.Fprintf(w, "failed\t%d\n", p.GetFailed())
	fmt.Fprintf(w, "in flight\t%d\n", p.GetInFlight())
	fmt.Fprintf(w, "elapsed\t%s\n", dur(p.GetElapsed().AsDuration().Nanoseconds()))
	fmt.Fprintf(w, "error\t%s\n", orDash(p.GetError()))
	return w.Flush()
}

// takeoverLine is a takeover's progress on one line: "source, to
// 127.0.0.1:8091: 1200 of 5000 moved, 0 failed, 256 in flight, 1.2s".
func takeoverLine(p *takeover.Progress) string {
	if p.GetRole() == "" {
		return "no takeover has begun"
	}
	dir := "to"
	if p.GetRole() == "requester" {
		dir = "from"
	}
	s := fmt.Sprintf("%s %s, %s %s: %d of %d moved, %d failed, %d in flight, %s",
		p.GetTakeoverId(), p.GetRole(), dir, orDash(p.GetPeer()), p.GetMoved(), p.GetActors(), p.GetFailed(), p.GetInFlight(),
		dur(p.GetElapsed().AsDuration().Nanoseconds()))
	if p.GetDone() {
		s += ", done"
	}
	if p.GetError() != "" {
		s += ": " + p.GetError()
	}
	return s
}

// takeoverProgressLine shows --watch's refreshes: one line per change,
// or one line rewritten in place on a terminal; nothing with JSON output.
type takeoverProgressLine struct {
	o     *options
	shown *takeover.Progress // the last shown, without its elapsed time
	drawn bool               // a line is drawn on the terminal
	lines bool               // something was shown
}

func (o *options) newTakeoverLine() *takeoverProgressLine {
	return &takeoverProgressLine{o: o}
}

func (l *takeoverProgressLine) show(p *takeover.Progress) {
	if l.o.json() {
		return
	}
	if l.o.tty {
		fmt.Fprintf(l.o.stdout, "\r\033[K%s", takeoverLine(p))
		l.drawn, l.lines = true, true
		return
	}
	key := proto.CloneOf(p)
	key.Elapsed = nil
	if l.shown != nil && proto.Equal(l.shown, key) {
		return
	}
	l.shown, l.lines = key, true
	fmt.Fprintf(l.o.stdout, "%s  %s\n", time.Now().Format("15:04:05.000"), takeoverLine(p))
}

func (l *takeoverProgressLine) close() {
	if l.drawn {
		fmt.Fprintln(l.o.stdout)
		l.drawn = false
	}
}
