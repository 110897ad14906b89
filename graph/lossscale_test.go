package graph_test

import (
	"context"
	"math"
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/graphtest"
)

// TestLossScaleErrors: bad loss-scale graphs are refused.
func TestLossScaleErrors(t *testing.T) {
	g := graph.New()
	if _, err := g.NewLossScale(0); err == nil {
		t.Error("growth 0: no error")
	}
	ls, err := g.NewLossScale(4)
	graphtest.Must(t, err)
	x, err := g.Input("x", graph.Shape{3})
	graphtest.Must(t, err)
	if _, err := g.GradientsScaled(x, nil, ls); err == nil {
		t.Error("a non-scalar loss: no error")
	}
	if _, err := g.GradientsScaled(x, nil, nil); err == nil {
		t.Error("no loss scale: no error")
	}
	if err := ls.Unscale([]*graph.Tensor{x}); err == nil {
		t.Error("unscaling an input: no error")
	}
	if _, err := ls.StepValues(x); err == nil {
		t.Error("step values of 3 values: no error")
	}
}

// TestLossScaleCPUSkip: on the CPU executor an Inf gradient zeroes the
// step values' rate, momentum and EMA 1-d and the gradient, halves S
// and counts a skipped step; the next finite step unscales.
func TestLossScaleCPUSkip(t *testing.T) {
	g := graph.New()
	ls, err := g.NewLossScale(2)
	graphtest.Must(t, err)
	gr, err := g.State("grad", graph.Shape{5})
	graphtest.Must(t, err)
	hyper, err := g.Input("hyper", graph.Shape{agc.HyperWords})
	graphtest.Must(t, err)
	graphtest.Must(t, ls.Unscale([]*graph.Tensor{gr}))
	step, err := ls.StepValues(hyper)
	graphtest.Must(t, err)
	graphtest.Must(t, ls.Update())
	cpu := graph.NewCPU[float32](g)
	graphtest.Must(t, cpu.Set(ls.Scale, []float32{8}))
	hv, err := agc.Hyper{LR: 0.5, Momentum: 0.9, EMADecay: 0.75}.Values()
	graphtest.Must(t, err)
	for i, c := range []struct {
		grad, want []float32
		lr, s      float32
		skipped    uint32
	}{
		{[]float32{8, 16, float32(math.Inf(1)), 0, -8}, []float32{0, 0, 0, 0, 0}, 0, 4, 1},
		{[]float32{8, 16, 4, 0, -8}, []float32{2, 4, 1, 0, -2}, 0.5, 4, 1},
	} {
		graphtest.Must(t, cpu.Set(gr, c.grad))
		graphtest.Must(t, cpu.Run(context.Background(), 1, map[*graph.Tensor][]float32{hyper: hv}))
		got := cpu.Value(gr)
		for j := range got {
			if got[j] != c.want[j] {
				t.Errorf("step %d: gradient %v, want %v", i, got, c.want)
				break
			}
		}
		if lr := cpu.Value(step)[0]; lr != c.lr {
			t.Errorf("step %d: step values' learning rate %v, want %v", i, lr, c.lr)
		}
		if s, sk := cpu.Value(ls.Scale)[0], math.Float32bits(cpu.Value(ls.Counters)[1]); s != c.s || sk != c.skipped {
			t.Errorf("step %d: scale %v, skipped %d; want %v, %d", i, s, sk, c.s, c.skipped)
		}
	}
}
