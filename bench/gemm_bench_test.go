package bench

import "testing"

// BenchmarkSGEMM: C = op(A)*op(B) in fp32, GFLOP/s = 2MNK / GPU time.
func BenchmarkSGEMM(b *testing.B) { runFamily(b, "SGEMM") }
