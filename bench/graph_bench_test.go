package bench

import "testing"

// BenchmarkMemoryPlan: how much the memory plan of NFNet-F0's training
// step saves (see graphCases).
func BenchmarkMemoryPlan(b *testing.B) { runFamily(b, "MemoryPlan") }

// BenchmarkReplayHost: what a replayed F0 training step costs the host.
func BenchmarkReplayHost(b *testing.B) { runFamily(b, "ReplayHost") }

// BenchmarkGraphFusion: the passes the graph fuses away, separate and
// fused, in GPU µs (see fusionCases).
func BenchmarkGraphFusion(b *testing.B) { runFamily(b, "GraphFusion") }

// BenchmarkLinearLowering: a linear layer's passes on the 1x1-conv
// kernels and on GEMM (see loweringCases).
func BenchmarkLinearLowering(b *testing.B) { runFamily(b, "LinearLowering") }
