package main

import (
	"strings"
	"testing"
	"time"
)

func TestReport(t *testing.T) {
	in := `device: llvmpipe (LLVM 15.0.6, 256 bits) (cpu, Mesa)
driver: llvmpipe Mesa 22.3.6 (LLVM 15.0.6)
vulkan: 1.3.230
cpu: AMD EPYC
BenchmarkPeakFMA-2    	      57	  20494299 ns/op	        50.00 GFLOP/s	     20190 gpu_us
BenchmarkCopy/64MiB-2 	      18	  99241892 ns/op	         4.000 GB/s	     78696 gpu_us
BenchmarkSGEMM/1024x1024x1024-2 5 1 ns/op 25.00 GFLOP/s 85899 gpu_us
BenchmarkGELU/tanh/fwd-2 5 1 ns/op 3.000 GB/s 100 gpu_us
BenchmarkDispatch/empty-2         	      55	  19942704 ns/op	        38.89 us/dispatch
`
	var out strings.Builder
	if err := run(strings.NewReader(in), &out, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Device: llvmpipe (LLVM 15.0.6, 256 bits) (cpu, Mesa)",
		"Driver: llvmpipe Mesa 22.3.6",
		"| SGEMM/1024x1024x1024 | 25.0 GFLOP/s | 50.0% of PeakFMA | 85899 |",
		"| GELU/tanh/fwd | 3.00 GB/s | 75% of Copy | 100 |",
		"| Dispatch/empty | 38.9 us/dispatch |",
		"2026-11-27",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if err := run(strings.NewReader("nothing"), &out, time.Now()); err == nil {
		t.Error("empty input accepted")
	}
}
