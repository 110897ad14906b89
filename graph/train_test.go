package graph

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/nfvk/nfvk/kernels/ref"
)

// separable returns n images [n, 3, hw, hw] of two classes that differ in
// where a bright blob sits (left or right half) under noise, and labels.
func separable(seed uint64, n, hw int) (x, labels []float32) {
	r := rand.New(rand.NewPCG(seed, 3))
	x = make([]float32, n*3*hw*hw)
	labels = make([]float32, n)
	for i := 0; i < n; i++ {
		c := i % 2
		labels[i] = float32(c)
		for ch := 0; ch < 3; ch++ {
			for y := 0; y < hw; y++ {
				for xx := 0; xx < hw; xx++ {
					v := 0.3 * r.NormFloat64()
					if (xx < hw/2) == (c == 0) {
						v += 1
					}
					x[((i*3+ch)*hw+y)*hw+xx] = float32(v)
				}
			}
		}
	}
	return x, labels
}

// tinyCNN is a WS-conv classifier trained with plain SGD in the graph,
// the learning rate fed every step.
func tinyCNN(t testing.TB, n, hw int) (b *builder, x, labels, lr, loss *Tensor) {
	b = newBuilder()
	g := b.g
	x = b.t(g.Input("x", Shape{n, 3, hw, hw}))
	labels = b.t(g.Labels("labels", n))
	h := b.wsConv("c1", x, 8, 3, 2, 1)
	h = b.t(g.Act(h, ref.ActGELUTanh, ref.GammaGELU))
	h = b.wsConv("c2", h, 8, 3, 1, 1)
	h = b.t(g.Act(h, ref.ActGELUTanh, ref.GammaGELU))
	logits := b.linear("head", b.t(g.GlobalMean(h)), 2)
	loss = b.t(g.SoftmaxCE(logits, labels, 0))
	must(t, b.err)
	g.Keep(loss)
	grads, err := g.Gradients(loss, b.params)
	must(t, err)
	lr = b.t(g.Input("lr", Shape{1}))
	must(t, g.SGDRate(b.params, grads, lr))
	return b, x, labels, lr, loss
}

// TestTrainSeparable trains tinyCNN on a fixed separable batch, on the
// GPU (one recorded step, replayed) and with the float32 CPU executor,
// until the training loss is near zero.
func TestTrainSeparable(t *testing.T) {
	const n, hw, steps = 16, 8, 150
	for _, exec := range []string{"gpu", "cpu"} {
		t.Run(exec, func(t *testing.T) {
			b, x, labels, lr, loss := tinyCNN(t, n, hw)
			xv, lv := separable(1, n, hw)
			feeds := map[*Tensor][]float32{x: xv, labels: lv, lr: {0.5}}
			ctx := context.Background()
			var step func(i int) float32
			if exec == "gpu" {
				gpu, err := Compile(ctx, testKernels(t), b.g, CompileOptions{})
				must(t, err)
				defer gpu.Close()
				for p, v := range b.init {
					must(t, gpu.Write(p, v))
				}
				step = func(i int) float32 {
					must(t, gpu.Step(ctx, uint64(i), feeds))
					l, err := gpu.Read(loss)
					must(t, err)
					return l[0]
				}
			} else {
				c := NewCPU[float32](b.g)
				for p, v := range b.init {
					must(t, c.Set(p, v))
				}
				step = func(i int) float32 {
					must(t, c.Run(ctx, uint64(i), feeds))
					return c.Value(loss)[0]
				}
			}
			trainToZero(t, steps, step)
		})
	}
}

// trainToZero runs steps and fails unless the loss ends below 0.01.
func trainToZero(t *testing.T, steps int, step func(i int) float32) {
	var first, last float32
	for i := 0; i < steps; i++ {
		last = step(i)
		if i == 0 {
			first = last
		}
	}
	t.Logf("loss %.4f -> %.5f after %d SGD steps", first, last, steps)
	if !(last < 0.01) {
		t.Fatalf("training loss %.4f after %d steps (from %.4f), want < 0.01", last, steps, first)
	}
}
