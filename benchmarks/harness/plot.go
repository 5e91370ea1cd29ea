package harness

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Chart is one chart of a scenario's result: Plot writes it as Name.svg
// and Name.png.
type Chart struct {
	Name string
	Plot *plot.Plot
}

// The size charts are drawn at.
const (
	chartWidth  = 7 * vg.Inch
	chartHeight = 4.5 * vg.Inch
)

// Plot draws the charts of each result whose scenario has any (see
// Scenario.Charts; a result of MeasureUpdateLatency gets the
// update-latency scenario's latency CDF) into dir, which it creates if
// needed, as SVG and PNG, and returns the paths of the files written.
func Plot(dir string, results ...*Result) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for _, r := range results {
		s, ok := Lookup(r.Scenario)
		if !ok || s.Charts == nil {
			continue
		}
		charts, err := s.Charts(r)
		if err != nil {
			return files, fmt.Errorf("harness: charts of %s: %w", r.Scenario, err)
		}
		for _, c := range charts {
			for _, ext := range []string{".svg", ".png"} {
				path := filepath.Join(dir, c.Name+ext)
				if err := c.Plot.Save(chartWidth, chartHeight, path); err != nil {
					return files, fmt.Errorf("harness: writing %s: %w", path, err)
				}
				files = append(files, path)
			}
		}
	}
	return files, nil
}

// newChart returns a plot with a title, a grid and the legend inside.
func newChart(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Add(plotter.NewGrid())
	return p
}

// durationTicks marks a log-scale axis of nanoseconds at each power of ten,
// labelled as durations, with unlabelled ticks at 2 to 9 times it.
type durationTicks struct{}

func (durationTicks) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(max(lo, 1))); math.Pow(10, e) <= hi*10; e++ {
		decade := math.Pow(10, e)
		for m := 1.0; m < 10; m++ {
			v := m * decade
			if v < lo || v > hi {
				continue
			}
			label := ""
			if m == 1 {
				label = FormatDuration(v)
			}
			ticks = append(ticks, plot.Tick{Value: v, Label: label})
		}
	}
	return ticks
}

// logDurationAxis makes the axis a log scale of nanoseconds.
func logDurationAxis(a *plot.Axis) {
	a.Scale = plot.LogScale{}
	a.Tick.Marker = durationTicks{}
}

// cdfChart draws the cumulative distribution of each case that has a
// recorder.
func cdfChart(name, title string, cases []*Case) (Chart, error) {
	p := newChart(title, "latency (log scale)", "fraction of samples at most this long")
	logDurationAxis(&p.X)
	p.Y.Min, p.Y.Max = 0, 1
	p.Legend.Top, p.Legend.Left = false, false
	n := 0
	for _, c := range cases {
		rec := c.Recorder()
		if rec == nil || rec.Count() == 0 {
			continue
		}
		var xys plotter.XYs
		for _, pt := range rec.CDF() {
			xys = append(xys, plotter.XY{X: float64(pt.Ns), Y: pt.Fraction})
		}
		// A CDF starts at zero just below its first value.
		xys = append(plotter.XYs{{X: xys[0].X * 0.999, Y: 0}}, xys...)
		line, err := plotter.NewLine(xys)
		if err != nil {
			return Chart{}, err
		}
		line.Color = plotutil.Color(n)
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(c.Name, line)
		n++
	}
	if n == 0 {
		return Chart{}, errors.New("no case has latency samples")
	}
	return Chart{Name: name, Plot: p}, nil
}

func updateLatencyCharts(r *Result) ([]Chart, error) {
	c, err := cdfChart("latency-cdf", "Update round trip: cumulative distribution", r.Cases)
	return []Chart{c}, err
}

func pauseCharts(r *Result) ([]Chart, error) {
	var gaps []*Case
	for _, name := range []string{"gap/update", "gap/no-update"} {
		if c := r.Case(name); c != nil {
			gaps = append(gaps, c)
		}
	}
	c, err := cdfChart("pause-cdf", "Longest delivery gap per window, with and without an update", gaps)
	return []Chart{c}, err
}

// series is one line of a latency chart: p50 solid with points, p99
// dashed, and, if set, the six phases' own p50 (actor) dotted, or another
// figure labelled extra.
type series struct {
	name            string
	xs              []float64
	p50, p99, actor []float64
	extra           string // the dotted line's label; "phases p50" if empty
}

