package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/molt-go/molt/benchmarks/harness"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the runner's parsed flags.
type options struct {
	cfg        harness.Config
	scenarios  []harness.Scenario
	gomaxprocs int
	json       bool
	plotDir    string
	progress   bool
}

// run is the runner: it parses args, runs the selected scenarios, and
// writes the table (to stdout, or to stderr with -json), the JSON and the
// charts. It returns the exit code: 0, 1 if a scenario failed, 2 for bad
// flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, code, ok := parse(args, stderr)
	if !ok {
		return code
	}
	if opts.gomaxprocs > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(opts.gomaxprocs))
	}

	table := stdout
	var stream *harness.JSONStream
	if opts.json {
		table, stream = stderr, harness.NewJSONStream(stdout)
	}

	total := 0
	for _, s := range opts.scenarios {
		total += s.CaseCount(opts.cfg)
	}
	var bar *progressbar.ProgressBar
	if opts.progress && isTerminal(stderr) {
		bar = progressbar.NewOptions(total,
			progressbar.OptionSetWriter(stderr),
			progressbar.OptionShowCount(),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionClearOnFinish(),
		)
		opts.cfg.Progress = func(scenario, name string) {
			bar.Describe(fmt.Sprintf("%-14s %-22s", scenario, name))
			_ = bar.Add(1)
		}
	}

	start := time.Now()
	var results []*harness.Result
	var failed error
	for _, s := range opts.scenarios {
		if bar != nil {
			bar.Describe(fmt.Sprintf("%-14s %-22s", s.Name, ""))
		}
		res, err := s.Measure(ctx, opts.cfg)
		if err != nil {
			failed = err
			break
		}
		results = append(results, res)
		if stream != nil {
			if err := stream.Write(res); err != nil {
				failed = err
				break
			}
		}
	}
	if bar != nil {
		_ = bar.Finish()
		_ = bar.Clear()
	}
	if stream != nil {
		if err := stream.Close(); err != nil && failed == nil {
			failed = err
		}
	}
	if len(results) > 0 {
		env := results[0].Environment
		fmt.Fprintf(table, "molt benchmarks: %s, %s/%s, %s, GOMAXPROCS %d, commit %s%s\n\n",
			env.GoVersion, env.GOOS, env.GOARCH, env.CPU, env.GOMAXPROCS, shortCommit(env.Commit), modified(env.Modified))
		if err := harness.WriteTable(table, results...); err != nil && failed == nil {
			failed = err
		}
		fmt.Fprintf(table, "\n%d scenarios in %.1fs\n", len(results), time.Since(start).Seconds())
	}
	if opts.plotDir != "" && len(results) > 0 {
		files, err := harness.Plot(opts.plotDir, results...)
		if err != nil && failed == nil {
			failed = err
		}
		for _, f := range files {
			fmt.Fprintf(table, "wrote %s\n", f)
		}
	}
	if failed != nil {
		fmt.Fprintf(stderr, "benchmarks: %v\n", failed)
		return 1
	}
	return 0
}

