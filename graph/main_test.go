package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nfvk/nfvk/engine/enginetest"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/kernels/ref"
)

// testKernels opens the default device (lavapipe here) with the
// validation layer when it is installed; any validation message fails the
// test.
func testKernels(t testing.TB) *kernels.Kernels {
	t.Helper()
	d := enginetest.Open(t)
	return kernels.New(d)
}

// randn returns n seeded normal samples times scale.
func randn(seed uint64, n int, scale float64) []float32 {
	r := rand.New(rand.NewPCG(seed, 11))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * scale)
	}
	return v
}

// builder adds nodes and keeps the first error, so that a network reads
// as a list of layers; tests check b.err once.
type builder struct {
	g      *Graph
	err    error
	params []*Tensor
	init   map[*Tensor][]float32
	seed   uint64
}

func newBuilder() *builder { return &builder{g: New(), init: map[*Tensor][]float32{}} }

func (b *builder) t(t *Tensor, err error) *Tensor {
	if err != nil && b.err == nil {
		b.err = err
	}
	return t
}

// param adds a parameter initialized with N(mean, scale^2) values.
func (b *builder) param(name string, shape Shape, mean, scale float64) *Tensor {
	p := b.t(b.g.Param(name, shape))
	if p == nil {
		return nil
	}
	b.seed++
	v := randn(b.seed, shape.Size(), scale)
	for i := range v {
		v[i] += float32(mean)
	}
	b.params = append(b.params, p)
	b.init[p] = v
	return p
}

// wsConv adds a scaled-WS conv with bias: NFNet's conv.
func (b *builder) wsConv(name string, x *Tensor, out, k, stride, groups int) *Tensor {
	if b.err != nil {
		return nil
	}
	in := x.Shape()[1]
	w := b.param(name+".w", Shape{out, in / groups, k, k}, 0, 1)
	gain := b.param(name+".gain", Shape{out}, 1, 0.1)
	bias := b.param(name+".b", Shape{out}, 0, 0.1)
	what := b.t(b.g.WS(w, gain, WSOpts{}))
	return b.t(b.g.Conv2D(x, what, bias, ConvOpts{Stride: stride, Groups: groups, Same: true}))
}

// linear adds a linear layer with bias.
func (b *builder) linear(name string, x *Tensor, out int) *Tensor {
	if b.err != nil {
		return nil
	}
	in := x.Size() / x.Shape()[0]
	w := b.param(name+".w", Shape{out, in}, 0, 1/math.Sqrt(float64(in)))
	bias := b.param(name+".b", Shape{out}, 0, 0.1)
	return b.t(b.g.Linear(x, w, bias))
}

// block adds an NFNet block: act*beta, (pooled) shortcut conv when the
// shape changes, 1x1 -> grouped 3x3 (stride) -> 3x3 -> 1x1, SE, drop
// path, skip gain and the residual.
func (b *builder) block(name string, x *Tensor, out, stride int, beta, dropRate float64) *Tensor {
	if b.err != nil {
		return nil
	}
	g := b.g
	gelu := ref.ActGELUTanh
	in := x.Shape()[1]
	h := b.t(g.Act(x, gelu, ref.GammaGELU))
	h = b.t(g.Scale(h, beta))
	shortcut := x
	if stride > 1 {
		shortcut = b.wsConv(name+".down", b.t(g.AvgPool2x2(h)), out, 1, 1, 1)
	} else if in != out {
		shortcut = b.wsConv(name+".down", h, out, 1, 1, 1)
	}
	mid := max(out/2, 2)
	h = b.wsConv(name+".conv1", h, mid, 1, 1, 1)
	h = b.wsConv(name+".conv2", b.t(g.Act(h, gelu, ref.GammaGELU)), mid, 3, stride, 2)
	h = b.wsConv(name+".conv2b", b.t(g.Act(h, gelu, ref.GammaGELU)), mid, 3, 1, 2)
	h = b.wsConv(name+".conv3", b.t(g.Act(h, gelu, ref.GammaGELU)), out, 1, 1, 1)
	// Squeeze-excite: 2 * sigmoid(fc2(relu(fc1(mean_hw(h))))) * h.
	z := b.linear(name+".fc1", b.t(g.GlobalMean(h)), max(out/2, 1))
	z = b.linear(name+".fc2", b.t(g.Act(z, ref.ActReLU, 1)), out)
	h = b.t(g.SEGate(h, z, 2))
	if dropRate > 0 {
		h = b.t(g.DropPath(h, dropRate))
	}
	// skip_gain starts at 0 in NFNets; a test starts it away from 0 so
	// that gradients flow through the branch.
	skip := b.param(name+".skip_gain", Shape{1}, 0.8, 0)
	return b.t(g.Residual(shortcut, h, skip, 0.2))
}

// smallNet builds a two-block NFNet-like classifier of [n, 3, hw, hw]
// images into k classes, ending in label-smoothed cross-entropy.
func smallNet(n, hw, k int, dropRate, dropout float64) (b *builder, x, labels, loss *Tensor) {
	b, x, labels, logits := smallNetLogits(n, hw, k, dropRate, dropout)
	loss = b.t(b.g.SoftmaxCE(logits, labels, 0.1))
	if b.err == nil {
		b.g.Keep(loss)
	}
	return b, x, labels, loss
}

// smallNetLogits is smallNet up to the logits.
func smallNetLogits(n, hw, k int, dropRate, dropout float64) (b *builder, x, labels, logits *Tensor) {
	b = newBuilder()
	g := b.g
	x = b.t(g.Input("x", Shape{n, 3, hw, hw}))
	labels = b.t(g.Labels("labels", n))
	gelu := ref.ActGELUTanh
	h := b.wsConv("stem", x, 8, 3, 2, 1)
	h = b.block("b0", h, 8, 1, 1, dropRate)
	h = b.block("b1", h, 16, 2, 1/math.Sqrt(1+0.04), dropRate)
	h = b.wsConv("final", h, 16, 1, 1, 1)
	h = b.t(g.Act(h, gelu, ref.GammaGELU))
	h = b.t(g.GlobalMean(h))
	if dropout > 0 {
		h = b.t(g.Dropout(h, dropout))
	}
	logits = b.linear("head", h, k)
	return b, x, labels, logits
}

// assertClose fails when |got-want| > atol + rtol*|want| anywhere.
func assertClose(t *testing.T, what string, got, want []float32, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d elements, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if !(math.Abs(g-w) <= atol+rtol*math.Abs(w)) {
			if bad < 3 {
				t.Errorf("%s[%d] = %v, want %v (atol %g, rtol %g)", what, i, g, w, atol, rtol)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d elements out of tolerance", what, bad, len(want))
	}
}

func maxAbs(v []float32) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(float64(x)))
	}
	return m
}

func to64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
