// Package bench holds nfvk's microbenchmarks, run with
//
//	make bench        # or: go test -run '^$' -bench . ./bench/
//
// Every figure is timed with GPU timestamps (the median of at least 5
// runs after a warm-up), reported with b.ReportMetric so benchstat can
// compare runs: GFLOP/s = 2*MACs / GPU time for compute kernels, GB/s =
// (bytes read + written) / GPU time for memory-bound ones. The device
// and driver are printed once. `make bench` turns the output into
// RESULTS.md with each kernel's figure as a fraction of a named
// reference: BenchmarkPeakFMA (register-only FMAs, like vkpeak), the
// compute ceiling, and BenchmarkCopy (a large buffer copy, bytes read plus
// written), the bandwidth reference, which kernels with other mixes of
// reads and writes can exceed.
package bench
