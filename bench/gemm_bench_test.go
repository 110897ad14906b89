package bench

import (
	"fmt"
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels"
)

// BenchmarkSGEMM: C = op(A)*op(B) in fp32, GFLOP/s = 2MNK / GPU time.
// 1024^3 is the reference size; 1000^3 is not a multiple of any
// tile; the transposed case is the linear layer's weight gradient.
func BenchmarkSGEMM(b *testing.B) {
	for _, c := range []struct {
		m, n, k    int
		transA, tB bool
		suffix     string
	}{
		{m: 1024, n: 1024, k: 1024},
		{m: 1000, n: 1000, k: 1000},
		{m: 256, n: 4096, k: 256},
		{m: 1024, n: 1024, k: 1024, transA: true, suffix: "/TA"},
		{m: 1024, n: 1024, k: 1024, tB: true, suffix: "/TB"},
	} {
		b.Run(fmt.Sprintf("%dx%dx%d%s", c.m, c.n, c.k, c.suffix), func(b *testing.B) {
			a, bb, out := buffer(b, "a", c.m*c.k), buffer(b, "b", c.k*c.n), buffer(b, "c", c.m*c.n)
			s := kernels.GEMMShape{M: c.m, N: c.n, K: c.k, TransA: c.transA, TransB: c.tB}
			p := program(b, "sgemm", func(p *engine.Program) error {
				return lib.GEMM(p, s, 1, a.Span(), bb.Span(), 0, out.Span())
			})
			reportGFLOPs(b, 2*float64(c.m)*float64(c.n)*float64(c.k), gpuTime(b, p))
		})
	}
}
