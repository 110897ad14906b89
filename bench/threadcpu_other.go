//go:build !linux

package bench

import "time"

// threadCPU is measured on Linux only (RUSAGE_THREAD): elsewhere
// ReplayHost reports no CPU times.
func threadCPU() (time.Duration, bool) { return 0, false }
