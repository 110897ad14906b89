package bench

import "testing"

// BenchmarkOptimizerStep and BenchmarkOptimizerSmallTensors: the fused
// AGC + SGD step of a large tensor, and of many small ones dispatched
// one by one or batched.
func BenchmarkOptimizerStep(b *testing.B) { runFamily(b, "OptimizerStep") }

func BenchmarkOptimizerSmallTensors(b *testing.B) { runFamily(b, "OptimizerSmallTensors") }