func addSeries(p *plot.Plot, i int, s series) error {
	lines := [][]float64{s.p50, s.p99}
	if s.actor != nil {
		lines = append(lines, s.actor)
	}
	for k, ys := range lines {
		xys := make(plotter.XYs, len(s.xs))
		for j := range s.xs {
			xys[j] = plotter.XY{X: s.xs[j], Y: max(ys[j], 1)}
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return err
		}
		line.Color, points.Color = plotutil.Color(i), plotutil.Color(i)
		line.Width = vg.Points(1.5)
		points.Shape = plotutil.Shape(i)
		label := s.name + " p50"
		switch k {
		case 1:
			line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			line.Width = vg.Points(1)
			points.Color = color.Transparent
			label = s.name + " p99"
		case 2:
			line.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
			line.Width = vg.Points(1.5)
			points.Color = color.Transparent
			label = s.name + " phases p50"
			if s.extra != "" {
				label = s.extra
			}
		}
		p.Add(line, points)
		p.Legend.Add(label, line, points)
	}
	return nil
}

func stateSizeCharts(r *Result) ([]Chart, error) {
	p := newChart("Update round trip against state size", "state size (log scale)", "round trip (log scale)")
	p.X.Scale = plot.LogScale{}
	logDurationAxis(&p.Y)
	p.Legend.Top, p.Legend.Left = true, true
	bySize := map[float64]bool{}
	var ticks []plot.Tick
	for i, iso := range Isolations {
		s := series{name: string(iso)}
		for _, c := range r.Cases {
			size, ok := c.Parameters["state_bytes"]
			if !ok || c.Parameters["isolation"] != string(iso) || c.Latency == nil {
				continue
			}
			x, err := toFloat(size)
			if err != nil {
				return nil, err
			}
			s.xs = append(s.xs, x)
			s.p50 = append(s.p50, float64(c.Latency.P50Ns))
			s.p99 = append(s.p99, float64(c.Latency.P99Ns))
			if !bySize[x] {
				bySize[x] = true
				ticks = append(ticks, plot.Tick{Value: x, Label: FormatBytes(x)})
			}
		}
		if len(s.xs) == 0 {
			continue
		}
		if err := addSeries(p, i, s); err != nil {
			return nil, err
		}
	}
	if len(ticks) == 0 {
		return nil, errors.New("no case has a state size and a latency")
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	return []Chart{{Name: "latency-vs-state-size", Plot: p}}, nil
}

func heldMessagesCharts(r *Result) ([]Chart, error) {
	p := newChart("Update latency against messages queued behind it", "messages queued when the update starts", "latency (log scale)")
	logDurationAxis(&p.Y)
	p.Legend.Top, p.Legend.Left = true, true
	var counts []string
	index := map[string]int{}
	for _, c := range r.Cases {
		q := fmt.Sprint(c.Parameters["queued"])
		if _, ok := index[q]; !ok {
			index[q] = len(counts)
			counts = append(counts, q)
		}
	}
	for i, mode := range HeldModes {
		s := series{name: string(mode)}
		for _, c := range r.Cases {
			if c.Parameters["mode"] != string(mode) || c.Latency == nil {
				continue
			}
			actor, _ := c.Figure("actor_p50_ns")
			s.xs = append(s.xs, float64(index[fmt.Sprint(c.Parameters["queued"])]))
			s.p50 = append(s.p50, float64(c.Latency.P50Ns))
			s.p99 = append(s.p99, float64(c.Latency.P99Ns))
			s.actor = append(s.actor, actor)
		}
		if len(s.xs) == 0 {
			continue
		}
		if err := addSeries(p, i, s); err != nil {
			return nil, err
		}
	}
	if len(counts) == 0 {
		return nil, errors.New("no case has a queue length")
	}
	for i, q := range counts {
		if n, err := strconv.Atoi(q); err == nil {
			counts[i] = FormatCount(float64(n))
		}
	}
	p.NominalX(counts...)
	p.X.Min, p.X.Max = -0.3, float64(len(counts))-0.7
	return []Chart{{Name: "latency-vs-held-messages", Plot: p}}, nil
}

// toFloat reads a number parameter, which is a float64 once decoded from
// JSON.
func toFloat(v any) (float64, error) {
	switch n := v.(type) {
	case int:
		return float64(n), nil
	case int64:
		return float64(n), nil
	case float64:
		return n, nil
	}
	return 0, fmt.Errorf("parameter %v is a %T, not a number", v, v)
}
