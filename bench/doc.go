// Package bench holds nfvk's microbenchmarks as a registry of cases
// (Cases): kernels at fixed shapes, the references PeakFMA and Copy,
// dispatch and submit costs, and training steps of named models. The Go
// benchmarks in this package's tests run them,
//
//	make bench        # or: go test -run '^$' -bench . ./bench/
//
// and so does `nfvk bench` from the installed binary, on any device,
// with the same figures.
// Every figure is timed with GPU timestamps (the median of at least 5
// runs after a warm-up under go test), reported with b.ReportMetric so
// benchstat can compare runs: GFLOP/s = 2*MACs / GPU time for compute
// kernels, GB/s = (bytes read + written) / GPU time for memory-bound
// ones. The device and driver are printed once. `make bench` turns the
// output into RESULTS.md with each kernel's figure as a fraction of a
// named reference: PeakFMA (register-only FMAs, like vkpeak), the
// compute ceiling, and Copy (a large buffer copy, bytes read plus
// written), the bandwidth reference, which kernels with other mixes of
// reads and writes can exceed.
//
// A case is a Case in the registry (Cases); the Go benchmark of a family
// (BenchmarkSGEMM for SGEMM/...) runs its cases as sub-benchmarks and
// reports the same metric names, which bench/report parses.
package bench
