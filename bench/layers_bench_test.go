package bench

import "testing"

// Layer kernels in GB/s, to compare with BenchmarkCopy/64MiB of the same
// run; the cases and their byte counts are in layer_cases.go.
func BenchmarkWS(b *testing.B) { runFamily(b, "WS") }

func BenchmarkResidual(b *testing.B) { runFamily(b, "Residual") }

func BenchmarkDropout(b *testing.B) { runFamily(b, "Dropout") }

func BenchmarkAvgPool(b *testing.B) { runFamily(b, "AvgPool") }

func BenchmarkSoftmaxCE(b *testing.B) { runFamily(b, "SoftmaxCE") }
