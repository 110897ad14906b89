package bench

import (
	"context"
	"fmt"
	"runtime"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/kernels/ref"
)

// convShapes are the convolution benchmark shapes, batch 32.
var convShapes = []struct {
	name  string
	s     kernels.Conv2DShape
	small bool
}{
	{"a", kernels.Conv2DShape{N: 32, C: 128, H: 16, W: 16, O: 128, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, Groups: 8}, false},
	{"b", kernels.Conv2DShape{N: 32, C: 64, H: 32, W: 32, O: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, Groups: 1}, false},
	{"c", kernels.Conv2DShape{N: 32, C: 256, H: 8, W: 8, O: 128, KH: 1, KW: 1, StrideH: 1, StrideW: 1, Groups: 1}, true},
	{"d", ref.SameConv2DShape(32, 256, 8, 8, 256, 3, 2, 16), true},
	{"e", ref.SameConv2DShape(32, 3, 64, 64, 16, 3, 2, 1), false},
}

// convCases report GFLOP/s = 2*MACs / GPU time for every pass of every
// shape (each pass does the forward's MAC count). On a CPU device they
// also report cpu_GFLOP/s = 2*MACs / (process CPU time per run / cores):
// what an idle machine would give, since on a shared one the GPU (wall)
// time grows with the other load and the CPU time does not.
func convCases() []Case {
	var cs []Case
	for _, c := range convShapes {
		for _, pass := range []string{"fwd", "bwd_data", "bwd_filter", "bwd_filter_split"} {
			cs = append(cs, Case{Name: "Conv2D/" + c.name + "/" + pass, Small: c.small, Run: func(ctx context.Context, env *Env) (Result, error) {
				return conv(ctx, env, c.s, pass)
			}})
		}
	}
	return cs
}

func conv(ctx context.Context, env *Env, sh kernels.Conv2DShape, pass string) (Result, error) {
	s := newScope(env)
	defer s.close()
	// bwd_filter is the chained reduction, bwd_filter_split the one split
	// over scratch where the tuning's lane budget cuts it (GPU classes).
	n := env.Lib.Conv2DBackwardFilterScratch(sh)
	if pass == "bwd_filter_split" && n == 0 {
		return Result{}, fmt.Errorf("%w: the %s tuning does not split this reduction", ErrSkip, env.Lib.Tuning().Class)
	}
	x, w, y, bias := s.buffer("x", sh.XLen()), s.buffer("w", sh.WLen()), s.buffer("y", sh.YLen()), s.buffer("bias", sh.O)
	p := s.profiled("conv2d "+pass, func(p *engine.Program) error {
		switch pass {
		case "fwd":
			return env.Lib.Conv2D(p, sh, x, w, bias, y)
		case "bwd_data":
			return env.Lib.Conv2DBackwardData(p, sh, y, w, x)
		case "bwd_filter_split":
			return env.Lib.Conv2DBackwardFilterSplit(p, sh, x, y, w, s.buffer("scratch", n))
		default:
			return env.Lib.Conv2DBackwardFilter(p, sh, x, y, w)
		}
	})
	c0, cpuOK := cpuTime()
	t, err := s.gpuTime(ctx, p)
	flops := 2 * float64(sh.MACs())
	r, err := gflops(flops, t, err)
	if c1, ok := cpuTime(); err == nil && cpuOK && ok && env.Dev.Info().IsCPU() {
		perRun := (c1 - c0).Seconds() / float64(2+max(env.Reps, 1)) // gpuTime's warm-ups and timed runs
		r.add(flops/(perRun/float64(runtime.NumCPU()))/1e9, "cpu_GFLOP/s")
	}
	return r, err
}

