package harness

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"math"
	"runtime"
	"strings"
	"time"

	"github.com/molt-go/molt/update/manager"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The update manager's scenarios, added through Register like any
// scenario of a user's. This file's init runs after the built-in
// scenarios' (the go command hands a package's files to the compiler in
// the order of their names, and init functions run in that order), so they
// come after them in the runner.

// The targets the manager's scenarios are read against, drawn on their
// charts.
const (
	// GroupTargetSize and GroupTargetNs: an all-or-nothing group of 16
	// actors updated in 100 µs or less (p50).
	GroupTargetSize = 16
	GroupTargetNs   = 100_000
	// FleetTargetSize and FleetTargetRate: a fleet of 100,000 actors
	// updated at 250,000 updates per second or more.
	FleetTargetSize = 100_000
	FleetTargetRate = 250_000
)

// ErlangFleetMaxSize is the largest fleet the fleet-update scenario
// measures the Erlang peer at: the 100,000. A million processes
// took 27 s to spawn, 5.7 GB, and 9 to 65 s per pass (the pass in which
// every process garbage-collects is the long one) in erl on 2 cores: the
// six passes the comparison needs would make the runner's default run
// several minutes longer and hold 11 GB with molt's fleet.
const ErlangFleetMaxSize = 100_000

func init() {
	for _, s := range []Scenario{
		{
			Name:        "group-update",
			Description: "All-or-nothing group update through the update manager (manager.Run, one group of every actor), against the group's size.",
			Cases:       func(cfg Config) int { return len(cfg.groupSizes()) },
			Run:         runGroupUpdate,
			Charts:      groupUpdateCharts,
		},
		{
			Name:        "fleet-update",
			Description: "Actors updated per second by one all-at-once package through the update manager (manager.Run), against the fleet's size, beside Erlang/OTP's processes updated from one coordinator.",
			Cases:       func(cfg Config) int { return 2 * len(cfg.fleetSizes()) }, // molt, then erlang
			Run:         runFleetUpdate,
			Charts:      fleetUpdateCharts,
		},
	} {
		if err := Register(s); err != nil {
			panic(err)
		}
	}
}

func runGroupUpdate(ctx context.Context, cfg Config) (*Result, error) {
	res := &Result{Parameters: cfg.params()}
	res.Parameters["group_sizes"] = cfg.groupSizes()
	for _, n := range cfg.groupSizes() {
		c, err := measureGroup(ctx, cfg, n)
		if err != nil {
			return res, fmt.Errorf("group of %d: %w", n, err)
		}
		res.Cases = append(res.Cases, c)
		cfg.progress("group-update", c.Name)
	}
	res.Notes = []string{
		"latency: manager.Run of a package with one all-or-nothing group of every actor (kind member, back and forth between versions 1 and 2), from the call to PACKAGE_DONE in hand.",
		"plan: that minus the run's own time (PACKAGE_DONE's latency): building the plan and the hand-offs to and from the manager; staged and committed: from the group's launch until every member staged, and committed (GROUP_STAGED, GROUP_COMMITTED); actor: one member's phases (total_ns). These three come from the warm-up, whose packages listen to the events; the measured ones do not (Run with no onEvent), since a listener costs an event per actor.",
		fmt.Sprintf("target: a group of %d in %s or less.", GroupTargetSize, FormatDuration(GroupTargetNs)),
	}
	return res, nil
}

func measureGroup(ctx context.Context, cfg Config, n int) (c *Case, err error) {
	f, err := NewFleet(ctx, n)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, f.Close()) }()

	// The warm-up listens to the package's events, for the figures of the
	// group's stages; the measured packages do not, as Run(ctx, pkg, nil):
	// a listener makes the manager build an event per actor. onEvent runs
	// on the manager's goroutine while Run waits, and Run returns after the
	// package's last event, so the recorders are read safely.
	staged, committed, inside := NewRecorder(), NewRecorder(), NewRecorder()
	onEvent := func(e *manager.Event) {
		switch e.GetType() {
		case manager.EventType_GROUP_STAGED:
			staged.RecordNs(e.GetLatencyNs())
		case manager.EventType_GROUP_COMMITTED:
			committed.RecordNs(e.GetLatencyNs())
		case manager.EventType_ACTOR_UPDATED:
			inside.RecordNs(e.GetLatencyNs())
		}
	}
	runtime.GC()
	if err := cfg.warm(ctx, func() error { _, _, err := f.UpdateGroup(ctx, onEvent); return err }); err != nil {
		return nil, err
	}
	runtime.GC()
	rtt, plan := NewRecorder(), NewRecorder()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	ops, _, err := cfg.measure(ctx, 1, func() error {
		d, done, err := f.UpdateGroup(ctx, nil)
		if err != nil {
			return err
		}
		rtt.Record(d)
		plan.RecordNs(int64(d) - done.GetLatencyNs())
		return nil
	})
	runtime.ReadMemStats(&m1)
	if err != nil {
		return nil, err
	}
	if err := f.Verify(); err != nil {
		return nil, err
	}
	c = &Case{Name: fmt.Sprintf("group/%d", n), Parameters: Params{"group_size": n}}
	c.SetLatency(rtt)
	c.Add("plan_p50_ns", float64(plan.Quantile(0.50)))
	c.Add("staged_p50_ns", float64(staged.Quantile(0.50)))
	c.Add("committed_p50_ns", float64(committed.Quantile(0.50)))
	c.Add("actor_p50_ns", float64(inside.Quantile(0.50)))
	c.Add("allocs_per_group_update", float64(m1.Mallocs-m0.Mallocs)/float64(ops))
	c.Add("bytes_per_group_update", float64(m1.TotalAlloc-m0.TotalAlloc)/float64(ops))
	return c, nil
}

