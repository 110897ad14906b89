//go:build !unix

package bench

import "time"

// cpuTime is not measured off Unix (no getrusage): Conv2D then reports
// no cpu_GFLOP/s.
func cpuTime() (time.Duration, bool) { return 0, false }
