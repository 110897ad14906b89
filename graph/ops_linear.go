package graph

import (
	"fmt"

	"github.com/nfvk/nfvk/kernels/ref"
)

// Linear adds y[N, Out] = x[N, In] w^T + b with w [Out, In] (PyTorch's
// layout) and b [Out] or nil. A rank-4 x [N, C, 1, 1] is read as [N, C].
//
// On the GPU every pass is one GEMM (BenchmarkLinearLowering: 2-28x the
// 1x1-conv kernels on F0's head and SE linears); the bias and its
// gradient are rank-1 GEMMs against a constant column of N ones (a
// fourth input), which broadcast b over the rows and sum dy over them.
func (g *Graph) Linear(x, w, b *Tensor) (*Tensor, error) {
	var ones *Tensor
	if b != nil && x != nil && x.g == g && len(x.shape) >= 2 {
		var err error
		if ones, err = g.ones(x.shape[0]); err != nil {
			return nil, err
		}
	}
	return g.add1(&linear{}, x, w, b, ones)
}

// ones returns the graph's constant vector of n ones.
func (g *Graph) ones(n int) (*Tensor, error) {
	if t := g.onesOf[n]; t != nil {
		return t, nil
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = 1
	}
	t, err := g.Constant(fmt.Sprintf("ones[%d]", n), Shape{n}, v)
	if err != nil {
		return nil, err
	}
	if g.onesOf == nil {
		g.onesOf = map[int]*Tensor{}
	}
	g.onesOf[n] = t
	return t, nil
}

type linear struct{ s ref.LinearShape }

func (*linear) name() string { return "linear" }
func (o *linear) infer(ins []*Tensor) ([]Shape, error) {
	x, w, b := ins[0], ins[1], ins[2]
	if err := needRank("w", w, 2); err != nil {
		return nil, err
	}
	if x == nil || len(x.shape) < 2 || x.dtype != Float32 {
		return nil, fmt.Errorf("x must be f32 of rank >= 2")
	}
	n := x.shape[0]
	in := x.Size() / n
	if in != w.shape[1] {
		return nil, fmt.Errorf("x has %d features per sample, w wants %d", in, w.shape[1])
	}
	if b != nil && (len(b.shape) != 1 || b.shape[0] != w.shape[0]) {
		return nil, fmt.Errorf("bias %v, want [%d]", b.shape, w.shape[0])
	}
	if ones := ins[3]; b != nil && (ones == nil || ones.role != Constant || !ones.shape.Equal(Shape{n})) {
		return nil, fmt.Errorf("a bias needs the constant ones[%d]", n)
	}
	o.s = ref.LinearShape{N: n, In: in, Out: w.shape[0]}
	return []Shape{{n, o.s.Out}}, nil
}
func (o *linear) cpu32(_ *cpuStep, in, out [][]float32) { ref.Linear(o.s, in[0], in[1], in[2], out[0]) }
func (o *linear) cpu64(_ *cpuStep, in, out [][]float64) { ref.Linear(o.s, in[0], in[1], in[2], out[0]) }
func (o *linear) grad(g *Graph, n *Node, d []*Tensor, need []bool) ([]*Tensor, error) {
	res := make([]*Tensor, 4)
	var err error
	if need[0] {
		if res[0], err = g.add1(&linearData{s: o.s, x: n.ins[0].shape}, d[0], n.ins[1]); err != nil {
			return nil, err
		}
	}
	if need[1] {
		if res[1], err = g.add1(&linearWeight{s: o.s}, n.ins[0], d[0]); err != nil {
			return nil, err
		}
	}
	if need[2] && n.ins[2] != nil {
		if res[2], err = g.add1(&linearBias{s: o.s}, d[0], n.ins[3]); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func (o *linear) lower(l *lowering, n *Node) error {
	x, w, y := l.mem(n.ins[0]), l.mem(n.ins[1]), l.mem(n.outs[0])
	beta := float32(0)
	if n.ins[2] != nil {
		// y = ones[N x 1] b[1 x Out], then y += x w^T.
		if err := l.b.GEMM(ref.GEMMShape{M: o.s.N, N: o.s.Out, K: 1}, 1, l.mem(n.ins[3]), l.mem(n.ins[2]), 0, y); err != nil {
			return err
		}
		beta = 1
	}
	return l.b.GEMM(ref.GEMMShape{M: o.s.N, N: o.s.Out, K: o.s.In, TransB: true}, 1, x, w, beta, y)
}

type linearData struct {
	firstOrder
	s ref.LinearShape
	x Shape
}

func (*linearData) name() string                       { return "linear backward data" }
func (o *linearData) infer([]*Tensor) ([]Shape, error) { return []Shape{o.x}, nil }
func (o *linearData) cpu32(_ *cpuStep, in, out [][]float32) {
	ref.LinearBackwardData(o.s, in[0], in[1], out[0])
}
func (o *linearData) cpu64(_ *cpuStep, in, out [][]float64) {
	ref.LinearBackwardData(o.s, in[0], in[1], out[0])
}

// lower: dx[N, In] = dy[N, Out] w[Out, In].
func (o *linearData) lower(l *lowering, n *Node) error {
	return l.b.GEMM(ref.GEMMShape{M: o.s.N, N: o.s.In, K: o.s.Out}, 1, l.mem(n.ins[0]), l.mem(n.ins[1]), 0, l.mem(n.outs[0]))
}

type linearWeight struct {
	firstOrder
	s ref.LinearShape
}

func (*linearWeight) name() string                       { return "linear backward weight" }
func (o *linearWeight) infer([]*Tensor) ([]Shape, error) { return []Shape{{o.s.Out, o.s.In}}, nil }
func (o *linearWeight) cpu32(_ *cpuStep, in, out [][]float32) {
	ref.LinearBackwardWeight(o.s, in[0], in[1], out[0])
}
func (o *linearWeight) cpu64(_ *cpuStep, in, out [][]float64) {
	ref.LinearBackwardWeight(o.s, in[0], in[1], out[0])
}

// lower: dw[Out, In] = dy^T x.
func (o *linearWeight) lower(l *lowering, n *Node) error {
	return l.b.GEMM(ref.GEMMShape{M: o.s.Out, N: o.s.In, K: o.s.N, TransA: true}, 1, l.mem(n.ins[1]), l.mem(n.ins[0]), 0, l.mem(n.outs[0]))
}

type linearBias struct {
	firstOrder
	s ref.LinearShape
}

func (*linearBias) name() string                       { return "linear backward bias" }
func (o *linearBias) infer([]*Tensor) ([]Shape, error) { return []Shape{{o.s.Out}}, nil }
func (o *linearBias) cpu32(_ *cpuStep, in, out [][]float32) {
	ref.LinearBackwardBias(o.s, in[0], out[0])
}
func (o *linearBias) cpu64(_ *cpuStep, in, out [][]float64) {
	ref.LinearBackwardBias(o.s, in[0], out[0])
}

// lower: db[Out x 1] = dy^T ones[N x 1].
func (o *linearBias) lower(l *lowering, n *Node) error {
	return l.b.GEMM(ref.GEMMShape{M: o.s.Out, N: 1, K: o.s.N, TransA: true}, 1, l.mem(n.ins[0]), l.mem(n.ins[1]), 0, l.mem(n.outs[0]))
}
