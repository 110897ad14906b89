// Package bench holds nfvk's microbenchmarks, run with
//
//	make bench        # or: go test -run '^$' -bench . ./bench/
//
// Every figure is timed with GPU timestamps (the median of at least 5
// runs after a warm-up), reported with b.ReportMetric so benchstat can
// compare runs: GFLOP/s = 2*MACs / GPU time for compute kernels, GB/s =
// (bytes read + written) / GPU time for memory-bound ones. The device
// and driver are printed once. `make bench` turns the output into
// RESULTS.md with each kernel's fraction of the device's ceilings:
// BenchmarkPeakFMA (register-only FMAs, like vkpeak) for compute and
// BenchmarkCopy (a large buffer copy) for bandwidth.
package bench
