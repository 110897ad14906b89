package bench

import "testing"

// BenchmarkPeakFMA is the compute reference; BenchmarkCopy the bandwidth
// reference (not a ceiling); BenchmarkDispatch the fixed costs.
func BenchmarkPeakFMA(b *testing.B) { runFamily(b, "PeakFMA") }

func BenchmarkCopy(b *testing.B) { runFamily(b, "Copy") }

func BenchmarkDispatch(b *testing.B) { runFamily(b, "Dispatch") }
