package graphtest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels/ref"
)

// SmallNet builds a two-block NFNet-like classifier of [n, 3, hw, hw]
// images into k classes, ending in label-smoothed cross-entropy (kept).
func SmallNet(n, hw, k int, dropRate, dropout float64) (b *Builder, x, labels, loss *graph.Tensor) {
	b, x, labels, logits := SmallNetLogits(n, hw, k, dropRate, dropout)
	loss = b.T(b.G.SoftmaxCE(logits, labels, 0.1))
	if b.Err == nil {
		b.G.Keep(loss)
	}
	return b, x, labels, loss
}

// SmallNetLogits is SmallNet up to the logits: a stem, a block, a
// transition block (avg-pool shortcut), SE with its linears, drop path,
// dropout and the head.
func SmallNetLogits(n, hw, k int, dropRate, dropout float64) (b *Builder, x, labels, logits *graph.Tensor) {
	b = NewBuilder()
	g := b.G
	x = b.T(g.Input("x", graph.Shape{n, 3, hw, hw}))
	labels = b.T(g.Labels("labels", n))
	gelu := ref.ActGELUTanh
	h := b.WSConv("stem", x, 8, 3, 2, 1)
	h = b.Block("b0", h, 8, 1, 1, dropRate)
	h = b.Block("b1", h, 16, 2, 1/math.Sqrt(1+0.04), dropRate)
	h = b.WSConv("final", h, 16, 1, 1, 1)
	h = b.T(g.Act(h, gelu, ref.GammaGELU))
	h = b.T(g.GlobalMean(h))
	if dropout > 0 {
		h = b.T(g.Dropout(h, dropout))
	}
	logits = b.Linear("head", h, k)
	return b, x, labels, logits
}

// ConvNet is a graph of the ops whose GPU kernels exist in every test
// run: WS (both formulas), dense and grouped convs with bias, GELU and
// SiLU with gamma, dropout, scales folded into an activation and into the
// residual, drop path fused into the residual, and x used three times
// (the residual shortcut, the add and the conv), so its gradient
// accumulates. Its backward is the VJP of Out against a fed cotangent DY.
type ConvNet struct {
	B     *Builder
	X, DY *graph.Tensor
	Out   *graph.Tensor
	// Xs are the parameters then X; Grads their gradients (X's kept).
	Xs, Grads []*graph.Tensor
}

// NewConvNet builds the conv net for a batch of n [4, 8, 8] images.
func NewConvNet(t testing.TB, n int) *ConvNet {
	t.Helper()
	b := NewBuilder()
	g := b.G
	x := b.T(g.Input("x", graph.Shape{n, 4, 8, 8}))
	dy := b.T(g.Input("dy", graph.Shape{n, 4, 8, 8}))
	h := b.WSConv("c1", x, 8, 3, 1, 1)
	h = b.T(g.Act(h, ref.ActGELUTanh, ref.GammaGELU))
	h = b.T(g.Dropout(h, 0.25))
	w2 := b.Param("c2.w", graph.Shape{4, 4, 3, 3}, 0, 1)
	g2 := b.Param("c2.gain", graph.Shape{4, 1, 1, 1}, 1, 0.1)
	b2 := b.Param("c2.b", graph.Shape{4}, 0, 0.1)
	what := b.T(g.WS(w2, g2, graph.WSOpts{Formula: graph.WSTimm}))
	h = b.T(g.Conv2D(h, what, b2, graph.ConvOpts{Groups: 2, Pad: [4]int{1, 1, 1, 1}}))
	h = b.T(g.Act(h, ref.ActSiLU, ref.GammaSiLU))
	h = b.T(g.Scale(h, 0.9)) // folds into the activation's gamma
	h = b.T(g.Dropout(h, 0.1))
	h = b.T(g.Scale(h, 2)) // folds into the residual's alpha
	h = b.T(g.DropPath(h, 0.5))
	skip := b.Param("skip_gain", graph.Shape{1}, 0.7, 0)
	out := b.T(g.Residual(x, h, skip, 0.2))
	out = b.T(g.Add(out, x))
	Must(t, b.Err)
	g.Keep(out)
	xs := append(append([]*graph.Tensor(nil), b.Params...), x)
	grads, err := g.VJP([]*graph.Tensor{out}, []*graph.Tensor{dy}, xs)
	Must(t, err)
	g.Keep(grads[len(grads)-1]) // dx is an activation gradient: keep it to read it
	return &ConvNet{B: b, X: x, DY: dy, Out: out, Xs: xs, Grads: grads}
}

// TinyCNN is a WS-conv classifier of [n, 3, hw, hw] images into two
// classes trained with plain SGD in the graph, the learning rate lr fed
// every step.
func TinyCNN(t testing.TB, n, hw int) (b *Builder, x, labels, lr, loss *graph.Tensor) {
	t.Helper()
	b = NewBuilder()
	g := b.G
	x = b.T(g.Input("x", graph.Shape{n, 3, hw, hw}))
	labels = b.T(g.Labels("labels", n))
	h := b.WSConv("c1", x, 8, 3, 2, 1)
	h = b.T(g.Act(h, ref.ActGELUTanh, ref.GammaGELU))
	h = b.WSConv("c2", h, 8, 3, 1, 1)
	h = b.T(g.Act(h, ref.ActGELUTanh, ref.GammaGELU))
	logits := b.Linear("head", b.T(g.GlobalMean(h)), 2)
	loss = b.T(g.SoftmaxCE(logits, labels, 0))
	Must(t, b.Err)
	g.Keep(loss)
	grads, err := g.Gradients(loss, b.Params)
	Must(t, err)
	lr = b.T(g.Input("lr", graph.Shape{1}))
	Must(t, g.SGDRate(b.Params, grads, lr))
	return b, x, labels, lr, loss
}

// Separable returns n images [n, 3, hw, hw] of two classes that differ in
// where a bright blob sits (left or right half) under noise, and labels.
func Separable(seed uint64, n, hw int) (x, labels []float32) {
	r := rand.New(rand.NewPCG(seed, 3))
	x = make([]float32, n*3*hw*hw)
	labels = make([]float32, n)
	for i := range n {
		c := i % 2
		labels[i] = float32(c)
		for ch := range 3 {
			for y := range hw {
				for xx := range hw {
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

// TrainToZero runs steps and fails unless the loss ends below 0.01.
func TrainToZero(t testing.TB, steps int, step func(i int) float32) {
	t.Helper()
	var first, last float32
	for i := range steps {
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
