//go:build !unix

package benchmarks_test

import "time"

// processCPU is not available here: no CPU time is reported.
func processCPU() (time.Duration, bool) { return 0, false }
