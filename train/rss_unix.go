//go:build unix

package train

import "syscall"

// peakRSSMiB is the process's peak resident set (getrusage), or 0 where
// unavailable.
func peakRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	if rssInBytes {
		return float64(ru.Maxrss) / (1 << 20)
	}
	return float64(ru.Maxrss) / 1024 // KiB
}
