package bench

import (
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/kernels/ref"
)

// BenchmarkGELU: gamma-scaled GELU forward (read x, write y) and backward
// (read x, dy, write dx) over 16 Mi elements, in GB/s.
func BenchmarkGELU(b *testing.B) {
	const n = 16 << 20
	x, dy, y := buffer(b, "x", n), buffer(b, "dy", n), buffer(b, "y", n)
	for _, act := range []struct {
		name string
		a    kernels.Act
	}{{"tanh", ref.ActGELUTanh}, {"erf", ref.ActGELUErf}} {
		b.Run(act.name+"/fwd", func(b *testing.B) {
			p := program(b, "gelu", func(p *engine.Program) error {
				return lib.Activation(p, act.a, kernels.GammaGELU, x.Span(), y.Span())
			})
			reportGBs(b, 2*4*n, gpuTime(b, p))
		})
		b.Run(act.name+"/bwd", func(b *testing.B) {
			p := program(b, "gelu_bwd", func(p *engine.Program) error {
				return lib.ActivationBackward(p, act.a, kernels.GammaGELU, x.Span(), dy.Span(), y.Span())
			})
			reportGBs(b, 3*4*n, gpuTime(b, p))
		})
	}
}

// BenchmarkAxpby and BenchmarkRowSumSquares: the optimizer's and AGC's
// memory-bound building blocks, in GB/s.
func BenchmarkAxpby(b *testing.B) {
	const n = 16 << 20
	x, y := buffer(b, "x", n), buffer(b, "y", n)
	p := program(b, "axpby", func(p *engine.Program) error { return lib.Axpby(p, 0.5, x.Span(), 0.9, y.Span()) })
	reportGBs(b, 3*4*n, gpuTime(b, p))
}

func BenchmarkRowSumSquares(b *testing.B) {
	const rows, cols = 1536, 1536 * 9 / 8 // a grouped 3x3 conv's output units
	x, out := buffer(b, "x", rows*cols), buffer(b, "out", rows)
	p := program(b, "sumsq", func(p *engine.Program) error {
		return lib.ReduceRows(p, kernels.ReduceSumSquares, x.Span(), rows, cols, out.Span())
	})
	reportGBs(b, 4*float64(rows*cols+rows), gpuTime(b, p))
}
