// Package graphtest holds test networks for graph and its executors: the
// builders of the small NFNet-like networks that the graph core's tests
// (autodiff, memory plan, lowering) and the GPU executor's tests (GPU
// against CPU, replay, the optimizer and EMA ops) share, with seeded
// inputs and tolerance checks, so both test suites run the same graphs.
package graphtest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels/ref"
)

// Randn returns n seeded normal samples times scale.
func Randn(seed uint64, n int, scale float64) []float32 {
	r := rand.New(rand.NewPCG(seed, 11))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * scale)
	}
	return v
}

// Builder adds nodes and keeps the first error, so that a network reads
// as a list of layers; tests check Err once.
type Builder struct {
	G   *graph.Graph
	Err error
	// Params are the parameters in the order added; Init their seeded
	// initial values (executors start parameters at zero: write these).
	Params []*graph.Tensor
	Init   map[*graph.Tensor][]float32
	seed   uint64
}

// NewBuilder starts an empty graph.
func NewBuilder() *Builder { return &Builder{G: graph.New(), Init: map[*graph.Tensor][]float32{}} }

// T returns t, keeping err when it is the first.
func (b *Builder) T(t *graph.Tensor, err error) *graph.Tensor {
	if err != nil && b.Err == nil {
		b.Err = err
	}
	return t
}

// Param adds a parameter initialized with N(mean, scale^2) values.
func (b *Builder) Param(name string, shape graph.Shape, mean, scale float64) *graph.Tensor {
	p := b.T(b.G.Param(name, shape))
	if p == nil {
		return nil
	}
	b.seed++
	v := Randn(b.seed, shape.Size(), scale)
	for i := range v {
		v[i] += float32(mean)
	}
	b.Params = append(b.Params, p)
	b.Init[p] = v
	return p
}

// WSConv adds a scaled-WS conv with bias: NFNet's conv.
func (b *Builder) WSConv(name string, x *graph.Tensor, out, k, stride, groups int) *graph.Tensor {
	if b.Err != nil {
		return nil
	}
	in := x.Shape()[1]
	w := b.Param(name+".w", graph.Shape{out, in / groups, k, k}, 0, 1)
	gain := b.Param(name+".gain", graph.Shape{out}, 1, 0.1)
	bias := b.Param(name+".b", graph.Shape{out}, 0, 0.1)
	what := b.T(b.G.WS(w, gain, graph.WSOpts{}))
	return b.T(b.G.Conv2D(x, what, bias, graph.ConvOpts{Stride: stride, Groups: groups, Same: true}))
}

// Linear adds a linear layer with bias.
func (b *Builder) Linear(name string, x *graph.Tensor, out int) *graph.Tensor {
	if b.Err != nil {
		return nil
	}
	in := x.Size() / x.Shape()[0]
	w := b.Param(name+".w", graph.Shape{out, in}, 0, 1/math.Sqrt(float64(in)))
	bias := b.Param(name+".b", graph.Shape{out}, 0, 0.1)
	return b.T(b.G.Linear(x, w, bias))
}

// Block adds an NFNet block: act*beta, (pooled) shortcut conv when the
// shape changes, 1x1 -> grouped 3x3 (stride) -> 3x3 -> 1x1, SE, drop
// path, skip gain and the residual.
func (b *Builder) Block(name string, x *graph.Tensor, out, stride int, beta, dropRate float64) *graph.Tensor {
	if b.Err != nil {
		return nil
	}
	g := b.G
	gelu := ref.ActGELUTanh
	in := x.Shape()[1]
	h := b.T(g.Act(x, gelu, ref.GammaGELU))
	h = b.T(g.Scale(h, beta))
	shortcut := x
	if stride > 1 {
		shortcut = b.WSConv(name+".down", b.T(g.AvgPool2x2(h)), out, 1, 1, 1)
	} else if in != out {
		shortcut = b.WSConv(name+".down", h, out, 1, 1, 1)
	}
	mid := max(out/2, 2)
	h = b.WSConv(name+".conv1", h, mid, 1, 1, 1)
	h = b.WSConv(name+".conv2", b.T(g.Act(h, gelu, ref.GammaGELU)), mid, 3, stride, 2)
	h = b.WSConv(name+".conv2b", b.T(g.Act(h, gelu, ref.GammaGELU)), mid, 3, 1, 2)
	h = b.WSConv(name+".conv3", b.T(g.Act(h, gelu, ref.GammaGELU)), out, 1, 1, 1)
	// Squeeze-excite: 2 * sigmoid(fc2(relu(fc1(mean_hw(h))))) * h.
	z := b.Linear(name+".fc1", b.T(g.GlobalMean(h)), max(out/2, 1))
	z = b.Linear(name+".fc2", b.T(g.Act(z, ref.ActReLU, 1)), out)
	h = b.T(g.SEGate(h, z, 2))
	if dropRate > 0 {
		h = b.T(g.DropPath(h, dropRate))
	}
	// skip_gain starts at 0 in NFNets; a test starts it away from 0 so
	// that gradients flow through the branch.
	skip := b.Param(name+".skip_gain", graph.Shape{1}, 0.8, 0)
	return b.T(g.Residual(shortcut, h, skip, 0.2))
}

// AssertClose fails when |got-want| > atol + rtol*|want| anywhere.
func AssertClose(t testing.TB, what string, got, want []float32, atol, rtol float64) {
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

// MaxAbs is the largest magnitude in v.
func MaxAbs(v []float32) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(float64(x)))
	}
	return m
}

// MaxDiff is the largest |a[i]-b[i]| (a and b of one length).
func MaxDiff(a, b []float32) float64 {
	m := 0.0
	for i := range a {
		m = max(m, math.Abs(float64(a[i])-float64(b[i])))
	}
	return m
}

// To64 widens v.
func To64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// Must fails the test on an error.
func Must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