// elementwiseCases: gamma-scaled GELU forward (read x, write y) and
// backward (read x, dy, write dx) over 16 Mi elements, and the
// optimizer's and AGC's memory-bound building blocks, in GB/s.
func elementwiseCases() []Case {
	const n = 16 << 20
	var cs []Case
	for _, act := range []struct {
		name string
		a    kernels.Act
	}{{"tanh", ref.ActGELUTanh}, {"erf", ref.ActGELUErf}} {
		cs = append(cs,
			Case{Name: "GELU/" + act.name + "/fwd", Run: func(ctx context.Context, env *Env) (Result, error) {
				s := newScope(env)
				defer s.close()
				x, y := s.buffer("x", n), s.buffer("y", n)
				p := s.profiled("gelu", func(p *engine.Program) error { return env.Lib.Activation(p, act.a, kernels.GammaGELU, x, y) })
				t, err := s.gpuTime(ctx, p)
				return gbs(2*4*n, t, err)
			}},
			Case{Name: "GELU/" + act.name + "/bwd", Run: func(ctx context.Context, env *Env) (Result, error) {
				s := newScope(env)
				defer s.close()
				x, dy, dx := s.buffer("x", n), s.buffer("dy", n), s.buffer("dx", n)
				p := s.profiled("gelu_bwd", func(p *engine.Program) error {
					return env.Lib.ActivationBackward(p, act.a, kernels.GammaGELU, x, dy, dx)
				})
				t, err := s.gpuTime(ctx, p)
				return gbs(3*4*n, t, err)
			}})
	}
	return append(cs,
		Case{Name: "Axpby", Run: func(ctx context.Context, env *Env) (Result, error) {
			s := newScope(env)
			defer s.close()
			x, y := s.buffer("x", n), s.buffer("y", n)
			p := s.profiled("axpby", func(p *engine.Program) error { return env.Lib.Axpby(p, 0.5, x, 0.9, y) })
			t, err := s.gpuTime(ctx, p)
			return gbs(3*4*n, t, err)
		}},
		Case{Name: "RowSumSquares", Small: true, Run: func(ctx context.Context, env *Env) (Result, error) {
			const rows, cols = 1536, 1536 * 9 / 8 // a grouped 3x3 conv's output units
			s := newScope(env)
			defer s.close()
			x, out := s.buffer("x", rows*cols), s.buffer("out", rows)
			p := s.profiled("sumsq", func(p *engine.Program) error {
				return env.Lib.ReduceRows(p, kernels.ReduceSumSquares, x, rows, cols, out)
			})
			t, err := s.gpuTime(ctx, p)
			return gbs(4*float64(rows*cols+rows), t, err)
		}})
}

// wsCases: weight standardization of conv weights, forward and backward
// (DeepMind formula; timm's differs by two multiplies).
func wsCases() []Case {
	var cs []Case
	for _, sh := range [][4]int{{256, 128, 3, 3}, {1536, 128, 3, 3}, {1536, 1536, 1, 1}} {
		ws := ref.WSShape{O: sh[0], FanIn: sh[1] * sh[2] * sh[3]}
		n := ws.O * ws.FanIn
		name := fmt.Sprintf("WS/%dx%dx%dx%d", sh[0], sh[1], sh[2], sh[3])
		small := sh[0] == 256
		cs = append(cs,
			Case{Name: name + "/fwd", Small: small, Run: func(ctx context.Context, env *Env) (Result, error) {
				s := newScope(env)
				defer s.close()
				w, gain, what := s.buffer("w", n), s.buffer("gain", ws.O), s.buffer("what", n)
				p := s.profiled("ws", func(p *engine.Program) error { return env.Lib.WS(p, ws, kernels.WSDeepMind, w, gain, what) })
				t, err := s.gpuTime(ctx, p)
				return gbs(float64(4*(2*n+ws.O)), t, err)
			}},
			Case{Name: name + "/bwd", Small: small, Run: func(ctx context.Context, env *Env) (Result, error) {
				s := newScope(env)
				defer s.close()
				w, gain, what := s.buffer("w", n), s.buffer("gain", ws.O), s.buffer("what", n)
				dw, dgain := s.buffer("dw", n), s.buffer("dgain", ws.O)
				p := s.profiled("ws backward", func(p *engine.Program) error {
					return env.Lib.WSBackward(p, ws, kernels.WSDeepMind, w, gain, what, dw, dgain)
				})
				t, err := s.gpuTime(ctx, p)
				return gbs(float64(4*(3*n+2*ws.O)), t, err)
			}})
	}
	return cs
}
