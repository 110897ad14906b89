package gpu_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/gpu"
	"github.com/nfvk/nfvk/graph/graphtest"
	"github.com/nfvk/nfvk/kernels"
)

// dispatches counts the step's dispatches whose label starts with prefix.
func dispatches(exe *gpu.Executable, prefix string) int {
	n := 0
	for _, d := range exe.Program().Dispatches() {
		if strings.HasPrefix(d.Label, prefix) {
			n++
		}
	}
	return n
}

// trainBoth compiles o's step and runs it for every step value of hs on
// the GPU and on the float32 CPU executor, from o's initial parameters
// and the extra initial values init, with the same feeds.
func trainBoth(t *testing.T, k *kernels.Kernels, o *graphtest.OptimNet, hs []agc.Hyper, init map[*graph.Tensor][]float32) (*gpu.Executable, *graph.CPU[float32]) {
	t.Helper()
	ctx := context.Background()
	exe, err := gpu.Compile(ctx, k, o.G, gpu.Options{})
	graphtest.Must(t, err)
	t.Cleanup(exe.Close)
	cpu := graph.NewCPU[float32](o.G)
	for _, m := range []map[*graph.Tensor][]float32{o.Init, init} {
		for tt, v := range m {
			graphtest.Must(t, exe.Write(tt, v))
			graphtest.Must(t, cpu.Set(tt, v))
		}
	}
	for i, h := range hs {
		feeds := o.Feeds(t, i, h)
		graphtest.Must(t, exe.Step(ctx, uint64(i), feeds))
		graphtest.Must(t, cpu.Run(ctx, uint64(i), feeds))
	}
	return exe, cpu
}

// compare checks each tensor's GPU value against the CPU's within
// atol*|largest CPU value| + rtol*|CPU value| and returns the worst error
// relative to the largest value.
func compare(t *testing.T, exe *gpu.Executable, cpu *graph.CPU[float32], ts []*graph.Tensor, atol, rtol float64) float64 {
	t.Helper()
	worst := 0.0
	for _, tt := range ts {
		got, err := exe.Read(tt)
		graphtest.Must(t, err)
		want := cpu.Value(tt)
		m := graphtest.MaxAbs(want)
		graphtest.AssertClose(t, tt.Name(), got, want, atol*m, rtol)
		worst = max(worst, graphtest.MaxDiff(got, want)/max(m, 1e-30))
	}
	return worst
}

// optimTol bounds the GPU's error against the CPU on parameters, momenta
// and averages after a few updates, relative to the tensor's largest
// value and to each value (see TestOptimizerMatchesCPU).
const optimTol = 5e-5

// TestOptimizerMatchesCPU: the Optimizer op on the GPU (the fused
// multi-tensor kernel) matches the same graph on the float32 CPU
// executor (agc.SGD) after 3 steps of SmallNet with a new learning rate
// every step: both unit rules, Nesterov on and off, weight decay on the
// weights outside the head, AGC clipping everything but the head, and
// one gain clipped in its file shape [8 1 1 1] (8 units under timm's
// rule, one in its graph shape [8]). The forward and backward agree
// within a few 1e-6 of each tensor's largest value (TestGPUMatchesCPU);
// three updates at learning rates up to 0.2 carry that into parameters
// and momenta (lavapipe: 5e-6 of the largest value at worst): they must
// agree within optimTol (5e-5) of the tensor's largest value plus
// optimTol relative, room for other devices' summation orders. Dropping
// the weight decay, Nesterov's term or the clipping moves the tensors
// they affect by 3e-4 to 10^2 of their largest value (measured on the
// CPU), the most by far more than the 1e-4 the tolerance allows.
func TestOptimizerMatchesCPU(t *testing.T) {
	k := testKernels(t)
	fileShapes := map[string][]int{"stem.gain": {8, 1, 1, 1}}
	for _, rule := range []agc.UnitRule{agc.DeepMind, agc.Timm} {
		for _, nesterov := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/nesterov=%v", rule, nesterov), func(t *testing.T) {
				var hs []agc.Hyper
				for _, lr := range []float64{0.2, 0.1, 0.05} {
					hs = append(hs, agc.Hyper{LR: lr, Momentum: 0.9, Nesterov: nesterov, WeightDecay: 0.05, Lambda: 0.01})
				}
				o := graphtest.NewOptimNet(t, 2, 8, 4, graphtest.OptimConfig{Rule: rule, FileShapes: fileShapes})
				exe, cpu := trainBoth(t, k, o, hs, nil)
				if n := dispatches(exe, "optimizer step"); n != 1 {
					t.Errorf("%d optimizer dispatches, want one for all %d tensors", n, len(o.Params))
				}
				var moms []*graph.Tensor
				for _, tg := range o.Targets {
					moms = append(moms, tg.Momentum)
				}
				worst := compare(t, exe, cpu, append(slices.Clone(o.Params), moms...), optimTol, optimTol)
				t.Logf("worst error %.2g of the tensor's largest value", worst)
				if rule != agc.Timm {
					return
				}
				// The file shape matters: the graph shape's single unit
				// clips the gain otherwise, by ten times the most the
				// tolerance lets through (2*optimTol of the largest value).
				o2 := graphtest.NewOptimNet(t, 2, 8, 4, graphtest.OptimConfig{Rule: rule})
				cpu2 := graph.NewCPU[float32](o2.G)
				for tt, v := range o2.Init {
					graphtest.Must(t, cpu2.Set(tt, v))
				}
				for i, h := range hs {
					graphtest.Must(t, cpu2.Run(context.Background(), uint64(i), o2.Feeds(t, i, h)))
				}
				gain := slices.IndexFunc(o.Params, func(p *graph.Tensor) bool { return p.Name() == "stem.gain" })
				want := cpu.Value(o.Params[gain])
				d := graphtest.MaxDiff(cpu2.Value(o2.Params[gain]), want) / graphtest.MaxAbs(want)
				if d < 20*optimTol {
					t.Errorf("stem.gain clipped in its graph shape differs by only %.2g of its largest value: the test cannot tell the shapes apart", d)
				}
				t.Logf("stem.gain clipped in its graph shape differs by %.2g of its largest value", d)
			})
		}
	}
}

