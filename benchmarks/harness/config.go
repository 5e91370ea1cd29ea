package harness

import (
	"context"
	"time"
)

// Config sets how long, or how many times, each case of a scenario is
// measured. The zero value measures each case for one second after a
// warm-up of a tenth of that.
type Config struct {
	// Duration is how long each case is measured, after its warm-up; 1 s
	// if zero (200 ms if Quick). Ignored when Count is set.
	Duration time.Duration
	// Count, if positive, is how many operations each case measures instead
	// of a duration: updates for the update scenarios, group updates for
	// group-update, packages for fleet-update, messages per repetition for
	// throughput. idle-memory ignores it (see IdleActors).
	Count int
	// Warmup is how long each case runs unmeasured first, at least one
	// operation; Duration/10 (at most 1 s) if zero.
	Warmup time.Duration
	// Repetitions is how many timed runs the rate and memory scenarios
	// (throughput, idle-memory) make of each case, interleaving the systems
	// they compare; they report the median. update-latency measures its
	// cases and peers in turn in as many rounds, each of a share of
	// Duration (unless Count is set). 5 if zero (3 if Quick).
	Repetitions int
	// Quick selects each scenario's small parameter set: every built-in
	// scenario together then runs in well under two minutes on two cores.
	Quick bool

	// StateSizes, HeldCounts and IdleActors, if set, replace the
	// state-size, held-messages and idle-memory scenarios' parameter sets;
	// GroupSizes and FleetSizes those of group-update (actors per group)
	// and fleet-update (actors per fleet).
	StateSizes []int
	HeldCounts []int
	IdleActors int
	GroupSizes []int
	FleetSizes []int

	// Progress, if set, is called after each case with its scenario and
	// case name.
	Progress func(scenario, name string)
}

func (c Config) duration() time.Duration {
	switch {
	case c.Duration > 0:
		return c.Duration
	case c.Quick:
		return 200 * time.Millisecond
	}
	return time.Second
}

func (c Config) warmup() time.Duration {
	if c.Warmup > 0 {
		return c.Warmup
	}
	return min(c.duration()/10, time.Second)
}

func (c Config) repetitions() int {
	switch {
	case c.Repetitions > 0:
		return c.Repetitions
	case c.Quick:
		return 3
	}
	return 5
}

// stateSizes returns the state-size scenario's sizes, in bytes.
func (c Config) stateSizes() []int {
	switch {
	case c.StateSizes != nil:
		return c.StateSizes
	case c.Quick:
		return []int{1 << 10, 64 << 10, 1 << 20, 16 << 20, 64 << 20}
	}
	return []int{1 << 10, 16 << 10, 256 << 10, 1 << 20, 4 << 20, 16 << 20, 64 << 20}
}

// heldCounts returns the held-messages scenario's queue lengths.
func (c Config) heldCounts() []int {
	switch {
	case c.HeldCounts != nil:
		return c.HeldCounts
	case c.Quick:
		return []int{0, 100, 10_000, 100_000}
	}
	return []int{0, 10, 100, 1_000, 10_000, 100_000}
}

// idleActors returns how many actors the idle-memory scenario spawns.
func (c Config) idleActors() int {
	switch {
	case c.IdleActors > 0:
		return c.IdleActors
	case c.Quick:
		return 10_000
	}
	return 100_000
}

// groupSizes returns the group-update scenario's group sizes.
func (c Config) groupSizes() []int {
	if c.GroupSizes != nil {
		return c.GroupSizes
	}
	return []int{2, 16, 256}
}

// fleetSizes returns the fleet-update scenario's fleet sizes.
func (c Config) fleetSizes() []int {
	switch {
	case c.FleetSizes != nil:
		return c.FleetSizes
	case c.Quick:
		return []int{1_000, 10_000, 100_000}
	}
	return []int{1_000, 10_000, 100_000, 1_000_000}
}

func (c Config) progress(scenario, name string) {
	if c.Progress != nil {
		c.Progress(scenario, name)
	}
}

// params returns the settings every scenario reports.
func (c Config) params() Params {
	p := Params{"quick": c.Quick, "warmup_ns": int64(c.warmup()), "repetitions": c.repetitions()}
	if c.Count > 0 {
		p["count"] = c.Count
	} else {
		p["duration_ns"] = int64(c.duration())
	}
	return p
}

// warm runs op, unmeasured, until the warm-up time has passed, at least
// once.
func (c Config) warm(ctx context.Context, op func() error) error {
	end := time.Now().Add(c.warmup())
	for {
		if err := op(); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !time.Now().Before(end) {
			return nil
		}
	}
}

// measure runs op for the case's budget: Count times if set, otherwise
// until Duration has passed and op ran at least minOps times. It returns
// how many times op ran and the wall-clock time that took.
func (c Config) measure(ctx context.Context, minOps int, op func() error) (int, time.Duration, error) {
	start := time.Now()
	if c.Count > 0 {
		for i := range c.Count {
			if err := op(); err != nil {
				return i, time.Since(start), err
			}
			if err := ctx.Err(); err != nil {
				return i + 1, time.Since(start), err
			}
		}
		return c.Count, time.Since(start), nil
	}
	end := start.Add(c.duration())
	for n := 1; ; n++ {
		if err := op(); err != nil {
			return n - 1, time.Since(start), err
		}
		if err := ctx.Err(); err != nil {
			return n, time.Since(start), err
		}
		if n >= minOps && !time.Now().Before(end) {
			return n, time.Since(start), nil
		}
	}
}
