package bench

import (
	"context"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/kernels/ref"
)

// Layer kernels in GB/s = (bytes read + written) / GPU time, to compare
// with Copy/64MiB measured in the same run (the target: at least half of
// it). Bytes count each tensor once per pass that streams it from memory;
// rows re-read while cache-resident (WS's second and third pass over a
// 4-6 KiB row) are not counted.

// bandwidth is a case that builds one profiled program over buffers it
// allocates with s and reports GB/s of the bytes it returns.
func bandwidth(name string, small bool, build func(s *scope, env *Env) (func(p *engine.Program) error, float64)) Case {
	return Case{Name: name, Small: small, Run: func(ctx context.Context, env *Env) (Result, error) {
		s := newScope(env)
		defer s.close()
		b, bytes := build(s, env)
		t, err := s.gpuTime(ctx, s.profiled(name, b))
		return gbs(bytes, t, err)
	}}
}

func layerCases() []Case {
	// Residual: out = shortcut + alpha*skip_gain*mask*h on a 32x256x24x24
	// activation, and its backward (dh and the dskip_gain sum; dshortcut
	// aliases dout, as a training step uses it).
	rs := ref.NCHWShape{N: 32, C: 256, H: 24, W: 24}
	rn := rs.Len()
	// AvgPool: NFNet's transition pool (2x2, stride 2, SAME) of a
	// 32x256x48x48 activation, and the global mean of a 32x1536x12x12 one
	// (the SE squeeze / head pool size class).
	ps := ref.AvgPoolSameShape(32, 256, 48, 48, 2, 2)
	pbytes := float64(4 * (ps.XLen() + ps.YLen()))
	g := ref.NCHWShape{N: 32, C: 1536, H: 12, W: 12}
	gbytes := float64(4 * (g.Len() + g.N*g.C))
	return []Case{
		bandwidth("Residual/fwd", false, func(s *scope, env *Env) (func(p *engine.Program) error, float64) {
			sc, h, out := s.buffer("shortcut", rn), s.buffer("h", rn), s.buffer("out", rn)
			skip, mask := s.buffer("skip", 1), s.buffer("mask", rs.N)
			return func(p *engine.Program) error {
				return env.Lib.Residual(p, rs, ref.ResidualAlpha, sc, h, skip, mask, out)
			}, float64(4 * 3 * rn)
		}),
		bandwidth("Residual/bwd", false, func(s *scope, env *Env) (func(p *engine.Program) error, float64) {
			sc, h, out := s.buffer("shortcut", rn), s.buffer("h", rn), s.buffer("out", rn)
			skip, mask := s.buffer("skip", 1), s.buffer("mask", rs.N)
			dskip, scratch := s.buffer("dskip", 1), s.buffer("scratch", env.Lib.ResidualScratch(rs))
			return func(p *engine.Program) error {
				return env.Lib.ResidualBackward(p, rs, ref.ResidualAlpha, h, skip, mask, out, engine.Span{}, sc, dskip, scratch)
			}, float64(4 * 3 * rn)
		}),
		// Dropout: inverted dropout (Philox per 4 elements) of the head's
		// 256x3072 features, the size DeepMind's F0 drops at batch 256.
		bandwidth("Dropout", true, func(s *scope, env *Env) (func(p *engine.Program) error, float64) {
			n := 256 * 3072
			x, y, seed := s.buffer("x", n), s.buffer("y", n), s.buffer("seed", 2)
			return func(p *engine.Program) error { return env.Lib.Dropout(p, seed, 1, 0.2, x, y) }, float64(4 * 2 * n)
		}),
		bandwidth("AvgPool/2x2/fwd", false, func(s *scope, env *Env) (func(p *engine.Program) error, float64) {
			x, y := s.buffer("x", ps.XLen()), s.buffer("y", ps.YLen())
			return func(p *engine.Program) error { return env.Lib.AvgPool2D(p, ps, x, y) }, pbytes
		}),
		bandwidth("AvgPool/2x2/bwd", false, func(s *scope, env *Env) (func(p *engine.Program) error, float64) {
			x, y := s.buffer("x", ps.XLen()), s.buffer("y", ps.YLen())
			return func(p *engine.Program) error { return env.Lib.AvgPool2DBackward(p, ps, y, x) }, pbytes
		}),
		bandwidth("AvgPool/global/fwd", true, func(s *scope, env *Env) (func(p *engine.Program) error, float64) {
			x, y := s.buffer("gx", g.Len()), s.buffer("gy", g.N*g.C)
			return func(p *engine.Program) error { return env.Lib.GlobalAvgPool(p, g, x, y) }, gbytes
		}),
		bandwidth("AvgPool/global/bwd", true, func(s *scope, env *Env) (func(p *engine.Program) error, float64) {
			x, y := s.buffer("gx", g.Len()), s.buffer("gy", g.N*g.C)
			return func(p *engine.Program) error { return env.Lib.GlobalAvgPoolBackward(p, g, y, x) }, gbytes
		}),
		bandwidth("SoftmaxCE", true, softmaxCE),
	}
}

// softmaxCE: loss, top-1 count and d logits of 256 samples of 1000
// classes with label smoothing 0.1, in one pass (plus the summing
// dispatch): logits read once, d logits written once.
func softmaxCE(s *scope, env *Env) (func(p *engine.Program) error, float64) {
	ls := ref.LossShape{N: 256, K: 1000}
	logits, dl := s.buffer("logits", ls.N*ls.K), s.buffer("dlogits", ls.N*ls.K)
	labels := s.buffer("labels", ls.N)
	lab := make([]int32, ls.N)
	for i := range lab {
		lab[i] = int32(i * 7 % ls.K)
	}
	if s.err == nil {
		if err := engine.Upload(labels.Buf, lab); err != nil {
			s.fail(err)
		}
	}
	loss, correct, scratch := s.buffer("loss", 1), s.buffer("correct", 1), s.buffer("scratch", kernels.CEScratch(ls))
	return func(p *engine.Program) error {
		return env.Lib.SoftmaxCrossEntropy(p, ls, kernels.CE{Logits: logits, Labels: labels, Smoothing: 0.1,
			Loss: loss, Correct: correct, DLogits: dl, DLoss: 1, Scratch: scratch})
	}, float64(4 * (2*ls.N*ls.K + ls.N))
}
