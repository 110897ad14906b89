package gpu_test

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/gpu"
	"github.com/nfvk/nfvk/graph/graphtest"
	"github.com/nfvk/nfvk/kernels/ref"
)

// lsNet is SmallNet's step with dynamic loss scaling: the scaled
// backward, the unscale, the optimizer and EMA on the step values, the
// scale update.
type lsNet struct {
	*graphtest.Builder
	x, labels, hyper *graph.Tensor
	ls               *graph.LossScale
	targets          []graph.OptimTarget
	avgs             []*graph.Tensor
}

func newLSNet(t *testing.T, growth int) *lsNet {
	b, x, labels, loss := graphtest.SmallNet(4, 16, 10, 0, 0)
	graphtest.Must(t, b.Err)
	g := b.G
	n := &lsNet{Builder: b, x: x, labels: labels}
	var err error
	n.ls, err = g.NewLossScale(growth)
	graphtest.Must(t, err)
	grads, err := g.GradientsScaled(loss, b.Params, n.ls)
	graphtest.Must(t, err)
	n.hyper, err = g.Input("hyper", graph.Shape{agc.HyperWords})
	graphtest.Must(t, err)
	n.targets = graphtest.Targets(t, g, b.Params, grads, nil)
	graphtest.Must(t, n.ls.Unscale(grads))
	step, err := n.ls.StepValues(n.hyper)
	graphtest.Must(t, err)
	graphtest.Must(t, g.Optimizer(step, agc.DeepMind, n.targets))
	n.avgs, _, _ = graphtest.AddEMA(t, g, step, b.Params, graphtest.EMAMirrored)
	graphtest.Must(t, n.ls.Update())
	return n
}

func (n *lsNet) feeds(t *testing.T, step int, inputScale float64) map[*graph.Tensor][]float32 {
	h := agc.Hyper{LR: 0.1, Momentum: 0.9, WeightDecay: 5e-4, Lambda: 0.01, EMADecay: 0.9, Step: int64(step)}
	hv, err := h.Values()
	graphtest.Must(t, err)
	return map[*graph.Tensor][]float32{n.x: graphtest.Randn(uint64(100+step), n.x.Size(), inputScale),
		n.labels: {3, 0, 9, float32(step % 10)}, n.hyper: hv}
}

// state is every tensor a step updates: parameters, momentum, averages.
func (n *lsNet) state() []*graph.Tensor {
	var ts []*graph.Tensor
	for _, tg := range n.targets {
		ts = append(ts, tg.Param, tg.Momentum)
	}
	return append(ts, n.avgs...)
}

type reader interface {
	Read(*graph.Tensor) ([]float32, error)
}

func readAll(t *testing.T, r reader, ts []*graph.Tensor) [][]float32 {
	out := make([][]float32, len(ts))
	for i, tt := range ts {
		v, err := r.Read(tt)
		graphtest.Must(t, err)
		out[i] = v
	}
	return out
}

// lsState reads S and the counters.
func lsState(t *testing.T, exe *gpu.Executable, ls *graph.LossScale) (float32, [ref.LossScaleCounters]uint32) {
	s, err := exe.Read(ls.Scale)
	graphtest.Must(t, err)
	c, err := exe.Read(ls.Counters)
	graphtest.Must(t, err)
	var cs [ref.LossScaleCounters]uint32
	for i := range cs {
		cs[i] = math.Float32bits(c[i])
	}
	return s[0], cs
}

