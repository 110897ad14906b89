package bench

import (
	"context"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// fusionCases time the passes the graph fuses away, on an F0 stage-1
// activation at 64 px, batch 8 ([8, 256, 16, 16]): the block input
// act(x)*beta as an activation then a scale, or one activation with
// gamma*beta; a gradient accumulation a+b as a copy then an axpby, or one
// in-place axpby. Figures are GPU µs.
func fusionCases() []Case {
	const n = 8 * 256 * 16 * 16
	const gamma, beta = ref.GammaGELU, 0.98
	type build func(env *Env, p *engine.Program, x, y, z engine.Span) error
	var cs []Case
	for _, c := range []struct {
		name  string
		build build
	}{
		{"act-scale/separate", func(env *Env, p *engine.Program, x, y, _ engine.Span) error {
			if err := env.Lib.Activation(p, ref.ActGELUTanh, gamma, x, y); err != nil {
				return err
			}
			return env.Lib.Scale(p, beta, y, y)
		}},
		{"act-scale/fused", func(env *Env, p *engine.Program, x, y, _ engine.Span) error {
			return env.Lib.Activation(p, ref.ActGELUTanh, gamma*beta, x, y)
		}},
		{"grad-accumulate/copy-axpby", func(env *Env, p *engine.Program, x, y, z engine.Span) error {
			if err := env.Lib.Copy(p, z, x); err != nil {
				return err
			}
			return env.Lib.Axpby(p, 1, y, 1, z)
		}},
		{"grad-accumulate/in-place", func(env *Env, p *engine.Program, x, y, _ engine.Span) error {
			return env.Lib.Axpby(p, 1, y, 1, x)
		}},
	} {
		cs = append(cs, Case{Name: "GraphFusion/" + c.name, Small: true, Run: func(ctx context.Context, env *Env) (Result, error) {
			s := newScope(env)
			defer s.close()
			x, y, z := s.buffer("x", n), s.buffer("y", n), s.buffer("z", n)
			p := s.profiled(c.name, func(p *engine.Program) error { return c.build(env, p, x, y, z) })
			return gpuUS(s.gpuTime(ctx, p))
		}})
	}
	return cs
}

// loweringCases time the three passes of a linear layer (forward without
// bias, backward data, backward weight) on the 1x1-conv kernels and on
// GEMM, for NFNet-F0's linears at batch 8: the head (3072 -> 1000) and
// the widest SE (1536 -> 768). graph lowers each pass to the faster.
func loweringCases() []Case {
	type build func(env *Env, p *engine.Program, x, w, y engine.Span) error
	var cs []Case
	for _, sh := range []struct {
		name       string
		n, in, out int
	}{{"head", 8, 3072, 1000}, {"se1536", 8, 1536, 768}} {
		conv := ref.Conv2DShape{N: sh.n, C: sh.in, H: 1, W: 1, O: sh.out, KH: 1, KW: 1, StrideH: 1, StrideW: 1, Groups: 1}
		for _, c := range []struct {
			name  string
			build build
		}{
			{"forward/conv1x1", func(env *Env, p *engine.Program, x, w, y engine.Span) error {
				return env.Lib.Conv2D(p, conv, x, w, engine.Span{}, y)
			}},
			{"forward/gemm", func(env *Env, p *engine.Program, x, w, y engine.Span) error {
				return env.Lib.GEMM(p, ref.GEMMShape{M: sh.n, N: sh.out, K: sh.in, TransB: true}, 1, x, w, 0, y)
			}},
			{"data/conv1x1", func(env *Env, p *engine.Program, x, w, y engine.Span) error {
				return env.Lib.Conv2DBackwardData(p, conv, y, w, x)
			}},
			{"data/gemm", func(env *Env, p *engine.Program, x, w, y engine.Span) error {
				return env.Lib.GEMM(p, ref.GEMMShape{M: sh.n, N: sh.in, K: sh.out}, 1, y, w, 0, x)
			}},
			{"weight/conv1x1", func(env *Env, p *engine.Program, x, w, y engine.Span) error {
				return env.Lib.Conv2DBackwardFilter(p, conv, x, y, w)
			}},
			{"weight/gemm", func(env *Env, p *engine.Program, x, w, y engine.Span) error {
				return env.Lib.GEMM(p, ref.GEMMShape{M: sh.out, N: sh.in, K: sh.n, TransA: true}, 1, y, x, 0, w)
			}},
		} {
			cs = append(cs, Case{Name: "LinearLowering/" + sh.name + "/" + c.name, Small: sh.name == "se1536",
				Run: func(ctx context.Context, env *Env) (Result, error) {
					s := newScope(env)
					defer s.close()
					x, w, y := s.buffer("x", sh.n*sh.in), s.buffer("w", sh.out*sh.in), s.buffer("y", sh.n*sh.out)
					p := s.profiled(c.name, func(p *engine.Program) error { return c.build(env, p, x, w, y) })
					t, err := s.gpuTime(ctx, p)
					return gflops(2*float64(sh.n*sh.in*sh.out), t, err)
				}})
		}
	}
	return cs
}
