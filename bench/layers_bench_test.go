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

// BenchmarkResidual: out = shortcut + alpha*skip_gain*mask*h on a
// 32x256x24x24 activation, and its backward (dh and the dskip_gain sum;
// dshortcut aliases dout, as a training step uses it).
func BenchmarkResidual(b *testing.B) {
	s := ref.NCHWShape{N: 32, C: 256, H: 24, W: 24}
	n := s.Len()
	sc, h, out := buffer(b, "shortcut", n), buffer(b, "h", n), buffer(b, "out", n)
	skip, mask := buffer(b, "skip", 1), buffer(b, "mask", s.N)
	b.Run("fwd", func(b *testing.B) {
		p := program(b, "residual", func(p *engine.Program) error {
			return lib.Residual(p, s, ref.ResidualAlpha, sc.Span(), h.Span(), skip.Span(), mask.Span(), out.Span())
		})
		reportGBs(b, float64(4*3*n), gpuTime(b, p))
	})
	b.Run("bwd", func(b *testing.B) {
		dskip, scratch := buffer(b, "dskip", 1), buffer(b, "scratch", lib.ResidualScratch(s))
		p := program(b, "residual backward", func(p *engine.Program) error {
			return lib.ResidualBackward(p, s, ref.ResidualAlpha, h.Span(), skip.Span(), mask.Span(), out.Span(), engine.Span{}, sc.Span(), dskip.Span(), scratch.Span())
		})
		reportGBs(b, float64(4*3*n), gpuTime(b, p))
	})
}

// BenchmarkDropout: inverted dropout (Philox per 4 elements) of the head's
// 256x3072 features, the size DeepMind's F0 drops at batch 256.
func BenchmarkDropout(b *testing.B) {
	n := 256 * 3072
	x, y, seed := buffer(b, "x", n), buffer(b, "y", n), buffer(b, "seed", 2)
	p := program(b, "dropout", func(p *engine.Program) error { return lib.Dropout(p, seed.Span(), 1, 0.2, x.Span(), y.Span()) })
	reportGBs(b, float64(4*2*n), gpuTime(b, p))
}

// BenchmarkAvgPool: NFNet's transition pool (2x2, stride 2, SAME) of a
// 32x256x48x48 activation, forward and backward, and the global mean of
// a 32x1536x12x12 one (the SE squeeze / head pool size class).
func BenchmarkAvgPool(b *testing.B) {
	s := ref.AvgPoolSameShape(32, 256, 48, 48, 2, 2)
	x, y := buffer(b, "x", s.XLen()), buffer(b, "y", s.YLen())
	bytes := float64(4 * (s.XLen() + s.YLen()))
	b.Run("2x2/fwd", func(b *testing.B) {
		p := program(b, "avgpool", func(p *engine.Program) error { return lib.AvgPool2D(p, s, x.Span(), y.Span()) })
		reportGBs(b, bytes, gpuTime(b, p))
	})
	b.Run("2x2/bwd", func(b *testing.B) {
		p := program(b, "avgpool backward", func(p *engine.Program) error { return lib.AvgPool2DBackward(p, s, y.Span(), x.Span()) })
		reportGBs(b, bytes, gpuTime(b, p))
	})
	g := ref.NCHWShape{N: 32, C: 1536, H: 12, W: 12}
	gx, gy := buffer(b, "gx", g.Len()), buffer(b, "gy", g.N*g.C)
	gbytes := float64(4 * (g.Len() + g.N*g.C))
	b.Run("global/fwd", func(b *testing.B) {
		p := program(b, "global avgpool", func(p *engine.Program) error { return lib.GlobalAvgPool(p, g, gx.Span(), gy.Span()) })
		reportGBs(b, gbytes, gpuTime(b, p))
	})
	b.Run("global/bwd", func(b *testing.B) {
		p := program(b, "global avgpool backward", func(p *engine.Program) error { return lib.GlobalAvgPoolBackward(p, g, gy.Span(), gx.Span()) })
		reportGBs(b, gbytes, gpuTime(b, p))
	})
}

// BenchmarkSoftmaxCE: loss, top-1 count and d logits of 256 samples of
// 1000 classes with label smoothing 0.1, in one pass (plus the summing
// dispatch): logits read once, d logits written once.
func BenchmarkSoftmaxCE(b *testing.B) {
	s := ref.LossShape{N: 256, K: 1000}
	logits, dl := buffer(b, "logits", s.N*s.K), buffer(b, "dlogits", s.N*s.K)
	labels := buffer(b, "labels", s.N)
	lab := make([]int32, s.N)
	for i := range lab {
		lab[i] = int32(i * 7 % s.K)
	}
	if err := engine.Upload(labels, lab); err != nil {
		b.Fatal(err)
	}
	loss, correct, scratch := buffer(b, "loss", 1), buffer(b, "correct", 1), buffer(b, "scratch", kernels.CEScratch(s))
	p := program(b, "softmax ce", func(p *engine.Program) error {
		return lib.SoftmaxCrossEntropy(p, s, kernels.CE{Logits: logits.Span(), Labels: labels.Span(), Smoothing: 0.1,
			Loss: loss.Span(), Correct: correct.Span(), DLogits: dl.Span(), DLoss: 1, Scratch: scratch.Span()})
	})
	reportGBs(b, float64(4*(2*s.N*s.K+s.N)), gpuTime(b, p))
}