func runFleetUpdate(ctx context.Context, cfg Config) (res *Result, err error) {
	res = &Result{Parameters: cfg.params()}
	res.Parameters["fleet_sizes"] = cfg.fleetSizes()
	res.Parameters["max_in_flight"] = FleetMaxInFlight
	peer, err := NewErlangPeer(ctx)
	skipped, noErlang := erlangSkipped(err)
	if err != nil && !noErlang {
		return res, err
	}
	if peer != nil {
		defer func() { err = errors.Join(err, peer.Close()) }()
	}
	var tooLarge []string
	for _, n := range cfg.fleetSizes() {
		p := peer
		if n > ErlangFleetMaxSize && p != nil {
			p = nil
			tooLarge = append(tooLarge, FormatCount(float64(n)))
		}
		c, erl, err := measureFleet(ctx, cfg, n, p)
		if err != nil {
			return res, fmt.Errorf("fleet of %d: %w", n, err)
		}
		res.Cases = append(res.Cases, c)
		cfg.progress("fleet-update", c.Name)
		if erl != nil {
			res.Cases = append(res.Cases, erl)
		}
		cfg.progress("fleet-update", c.Name+"/erlang")
	}
	res.Notes = []string{
		fmt.Sprintf("latency: one package's total time, manager.Run of an all-at-once package over the whole fleet (kind member, targets: all, maxInFlight %d, back and forth between versions 1 and 2), from the call to PACKAGE_DONE in hand; at least 2 packages per size (%d with the Erlang peer), after at least 2 unmeasured (there and back).", FleetMaxInFlight, ErlangFleetMinPasses),
		"updates per s: actors updated over the packages' total time; run updates per s: over the runs' own time (PACKAGE_DONE's latency), without the planning; plan: a package's time minus its run's own (PACKAGE_DONE's latency), i.e. listing the fleet, building the plan and the hand-offs; actor: one actor's phases (total_ns), from the warm-up, whose packages listen to the events (the measured ones do not: a listener costs an event per actor); allocs and bytes per update: the process's, per actor updated; spawn: spawning the fleet, once per size.",
		fmt.Sprintf("fleet/N/erlang: N gen_servers updated by one coordinator, one after the other, each by sys:suspend, sys:change_code and sys:resume (how release_handler updates a process), in passes over the whole fleet, back and forth, in an erl of its own: at least 2 unmeasured passes, then one measured pass after each of molt's measured packages, at least %d of each (every Erlang process garbage-collects in the same pass, every second to fourth pass: several passes average over that); updates per s over the passes' time; latency: one pass. vs erlang: molt's updates per s over the peer's, measured alternately (above 1: molt is faster).", ErlangFleetMinPasses),
		fmt.Sprintf("target: %s updates/s or more for %s actors.", FormatCount(FleetTargetRate), FormatCount(FleetTargetSize)),
	}
	if noErlang {
		res.Notes = append(res.Notes, skipped)
	}
	if len(tooLarge) > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("erlang: not measured at %s processes: the peer runs up to %s (a million took 5.7 GB and nearly 3 minutes in erl for its spawn and four passes on 2 cores).",
			strings.Join(tooLarge, ", "), FormatCount(ErlangFleetMaxSize)))
	}
	return res, nil
}

