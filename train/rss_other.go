//go:build !unix

package train

// peakRSSMiB is 0 where getrusage does not exist (Windows): the metrics
// then leave the host peak at 0.
func peakRSSMiB() float64 { return 0 }
