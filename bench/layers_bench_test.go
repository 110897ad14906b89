package bench

import (
	"fmt"
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/kernels/ref"
)

// Layer kernels in GB/s = (bytes read + written) / GPU time, to compare
// with BenchmarkCopy/64MiB measured in the same run (the target:
// at least half of it). Bytes count each tensor once per pass that
// streams it from memory; rows re-read while cache-resident (WS's second
// and third pass over a 4-6 KiB row) are not counted.

// BenchmarkWS: weight standardization of 3x3 conv weights, forward and
// backward (DeepMind formula; timm's differs by two multiplies).
func BenchmarkWS(b *testing.B) {
	for _, sh := range [][4]int{{256, 128, 3, 3}, {1536, 128, 3, 3}, {1536, 1536, 1, 1}} {
		s := ref.WSShape{O: sh[0], FanIn: sh[1] * sh[2] * sh[3]}
		n := s.O * s.FanIn
		name := fmt.Sprintf("%dx%dx%dx%d", sh[0], sh[1], sh[2], sh[3])
		w, gain, what := buffer(b, "w", n), buffer(b, "gain", s.O), buffer(b, "what", n)
		b.Run(name+"/fwd", func(b *testing.B) {
			p := program(b, "ws", func(p *engine.Program) error {
				return lib.WS(p, s, kernels.WSDeepMind, w.Span(), gain.Span(), what.Span())
			})
			reportGBs(b, float64(4*(2*n+s.O)), gpuTime(b, p))
		})
		b.Run(name+"/bwd", func(b *testing.B) {
			dw, dgain := buffer(b, "dw", n), buffer(b, "dgain", s.O)
			p := program(b, "ws backward", func(p *engine.Program) error {
				return lib.WSBackward(p, s, kernels.WSDeepMind, w.Span(), gain.Span(), what.Span(), dw.Span(), dgain.Span())
			})
			reportGBs(b, float64(4*(3*n+2*s.O)), gpuTime(b, p))
		})
	}
}
