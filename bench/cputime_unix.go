//go:build unix

package bench

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process (a CPU driver's threads included)
// has used so far.
func cpuTime() (time.Duration, bool) {
	var r syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &r); err != nil {
		return 0, false
	}
	return time.Duration(r.Utime.Nano() + r.Stime.Nano()), true
}
