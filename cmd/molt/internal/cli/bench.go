package cli

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	pa "github.com/asynkron/protoactor-go/actor"
	"github.com/molt-go/molt/admin"
	"github.com/molt-go/molt/update"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"
)

// maxBenchCount bounds --count: each update holds the actor's messages
// for its duration, on a live node.
const maxBenchCount = 100000

func (o *options) benchCommand() *cobra.Command {
	var (
		count    int
		deadline time.Duration
	)
	cmd := &cobra.Command{
		Use:   "bench NAME --count N",
		Short: "Measure a live actor's update latency from outside",
		Long: `Update a live actor N times, back and forth between the version it runs and
another its kind can migrate to and back from (found with describe), and
print the latency percentiles (p50, p90, p99, max): the round trip this
client sees (request, six phases, answer, over remote) and the time the
actor reports (its result's total). The actor ends on the version it ran.

Each update holds the actor's messages while it runs: bench a canary, not a
busy actor. bench refuses an actor whose version has no path there and
back.`,
		Example: `  molt bench counter --count 100
  molt bench counter --count 1000 --deadline 100ms -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if count < 1 || count > maxBenchCount {
				return fail(ExitUsage, "bench: --count is %d: from 1 to %d", count, maxBenchCount)
			}
			if deadline != 0 && (deadline < update.MinDeadline || deadline > update.MaxDeadline) {
				return fail(ExitUsage, "bench: --deadline %v: from %v to %v", deadline, update.MinDeadline, update.MaxDeadline)
			}
			return o.withClient(func(ctx context.Context, c *client) error {
				return o.bench(ctx, c, args[0], count, deadline)
			})
		},
	}
	cmd.Flags().IntVar(&count, "count", 20, "updates to measure")
	cmd.Flags().DurationVar(&deadline, "deadline", 0, "each update's deadline (default 2s)")
	return cmd
}

func (o *options) bench(ctx context.Context, c *client, name string, count int, deadline time.Duration) error {
	// The node's own actors: bench updates its actor through this node's
	// admin, which updates only its own, even on a cluster member.
	list, err := c.listActors(ctx, &admin.ListActors{Local: true})
	if err != nil {
		return err
	}
	var info *admin.ActorInfo
	// ListActors filters by kind and labels only, so the actor is found
	// by reading the list.
	for _, a := range list.GetActors() {
		if a.GetName() == name {
			info = a
			break
		}
	}
	if info == nil {
		return fail(ExitFailed, "bench: no live actor named %q on %s", name, o.node)
	}
	desc, err := c.describe(ctx, info.GetKind())
	if err != nil {
		return err
	}
	home := info.GetVersion()
	away, ok := partner(desc, home)
	if !ok {
		return fail(ExitFailed, "bench: %s (kind %s) runs version %d, and no other version of %s has migrations there and back: bench needs two versions to go between",
			name, info.GetKind(), home, info.GetKind())
	}
	d := update.DefaultDeadline
	if deadline != 0 {
		d = deadline
	}
	wait := max(o.timeout, 2*d+2*time.Second)
	pid := pa.NewPID(o.node, name)
	roundTrip := hdrhistogram.New(1, int64(time.Hour), 3)
	onActor := hdrhistogram.New(1, int64(time.Hour), 3)
	cur := home
	step := func(ctx context.Context, i int, to uint32) (*update.UpdateResult, time.Duration, error) {
		req := &update.UpdateActor{ToVersion: to, FromVersion: cur, UpdateId: fmt.Sprintf("bench-%d", i)}
		if deadline != 0 {
			req.Deadline = durationpb.New(deadline)
		}
		start := time.Now()
		ans, err := c.request(ctx, pid, req, wait)
		rtt := time.Since(start)
		if err != nil {
			return nil, 0, err
		}
		res, ok := ans.(*update.UpdateResult)
		if !ok {
			return nil, 0, answerError("UpdateActor", ans)
		}
		if res.GetOutcome() != update.Outcome_OUTCOME_COMMITTED {
			return res, 0, fail(ExitFailed, "bench: update %d of %s: %s", i+1, name, resultText(res))
		}
		cur = to
		return res, rtt, nil
	}
	var benchErr error
	for i := range count {
		to := away
		if cur == away {
			to = home
		}
		res, rtt, err := step(ctx, i, to)
		if err != nil {
			benchErr = err
			break
		}
		_ = roundTrip.RecordValue(rtt.Nanoseconds())
		_ = onActor.RecordValue(max(res.GetTotalNs(), 1))
	}
	if cur != home {
		// Back where it was, even after an interrupt: bench must not
		// leave a production actor on the version it borrowed.
		if _, _, err := step(context.Background(), count, home); err != nil && benchErr == nil {
			benchErr = fail(ExitFailed, "bench: %s was left at version %d, not %d: %v", name, cur, home, err)
		}
	}
	if benchErr != nil {
		return benchErr
	}
	return o.printBench(name, info.GetKind(), home, away, count, roundTrip, onActor)
}

// partner picks the version to bench against: one the kind migrates to
// from home and back, preferring direct migrations, then the nearest.
func partner(d *admin.KindDescription, home uint32) (uint32, bool) {
	edges := map[uint32][]uint32{}
	direct := map[[2]uint32]bool{}
	for _, m := range d.GetMigrations() {
		edges[m.GetFrom()] = append(edges[m.GetFrom()], m.GetTo())
		direct[[2]uint32{m.GetFrom(), m.GetTo()}] = true
	}
	reach := func(from, to uint32) bool {
		seen := map[uint32]bool{from: true}
		queue := []uint32{from}
		for len(queue) > 0 {
			v := queue[0]
			queue = queue[1:]
			if v == to {
				return true
			}
			for _, w := range edges[v] {
				if !seen[w] {
					seen[w] = true
					queue = append(queue, w)
				}
			}
		}
		return false
	}
	var cands []uint32
	for _, v := range d.GetVersions() {
		if v.GetVersion() != home && reach(home, v.GetVersion()) && reach(v.GetVersion(), home) {
			cands = append(cands, v.GetVersion())
		}
	}
	if len(cands) == 0 {
		return 0, false
	}
	dist := func(v uint32) uint32 {
		if v > home {
			return v - home
		}
		return home - v
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		da := direct[[2]uint32{home, a}] && direct[[2]uint32{a, home}]
		db := direct[[2]uint32{home, b}] && direct[[2]uint32{b, home}]
		if da != db {
			return da
		}
		if dist(a) != dist(b) {
			return dist(a) < dist(b)
		}
		return a < b
	})
	return cands[0], true
}

type percentiles struct {
	P50  int64 `json:"p50"`
	P90  int64 `json:"p90"`
	P99  int64 `json:"p99"`
	Max  int64 `json:"max"`
	Mean int64 `json:"mean"`
}

func percentilesOf(h *hdrhistogram.Histogram) percentiles {
	return percentiles{
		P50: h.ValueAtQuantile(50), P90: h.ValueAtQuantile(90), P99: h.ValueAtQuantile(99),
		Max: h.Max(), Mean: int64(h.Mean()),
	}
}

func (o *options) printBench(name, kind string, home, away uint32, count int, roundTrip, onActor *hdrhistogram.Histogram) error {
	rt, act := percentilesOf(roundTrip), percentilesOf(onActor)
	if o.json() {
		return writeJSON(o.stdout, struct {
			Actor       string      `json:"actor"`
			Kind        string      `json:"kind"`
			Versions    []uint32    `json:"versions"`
			Count       int         `json:"count"`
			RoundTripNs percentiles `json:"round_trip_ns"`
			OnActorNs   percentiles `json:"on_actor_ns"`
		}{name, kind, []uint32{home, away}, count, rt, act})
	}
	fmt.Fprintf(o.stdout, "%s (%s): %d updates between versions %d and %d, all committed\n\n", name, kind, count, home, away)
	w := table(o.stdout)
	fmt.Fprintln(w, "\tROUND TRIP\tON THE ACTOR")
	for _, row := range []struct {
		name string
		a, b int64
	}{{"p50", rt.P50, act.P50}, {"p90", rt.P90, act.P90}, {"p99", rt.P99, act.P99}, {"max", rt.Max, act.Max}, {"mean", rt.Mean, act.Mean}} {
		fmt.Fprintf(w, "%s\t%s\t%s\n", row.name, dur(row.a), dur(row.b))
	}
	return w.Flush()
}