// measureFleet measures a molt fleet of n actors and, if peer is set, an
// Erlang fleet of n processes beside it: both are spawned and warmed up,
// then each molt package is followed by one pass of the Erlang fleet, so
// that a slow moment of the machine hits both, for at least
// ErlangFleetMinPasses of each. It returns molt's case, with its rate over
// Erlang's as vs_erlang_ratio, and Erlang's case (nil without peer).
func measureFleet(ctx context.Context, cfg Config, n int, peer *ErlangPeer) (c, erl *Case, err error) {
	start := time.Now()
	f, err := NewFleet(ctx, n)
	if err != nil {
		return nil, nil, err
	}
	spawn := time.Since(start)
	defer func() { err = errors.Join(err, f.Close()) }()

	// The warm-up updates the fleet there and back at least once: the first
	// packages after the spawn are slower (at 100,000 actors, the first
	// two ran at 60 to 70 % of the later ones' rate). As for groups, only
	// the warm-up listens to the events, for the actors' phases.
	inside := NewRecorder()
	onEvent := func(e *manager.Event) {
		if e.GetType() == manager.EventType_ACTOR_UPDATED {
			inside.RecordNs(e.GetLatencyNs())
		}
	}
	runtime.GC()
	if err := cfg.warm(ctx, func() error {
		for range 2 {
			if _, _, err := f.UpdateAll(ctx, onEvent); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	// Erlang's fleet is spawned and warmed up (in its own process) while
	// molt's waits.
	minOps := 2
	var ef *ErlangFleet
	if peer != nil {
		if ef, err = peer.StartFleet(ctx, cfg, n); err != nil {
			return nil, nil, err
		}
		defer func() {
			if ef != nil {
				_, cerr := ef.Close()
				err = errors.Join(err, cerr)
			}
		}()
		minOps = ErlangFleetMinPasses
	}
	packages, plan, passes := NewRecorder(), NewRecorder(), NewRecorder()
	var updated, peerUpdated int64
	var busy, running, peerBusy time.Duration
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	_, _, err = cfg.measure(ctx, minOps, func() error {
		d, done, err := f.UpdateAll(ctx, nil)
		if err != nil {
			return err
		}
		packages.Record(d)
		plan.RecordNs(int64(d) - done.GetLatencyNs())
		updated += int64(done.GetUpdated())
		busy += d
		running += time.Duration(done.GetLatencyNs())
		if ef == nil {
			return nil
		}
		p, err := ef.Pass()
		if err != nil {
			return err
		}
		passes.Record(p.Elapsed)
		peerUpdated += int64(p.Updated)
		peerBusy += p.Elapsed
		return nil
	})
	runtime.ReadMemStats(&m1)
	if err != nil {
		return nil, nil, err
	}
	if err := f.Verify(); err != nil {
		return nil, nil, err
	}
	c = &Case{Name: fmt.Sprintf("fleet/%d", n), Parameters: Params{"fleet_size": n, "max_in_flight": FleetMaxInFlight}}
	c.SetLatency(packages)
	rate := float64(updated) / busy.Seconds()
	c.Add("updates_per_s", rate)
	c.Add("run_updates_per_s", float64(updated)/running.Seconds())
	c.Add("plan_p50_ns", float64(plan.Quantile(0.50)))
	c.Add("actor_p50_ns", float64(inside.Quantile(0.50)))
	c.Add("actor_p99_ns", float64(inside.Quantile(0.99)))
	// The process's allocations, Erlang's passes included: the Go side of
	// a pass allocates a few hundred bytes (a line of output and its
	// parse), nothing per process.
	c.Add("allocs_per_update", float64(m1.Mallocs-m0.Mallocs)/float64(updated))
	c.Add("bytes_per_update", float64(m1.TotalAlloc-m0.TotalAlloc)/float64(updated))
	c.Add("spawn_per_s", float64(n)/spawn.Seconds())
	if ef == nil {
		return c, nil, nil
	}

	rep, err := ef.Close()
	ef = nil
	if err != nil {
		return c, nil, err
	}
	peerRate := float64(peerUpdated) / peerBusy.Seconds()
	c.Add("vs_erlang_ratio", rate/peerRate)
	erl = &Case{Name: fmt.Sprintf("fleet/%d/erlang", n), Parameters: Params{
		"fleet_size": n, "system": "erlang", "otp_release": rep.OTP, "schedulers": rep.Schedulers,
	}}
	erl.SetLatency(passes)
	erl.Add("updates_per_s", peerRate)
	if rep.Spawn > 0 {
		erl.Add("spawn_per_s", float64(rep.Spawned)/rep.Spawn.Seconds())
	}
	return c, erl, nil
}

// --- Charts. ---

// sizeAxis marks a log-scale axis at the given sizes, labelled as counts,
// with some room on either side for the points and the target.
func sizeAxis(a *plot.Axis, sizes []float64) {
	ticks := make([]plot.Tick, len(sizes))
	for i, s := range sizes {
		ticks[i] = plot.Tick{Value: s, Label: FormatCount(s)}
	}
	a.Tick.Marker = plot.ConstantTicks(ticks)
	a.Min, a.Max = a.Min/1.3, a.Max*1.3
}

// countTicks marks a linear axis as plot.DefaultTicks does, labelled as
// counts (250k, 1M).
type countTicks struct{}

func (countTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = FormatCount(ticks[i].Value)
		}
	}
	return ticks
}

// addTarget draws a target as a red cross at (x, y), with its legend.
func addTarget(p *plot.Plot, x, y float64, label string) error {
	s, err := plotter.NewScatter(plotter.XYs{{X: x, Y: y}})
	if err != nil {
		return err
	}
	s.Shape = draw.CrossGlyph{}
	s.Color = color.RGBA{R: 220, A: 255}
	s.Radius = vg.Points(5)
	p.Add(s)
	p.Legend.Add(label, s)
	return nil
}

// sizeOf returns a case's size parameter, which is an int when measured
// and a float64 once decoded from JSON.
func sizeOf(c *Case, param string) (float64, bool, error) {
	v, ok := c.Parameters[param]
	if !ok {
		return 0, false, nil
	}
	x, err := toFloat(v)
	return x, err == nil, err
}

func groupUpdateCharts(r *Result) ([]Chart, error) {
	p := newChart("All-or-nothing group update against group size", "actors in the group (log scale)", "manager.Run, call to package done (log scale)")
	p.X.Scale = plot.LogScale{}
	logDurationAxis(&p.Y)
	p.Legend.Top, p.Legend.Left = true, true
	s := series{name: "round trip", extra: "launch to all committed p50"}
	for _, c := range r.Cases {
		x, ok, err := sizeOf(c, "group_size")
		if err != nil {
			return nil, err
		}
		if !ok || c.Latency == nil {
			continue
		}
		committed, _ := c.Figure("committed_p50_ns")
		s.xs = append(s.xs, x)
		s.p50 = append(s.p50, float64(c.Latency.P50Ns))
		s.p99 = append(s.p99, float64(c.Latency.P99Ns))
		s.actor = append(s.actor, committed)
	}
	if len(s.xs) == 0 {
		return nil, errors.New("no case has a group size and a latency")
	}
	if err := addSeries(p, 0, s); err != nil {
		return nil, err
	}
	if err := addTarget(p, GroupTargetSize, GroupTargetNs, fmt.Sprintf("target: %d actors in %s", GroupTargetSize, FormatDuration(GroupTargetNs))); err != nil {
		return nil, err
	}
	sizeAxis(&p.X, s.xs)
	// From a power of ten, so that the axis has at least two labels.
	p.Y.Min = math.Pow(10, math.Floor(math.Log10(max(p.Y.Min, 1))))
	return []Chart{{Name: "latency-vs-group-size", Plot: p}}, nil
}

func fleetUpdateCharts(r *Result) ([]Chart, error) {
	p := newChart("Fleet update rate against fleet size", "actors in the fleet (log scale)", "actors updated per second")
	p.X.Scale = plot.LogScale{}
	p.Y.Min = 0
	p.Y.Tick.Marker = countTicks{}
	p.Legend.Top, p.Legend.Left = false, false
	var total, run, erl plotter.XYs
	var xs []float64
	for _, c := range r.Cases {
		x, ok, err := sizeOf(c, "fleet_size")
		if err != nil {
			return nil, err
		}
		rate, has := c.Figure("updates_per_s")
		if !ok || !has {
			continue
		}
		if c.Parameters["system"] == "erlang" {
			erl = append(erl, plotter.XY{X: x, Y: rate})
			continue
		}
		xs = append(xs, x)
		total = append(total, plotter.XY{X: x, Y: rate})
		if alone, ok := c.Figure("run_updates_per_s"); ok {
			run = append(run, plotter.XY{X: x, Y: alone})
		}
	}
	if len(xs) == 0 {
		return nil, errors.New("no case has a fleet size and a rate")
	}
	for i, l := range []struct {
		label string
		xys   plotter.XYs
	}{
		{fmt.Sprintf("package, call to done (all-at-once, maxInFlight %d)", FleetMaxInFlight), total},
		{"its run alone, without planning", run},
		{"Erlang/OTP: sys:suspend, change_code, resume from one coordinator", erl},
	} {
		if len(l.xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(l.xys)
		if err != nil {
			return nil, err
		}
		line.Color, points.Color = plotutil.Color(i), plotutil.Color(i)
		line.Width = vg.Points(1.5)
		points.Shape = plotutil.Shape(i)
		if i == 1 { // the run alone: a part of the package's line
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(line, points)
		p.Legend.Add(l.label, line, points)
	}
	if err := addTarget(p, FleetTargetSize, FleetTargetRate, fmt.Sprintf("target: %s/s at %s actors", FormatCount(FleetTargetRate), FormatCount(FleetTargetSize))); err != nil {
		return nil, err
	}
	p.Y.Max = max(p.Y.Max*1.1, FleetTargetRate*1.2)
	sizeAxis(&p.X, xs)
	return []Chart{{Name: "fleet-rate-vs-fleet-size", Plot: p}}, nil
}
