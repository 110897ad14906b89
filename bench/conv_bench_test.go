package bench

import "testing"

// BenchmarkConv2D: GFLOP/s of every pass of every shape (and cpu_GFLOP/s on a CPU device); see convCases.
func BenchmarkConv2D(b *testing.B) { runFamily(b, "Conv2D") }
