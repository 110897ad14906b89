package bench

import "testing"

// BenchmarkGELU: gamma-scaled GELU forward and backward over 16 Mi elements, in GB/s.
func BenchmarkGELU(b *testing.B) { runFamily(b, "GELU") }

// BenchmarkAxpby and BenchmarkRowSumSquares: the optimizer's and AGC's
// memory-bound building blocks, in GB/s.
func BenchmarkAxpby(b *testing.B) { runFamily(b, "Axpby") }

func BenchmarkRowSumSquares(b *testing.B) { runFamily(b, "RowSumSquares") }