// TestOptimizerPooled: parameters, gradients and momenta each lie in one
// buffer, at aligned, disjoint offsets, so the Optimizer updates every
// parameter in one dispatch; with no momentum, weight decay or clipping
// it matches the graph's per-tensor SGD within a few ulps (both compute
// p - lr*g in float32 and may round the product differently: fused
// multiply-add or not).
func TestOptimizerPooled(t *testing.T) {
	k := testKernels(t)
	ctx := context.Background()
	const lr, steps = 0.05, 3
	run := func(fused bool) (map[string][]float32, int) {
		net := graphtest.NewConvNet(t, 2)
		g := net.B.G
		params, grads := net.Xs[:len(net.Xs)-1], net.Grads[:len(net.Xs)-1]
		feeds := func(i int) map[*graph.Tensor][]float32 {
			return map[*graph.Tensor][]float32{net.X: graphtest.Randn(uint64(i), net.X.Size(), 1), net.DY: graphtest.Randn(uint64(50+i), net.DY.Size(), 1)}
		}
		var ts []graph.OptimTarget
		if fused {
			hyper, err := g.Input("hyper", graph.Shape{agc.HyperWords})
			graphtest.Must(t, err)
			hv, err := agc.Hyper{LR: lr}.Values()
			graphtest.Must(t, err)
			ts = graphtest.Targets(t, g, params, grads, nil)
			graphtest.Must(t, g.Optimizer(hyper, agc.Timm, ts))
			inner := feeds
			feeds = func(i int) map[*graph.Tensor][]float32 {
				f := inner(i)
				f[hyper] = hv
				return f
			}
		} else {
			graphtest.Must(t, g.SGD(params, grads, lr))
		}
		x, err := gpu.Compile(ctx, k, g, gpu.Options{})
		graphtest.Must(t, err)
		defer x.Close()
		if fused {
			align := int64(k.Device().Info().MinStorageBufferOffsetAlignment)
			for role, pick := range []func(graph.OptimTarget) *graph.Tensor{
				func(o graph.OptimTarget) *graph.Tensor { return o.Param },
				func(o graph.OptimTarget) *graph.Tensor { return o.Grad },
				func(o graph.OptimTarget) *graph.Tensor { return o.Momentum },
			} {
				var spans []engine.Span
				for _, tg := range ts {
					s, err := x.Span(pick(tg))
					graphtest.Must(t, err)
					spans = append(spans, s)
				}
				checkPool(t, role, spans, align)
			}
		}
		for p, v := range net.B.Init {
			graphtest.Must(t, x.Write(p, v))
		}
		for i := range steps {
			graphtest.Must(t, x.Step(ctx, uint64(i), feeds(i)))
		}
		out := map[string][]float32{}
		for _, p := range params {
			out[p.Name()], err = x.Read(p)
			graphtest.Must(t, err)
		}
		return out, x.Program().Len()
	}
	sgd, n1 := run(false)
	fused, n2 := run(true)
	if n2 != n1-len(sgd)+1 {
		t.Errorf("%d dispatches with the Optimizer, %d with per-tensor SGD: want one for all %d tensors", n2, n1, len(sgd))
	}
	for name, want := range sgd {
		graphtest.AssertClose(t, name, fused[name], want, 1e-7, 1e-6)
	}
}

