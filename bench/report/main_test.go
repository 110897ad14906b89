package main

import (
	"strings"
	"testing"
	"time"
)

const header = `device: llvmpipe (LLVM 15.0.6, 256 bits) (cpu, Mesa)
driver: llvmpipe Mesa 22.3.6 (LLVM 15.0.6)
vulkan: 1.3.230
cpu: AMD EPYC
BenchmarkPeakFMA-2    	      57	  20494299 ns/op	        50.00 GFLOP/s	     20190 gpu_us
BenchmarkCopy/64MiB-2 	      18	  99241892 ns/op	         4.000 GB/s	     78696 gpu_us
`

func TestReport(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     []string
		dontWant []string
	}{
		{
			name: "within the references",
			in: header + `BenchmarkSGEMM/1024x1024x1024-2 5 1 ns/op 25.00 GFLOP/s 85899 gpu_us
BenchmarkGELU/tanh/fwd-2 5 1 ns/op 3.000 GB/s 100 gpu_us
BenchmarkDispatch/empty-2         	      55	  19942704 ns/op	        38.89 us/dispatch
`,
			want: []string{
				"Device: llvmpipe (LLVM 15.0.6, 256 bits) (cpu, Mesa)",
				"Driver: llvmpipe Mesa 22.3.6",
				"2026-11-27",
				"| benchmark | figure | vs. reference | GPU µs |",
				"- GFLOP/s: of PeakFMA (50.0 GFLOP/s), register-only FMAs, the device's compute ceiling.",
				"- GB/s: of Copy/64MiB (4.00 GB/s), a 64 MiB buffer-to-buffer copy.",
				"so Copy's counts 2 bytes moved per byte copied (2.00 GB/s copied)",
				"It is a reference, not a ceiling",
				"| SGEMM/1024x1024x1024 | 25.0 GFLOP/s | 50.0% of PeakFMA | 85899 |",
				"| GELU/tanh/fwd | 3.00 GB/s | 75% of Copy | 100 |",
				"| Dispatch/empty | 38.9 us/dispatch |",
				"| PeakFMA | 50.0 GFLOP/s | 100.0% of PeakFMA | 20190 |",
				"| Copy/64MiB | 4.00 GB/s | 100% of Copy | 78696 |",
			},
			// The references themselves are at 100%, not above.
			dontWant: []string{"fraction", "Above the reference", "- PeakFMA (", "- Copy/64MiB ("},
		},
		{
			name: "above Copy, explained",
			in: header + `BenchmarkAxpby-2 5 1 ns/op 4.680 GB/s 18961 gpu_us
BenchmarkAvgPool/global/bwd-2 5 1 ns/op 5.400 GB/s 2333 gpu_us
BenchmarkAvgPool/global/fwd-2 5 1 ns/op 3.900 GB/s 4002 gpu_us
`,
			want: []string{
				"| Axpby | 4.68 GB/s | 117% of Copy | 18961 |",
				"| AvgPool/global/bwd | 5.40 GB/s | 135% of Copy | 2333 |",
				"Above the reference:\n\n- Axpby (117% of Copy): y = a·x + b·y reads two vectors and writes one, counted as 3 streams",
				"- AvgPool/global/bwd (135% of Copy): the global mean's backward writes N·C·H·W values from N·C reads",
			},
			dontWant: []string{"- AvgPool/global/fwd (", "not explained"},
		},
		{
			name: "above a reference, unexplained",
			in: header + `BenchmarkResidual/fwd-2 5 1 ns/op 4.400 GB/s 100 gpu_us
BenchmarkSGEMM/1024x1024x1024-2 5 1 ns/op 51.00 GFLOP/s 85899 gpu_us
`,
			want: []string{
				"- Residual/fwd (110% of Copy): not explained: check how the benchmark counts",
				"- SGEMM/1024x1024x1024 (102.0% of PeakFMA): not explained",
			},
		},
		{
			name: "no references",
			in:   "BenchmarkGELU/tanh/fwd-2 5 1 ns/op 3.000 GB/s 100 gpu_us\n",
			want: []string{
				"of PeakFMA (n/a GFLOP/s)",
				"of Copy/64MiB (n/a GB/s)",
				"(n/a GB/s copied)",
				"| GELU/tanh/fwd | 3.00 GB/s |  | 100 |",
			},
			dontWant: []string{"Above the reference"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			if err := run(strings.NewReader(tc.in), &out, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)); err != nil {
				t.Fatal(err)
			}
			for _, want := range tc.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, out.String())
				}
			}
			for _, bad := range tc.dontWant {
				if strings.Contains(out.String(), bad) {
					t.Errorf("report has %q:\n%s", bad, out.String())
				}
			}
		})
	}
}

func TestReportRejectsEmpty(t *testing.T) {
	var out strings.Builder
	if err := run(strings.NewReader("nothing"), &out, time.Now()); err == nil {
		t.Error("empty input accepted")
	}
}
