package gpu_test

import (
	"context"
	"math"
	"testing"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/gpu"
	"github.com/nfvk/nfvk/graph/graphtest"
)

// TestSoftTargetLoss: SoftmaxCESoft lowered onto the loss kernel (fed
// targets instead of labels) gives the CPU executor's loss and
// gradients, and the CPU loss is the mixed cross-entropy by hand.
func TestSoftTargetLoss(t *testing.T) {
	k := testKernels(t)
	ctx := context.Background()
	const n, in, classes = 5, 6, 7
	b := graphtest.NewBuilder()
	g := b.G
	x := b.T(g.Input("x", graph.Shape{n, in}))
	targets := b.T(g.Input("targets", graph.Shape{n, classes}))
	logits := b.Linear("head", x, classes)
	loss := b.T(g.SoftmaxCESoft(logits, targets))
	graphtest.Must(t, b.Err)
	grads, err := g.Gradients(loss, b.Params)
	graphtest.Must(t, err)
	g.Keep(loss, logits)
	g.Keep(grads...)

	// Mixed, smoothed targets: row i is 0.7/0.3 of classes i and i+2,
	// smoothed by 0.1 (timm: (1-eps)*mix + eps/K).
	tv := make([]float32, n*classes)
	for i := range n {
		for c := range classes {
			v := 0.0
			if c == i%classes {
				v += 0.7
			}
			if c == (i+2)%classes {
				v += 0.3
			}
			tv[i*classes+c] = float32(0.9*v + 0.1/classes)
		}
	}
	feeds := map[*graph.Tensor][]float32{x: graphtest.Randn(3, n*in, 1), targets: tv}
	exe, err := gpu.Compile(ctx, k, g, gpu.Options{})
	graphtest.Must(t, err)
	defer exe.Close()
	cpu := graph.NewCPU[float32](g)
	for p, v := range b.Init {
		graphtest.Must(t, cpu.Set(p, v))
		graphtest.Must(t, exe.Write(p, v))
	}
	graphtest.Must(t, cpu.Run(ctx, 1, feeds))
	graphtest.Must(t, exe.Step(ctx, 1, feeds))

	z := cpu.Value(logits)
	var want float64
	for i := range n {
		row := z[i*classes : (i+1)*classes]
		var m, s float64 = math.Inf(-1), 0
		for _, v := range row {
			m = max(m, float64(v))
		}
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(s)
		for c, v := range row {
			want += float64(tv[i*classes+c]) * (lse - float64(v))
		}
	}
	want /= n
	if got := cpu.Value(loss)[0]; math.Abs(float64(got)-want) > 1e-5 {
		t.Fatalf("CPU loss %v, hand %v", got, want)
	}
	for name, tt := range map[string]*graph.Tensor{"loss": loss, "grad w": grads[0], "grad b": grads[1]} {
		got, err := exe.Read(tt)
		graphtest.Must(t, err)
		want := cpu.Value(tt)
		graphtest.AssertClose(t, name, got, want, 2e-5*graphtest.MaxAbs(want), 1e-4)
	}
	// The targets must match the logits' shape.
	bad := b.T(g.Input("bad", graph.Shape{n, classes + 1}))
	if _, err := g.SoftmaxCESoft(logits, bad); err == nil {
		t.Error("targets of another shape accepted")
	}
}