// checkPool fails unless spans share one buffer at aligned, disjoint
// offsets.
func checkPool(t *testing.T, role int, spans []engine.Span, align int64) {
	t.Helper()
	for _, s := range spans {
		if s.Buf != spans[0].Buf || s.Off%align != 0 {
			t.Fatalf("role %d: span at %d in %q: want one buffer per role, aligned offsets", role, s.Off, s.Buf.Name())
		}
	}
	slices.SortFunc(spans, func(a, b engine.Span) int { return int(a.Off - b.Off) })
	for i := 1; i < len(spans); i++ {
		if spans[i].Off < spans[i-1].Off+spans[i-1].Size {
			t.Fatalf("%s: spans at %d+%d and %d overlap", spans[i].Buf.Name(), spans[i-1].Off, spans[i-1].Size, spans[i].Off)
		}
	}
}

// TestEMAMatchesCPU: the EMA op on the GPU matches the float32 CPU
// executor (agc.EMAUpdate) after 3 steps of the Optimizer and EMA with
// the warm-up decays of agc.EMADecay, in one dispatch over the whole pool
// when the averages mirror the parameters and one per pair otherwise;
// averages the EMA leaves out stay zero. The averages mix parameters
// that agree within optimTol (TestOptimizerMatchesCPU): the same
// tolerance.
func TestEMAMatchesCPU(t *testing.T) {
	k := testKernels(t)
	for _, tc := range []struct {
		layout  graphtest.EMALayout
		onePass bool
	}{
		{graphtest.EMAMirrored, true},
		{graphtest.EMAReversed, false},
		{graphtest.EMAEveryOther, false},
	} {
		t.Run(tc.layout.String(), func(t *testing.T) {
			var hs []agc.Hyper
			for i := range 3 {
				hs = append(hs, agc.Hyper{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 0.05, Lambda: 0.01, EMADecay: agc.EMADecay(0.999, i)})
			}
			o := graphtest.NewOptimNet(t, 2, 8, 4, graphtest.OptimConfig{Rule: agc.DeepMind, EMA: tc.layout})
			exe, cpu := trainBoth(t, k, o, hs, nil)
			want := len(o.Averages)
			if tc.onePass {
				want = 1
			}
			if n := dispatches(exe, "ema update"); n != want {
				t.Errorf("%d EMA dispatches for %d pairs, want %d", n, len(o.Averages), want)
			}
			worst := compare(t, exe, cpu, o.Averages, optimTol, optimTol)
			t.Logf("worst error %.2g of the average's largest value", worst)
			for _, a := range o.Idle {
				v, err := exe.Read(a)
				graphtest.Must(t, err)
				if m := graphtest.MaxAbs(v); m != 0 {
					t.Errorf("%v, left out of the EMA, changed to up to %g", a, m)
				}
			}
		})
	}
}

// TestEMAReadsUpdatedParams: the EMA, added after the Optimizer, averages
// the parameters the step just updated: from averages equal to the
// initial parameters p0, one step with decay 1/2 gives (p0 + p1)/2 with
// p1 the updated parameters (a few float32 roundings: 1e-6 relative),
// not p0.
func TestEMAReadsUpdatedParams(t *testing.T) {
	o := graphtest.NewOptimNet(t, 2, 8, 4, graphtest.OptimConfig{Rule: agc.Timm, EMA: graphtest.EMAMirrored})
	init := map[*graph.Tensor][]float32{}
	for i, a := range o.Averages {
		init[a] = o.Init[o.Averaged[i]]
	}
	exe, _ := trainBoth(t, testKernels(t), o, []agc.Hyper{{LR: 0.2, Momentum: 0.9, EMADecay: 0.5}}, init)
	moved := 0.0
	for i, a := range o.Averages {
		p0 := o.Init[o.Averaged[i]]
		p1, err := exe.Read(o.Averaged[i])
		graphtest.Must(t, err)
		got, err := exe.Read(a)
		graphtest.Must(t, err)
		want := make([]float32, len(p0))
		for j := range want {
			want[j] = (p0[j] + p1[j]) / 2
		}
		graphtest.AssertClose(t, a.Name(), got, want, 1e-6*graphtest.MaxAbs(want), 1e-6)
		moved = max(moved, graphtest.MaxDiff(p0, p1))
	}
	if moved < 1e-3 {
		t.Fatalf("the step moved the parameters by %g: too little to tell p1 from p0", moved)
	}
}
