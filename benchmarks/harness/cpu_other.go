//go:build !unix

package harness

import "time"

// ProcessCPU is not available on this system: it reports no CPU time.
func ProcessCPU() (time.Duration, bool) { return 0, false }