// TestLossScaleSkipAndGrowth runs an fp16 step whose input (1e30)
// overflows float16, then two good steps, with growth interval 2: the
// first update is skipped (parameters, momentum and EMA bit-identical,
// S halved, one skipped step), the second updates normally, and after
// the third S has doubled back.
func TestLossScaleSkipAndGrowth(t *testing.T) {
	k := testKernels(t)
	ctx := context.Background()
	n := newLSNet(t, 2)
	exe, err := gpu.Compile(ctx, k, n.G, gpu.Options{Precision: graph.FP16})
	graphtest.Must(t, err)
	defer exe.Close()
	for p, v := range n.Init {
		graphtest.Must(t, exe.Write(p, v))
	}
	graphtest.Must(t, exe.Write(n.ls.Scale, []float32{1024}))
	before := readAll(t, exe, n.state())

	graphtest.Must(t, exe.Step(ctx, 1, n.feeds(t, 1, 1e30)))
	after := readAll(t, exe, n.state())
	for i, tt := range n.state() {
		for j := range after[i] {
			if math.Float32bits(after[i][j]) != math.Float32bits(before[i][j]) {
				t.Fatalf("overflowing step changed %s[%d]: %v -> %v", tt.Name(), j, before[i][j], after[i][j])
			}
		}
	}
	if s, c := lsState(t, exe, n.ls); s != 512 || c != [3]uint32{0, 1, 0} {
		t.Fatalf("after the overflow: scale %v counters %v, want 512 [0 1 0]", s, c)
	}

	graphtest.Must(t, exe.Step(ctx, 2, n.feeds(t, 2, 1)))
	after2 := readAll(t, exe, n.state())
	changed := 0
	for i := range after2 {
		for j, v := range after2[i] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("step after the overflow: %s[%d] = %v", n.state()[i].Name(), j, v)
			}
			if v != after[i][j] {
				changed++
			}
		}
	}
	if changed == 0 {
		t.Fatal("the step after the overflow changed nothing")
	}
	if s, c := lsState(t, exe, n.ls); s != 512 || c != [3]uint32{1, 1, 0} {
		t.Fatalf("after a good step: scale %v counters %v, want 512 [1 1 0]", s, c)
	}
	graphtest.Must(t, exe.Step(ctx, 3, n.feeds(t, 3, 1)))
	if s, c := lsState(t, exe, n.ls); s != 1024 || c != [3]uint32{0, 1, 0} {
		t.Fatalf("after two good steps: scale %v counters %v, want 1024 [0 1 0]", s, c)
	}
}

// TestLossScaleStepMatchesCPU: an fp16 step at S = 1024 updates the
// parameters, momentum and EMA as the float32 CPU executor does (whose
// scaling by a power of two is exact), within TestFP16StepMatchesCPU's
// tolerance: 1e-2 of the largest magnitude of each tensor's change.
func TestLossScaleStepMatchesCPU(t *testing.T) {
	k := testKernels(t)
	ctx := context.Background()
	n := newLSNet(t, 2000)
	exe, err := gpu.Compile(ctx, k, n.G, gpu.Options{Precision: graph.FP16})
	graphtest.Must(t, err)
	defer exe.Close()
	cpu := graph.NewCPU[float32](n.G)
	for p, v := range n.Init {
		graphtest.Must(t, cpu.Set(p, v))
		graphtest.Must(t, exe.Write(p, v))
	}
	graphtest.Must(t, cpu.Set(n.ls.Scale, []float32{1024}))
	graphtest.Must(t, exe.Write(n.ls.Scale, []float32{1024}))
	feeds := n.feeds(t, 1, 1)
	graphtest.Must(t, cpu.Run(ctx, 1, feeds))
	graphtest.Must(t, exe.Step(ctx, 1, feeds))
	for _, tt := range n.state() {
		got, err := exe.Read(tt)
		graphtest.Must(t, err)
		want := slices.Clone(cpu.Value(tt))
		if init := n.Init[tt]; init != nil { // compare the update, not the parameter
			for i := range want {
				want[i] -= init[i]
				got[i] -= init[i]
			}
		}
		graphtest.AssertClose(t, tt.Name(), got, want, 1e-2*graphtest.MaxAbs(want), 1e-2)
	}
	s, c := lsState(t, exe, n.ls)
	if s != 1024 || c != [3]uint32{1, 0, 0} {
		t.Errorf("scale %v counters %v, want 1024 [1 0 0]", s, c)
	}
	if cs := cpu.Value(n.ls.Scale); cs[0] != 1024 {
		t.Errorf("CPU scale %v", cs[0])
	}
}