// parse reads the flags. It returns the options, or the exit code and
// false when the run should stop here (-list, -h, a bad flag).
func parse(args []string, stderr io.Writer) (options, int, bool) {
	fs := flag.NewFlagSet("benchmarks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o        options
		selected = fs.String("scenario", "all", "comma-separated `names` of the scenarios to run (see -list), or all")
		list     = fs.Bool("list", false, "list the scenarios and exit")
		sizes    = fs.String("sizes", "", "state-size scenario: comma-separated state `sizes` such as 1KB,1MB,64MB (default 1KB…64MB)")
		held     = fs.String("held", "", "held-messages scenario: comma-separated queue `lengths` such as 0,1000,100000 (default 0…100000)")
		groups   = fs.String("groups", "", "group-update scenario: comma-separated group `sizes` such as 2,16,256 (the default)")
		fleets   = fs.String("fleets", "", "fleet-update scenario: comma-separated fleet `sizes` such as 1000,1000000 (default 1000…1000000; up to 100000 with -quick)")
	)
	fs.DurationVar(&o.cfg.Duration, "duration", 0, "how long each case is measured, after its warm-up (default 1s; 200ms with -quick)")
	fs.IntVar(&o.cfg.Count, "count", 0, "measure this many operations per case instead of a duration: updates, group updates, fleet packages, or messages per repetition for throughput")
	fs.DurationVar(&o.cfg.Warmup, "warmup", 0, "unmeasured time before each case, at least one operation (default a tenth of -duration)")
	fs.IntVar(&o.cfg.Repetitions, "reps", 0, "timed runs per case of throughput and idle-memory, which report the median, and rounds of update-latency, which measures its cases and peers in turn (default 5; 3 with -quick)")
	fs.IntVar(&o.cfg.IdleActors, "actors", 0, "idle-memory scenario: actors spawned per run (default 100000; 10000 with -quick)")
	fs.BoolVar(&o.cfg.Quick, "quick", false, "small parameter sets and short cases: every scenario, in well under 2 minutes on 2 cores")
	fs.IntVar(&o.gomaxprocs, "gomaxprocs", 0, "set GOMAXPROCS for the run (default: as the Go runtime sets it)")
	fs.BoolVar(&o.json, "json", false, "print a JSON array on stdout, one object per scenario; the table goes to stderr")
	fs.StringVar(&o.plotDir, "plot", "", "write SVG and PNG charts into this `directory`")
	fs.BoolVar(&o.progress, "progress", true, "show a progress bar when stderr is a terminal")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: go run ./benchmarks [flags]

Runs molt's benchmark scenarios and prints a table; -json prints one JSON
object per scenario, -plot DIR writes charts. See docs/benchmarks.md.

Examples:
  go run ./benchmarks -quick                    every scenario, small (< 2 min)
  go run ./benchmarks -quick -json > run.json
  go run ./benchmarks -scenario update-latency,pause -duration 5s
  go run ./benchmarks -scenario group-update,fleet-update -fleets 1000,100000
  go run ./benchmarks -plot docs/charts

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, 0, false
		}
		return o, 2, false
	}
	usage := func(format string, a ...any) (options, int, bool) {
		fmt.Fprintf(stderr, "benchmarks: "+format+"\n", a...)
		return o, 2, false
	}
	if fs.NArg() > 0 {
		return usage("unexpected arguments %q: every setting is a flag (see -h)", fs.Args())
	}
	if *list {
		for _, s := range harness.Scenarios() {
			fmt.Fprintf(stderr, "%-16s %s\n", s.Name, s.Description)
		}
		return o, 0, false
	}
	switch {
	case o.cfg.Duration < 0, o.cfg.Count < 0, o.cfg.Warmup < 0, o.cfg.Repetitions < 0, o.cfg.IdleActors < 0, o.gomaxprocs < 0:
		return usage("-duration, -count, -warmup, -reps, -actors and -gomaxprocs cannot be negative")
	}
	if *sizes != "" {
		for _, f := range strings.Split(*sizes, ",") {
			n, err := harness.ParseBytes(f)
			if err != nil || n < 1 {
				return usage("-sizes: %q is not a state size such as 1KB or 64MB", f)
			}
			o.cfg.StateSizes = append(o.cfg.StateSizes, n)
		}
	}
	for _, c := range []struct {
		flag, value, what string
		min               int
		into              *[]int
	}{
		{"held", *held, "a queue length such as 0 or 100000", 0, &o.cfg.HeldCounts},
		{"groups", *groups, "a group size such as 2 or 256", 1, &o.cfg.GroupSizes},
		{"fleets", *fleets, "a fleet size such as 1000 or 1000000", 1, &o.cfg.FleetSizes},
	} {
		if c.value == "" {
			continue
		}
		for _, f := range strings.Split(c.value, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < c.min {
				return usage("-%s: %q is not %s", c.flag, f, c.what)
			}
			*c.into = append(*c.into, n)
		}
	}
	if *selected == "all" || *selected == "" {
		o.scenarios = harness.Scenarios()
	} else {
		for _, name := range strings.Split(*selected, ",") {
			s, ok := harness.Lookup(strings.TrimSpace(name))
			if !ok {
				var names []string
				for _, s := range harness.Scenarios() {
					names = append(names, s.Name)
				}
				return usage("no scenario %q; there are: %s", name, strings.Join(names, ", "))
			}
			o.scenarios = append(o.scenarios, s)
		}
	}
	return o, 0, true
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func modified(m bool) string {
	if m {
		return " (modified)"
	}
	return ""
}
