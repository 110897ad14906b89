package bench

import (
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/kernels/ref"
)

// convCases are issue 3's benchmark shapes, batch 32.
var convCases = []struct {
	name string
	s    kernels.Conv2DShape
}{
	{"a", kernels.Conv2DShape{N: 32, C: 128, H: 16, W: 16, O: 128, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, Groups: 8}},
	{"b", kernels.Conv2DShape{N: 32, C: 64, H: 32, W: 32, O: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, Groups: 1}},
	{"c", kernels.Conv2DShape{N: 32, C: 256, H: 8, W: 8, O: 128, KH: 1, KW: 1, StrideH: 1, StrideW: 1, Groups: 1}},
	{"d", ref.SameConv2DShape(32, 256, 8, 8, 256, 3, 2, 16)},
	{"e", ref.SameConv2DShape(32, 3, 64, 64, 16, 3, 2, 1)},
}

// BenchmarkConv2D reports GFLOP/s = 2*MACs / GPU time for every pass of
// every case (each pass does the forward's MAC count). On a CPU device
// it also reports cpu_GFLOP/s = 2*MACs / (process CPU time per run /
// cores): what an idle machine would give, since on a shared one the
// GPU (wall) time grows with the other load and the CPU time does not.
func BenchmarkConv2D(b *testing.B) {
	for _, c := range convCases {
		s := c.s
		b.Run(c.name, func(b *testing.B) {
			x, w, y := buffer(b, "x", s.XLen()), buffer(b, "w", s.WLen()), buffer(b, "y", s.YLen())
			bias := buffer(b, "bias", s.O)
			passes := []struct {
				name  string
				build func(p *engine.Program) error
			}{
				{"fwd", func(p *engine.Program) error { return lib.Conv2D(p, s, x.Span(), w.Span(), bias.Span(), y.Span()) }},
				{"bwd_data", func(p *engine.Program) error { return lib.Conv2DBackwardData(p, s, y.Span(), w.Span(), x.Span()) }},
				{"bwd_filter", func(p *engine.Program) error { return lib.Conv2DBackwardFilter(p, s, x.Span(), y.Span(), w.Span()) }},
			}
			for _, ps := range passes {
				b.Run(ps.name, func(b *testing.B) {
					p := program(b, "conv2d "+c.name+" "+ps.name, ps.build)
					c0 := cpuTime()
					t := gpuTime(b, p)
					runs := 2 + max(b.N, 5) // gpuTime's warm-ups and timed runs
					flops := 2 * float64(s.MACs())
					reportGFLOPs(b, flops, t)
					if dev.Info().IsCPU() {
						perRun := (cpuTime() - c0).Seconds() / float64(runs)
						b.ReportMetric(flops/(perRun/float64(runtime.NumCPU()))/1e9, "cpu_GFLOP/s")
					}
				})
			}
		})
	}
}

// cpuTime is the CPU time this process (lavapipe's threads included) has
// used so far.
func cpuTime() time.Duration {
	var r syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &r); err != nil {
		return 0
	}
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}
