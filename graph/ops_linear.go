package graph

import (
	"fmt"

	"github.com/nfvk/nfvk/kernels/ref"
)

// Linear adds y[N, Out] = x[N, In] w^T + b with w [Out, In] (PyTorch's
// layout) and b [Out] or nil. A rank-4 x [N, C, 1, 1] is read as [N, C].
func (g *Graph) Linear(x, w, b *Tensor) (*Tensor, error) { return g.add1(&linear{}, x, w, b) }

type linear struct{ s ref.LinearShape }

type linearShape ref.LinearShape

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
	o.s = ref.LinearShape{N: n, In: in, Out: w.shape[0]}
	return []Shape{{n, o.s.Out}}, nil
}
func (o *linear) cpu32(_ *cpuStep, in, out [][]float32) { ref.Linear(o.s, in[0], in[1], in[2], out[0]) }
func (o *linear) cpu64(_ *cpuStep, in, out [][]float64) { ref.Linear(o.s, in[0], in[1], in[2], out[0]) }
func (o *linear) grad(g *Graph, n *Node, d []*Tensor, need []bool) ([]*Tensor, error) {
	res := make([]*Tensor, 3)
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
		if res[2], err = g.add1(&linearBias{s: o.s}, d[0]); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// conv1x1 is the linear layer as a 1x1 convolution of [N, In, 1, 1]:
// the same memory layouts (x row-major [N, In], w [Out, In]), so the conv
// kernels compute the linear and its three gradients.
func (s linearShape) conv1x1() ref.Conv2DShape {
	return ref.Conv2DShape{N: s.N, C: s.In, H: 1, W: 1, O: s.Out, KH: 1, KW: 1, StrideH: 1, StrideW: 1, Groups: 1}
}

func (o *linear) lower(l *lowering, n *Node) error {
	return l.k.Conv2D(l.p, linearShape(o.s).conv1x1(), l.span(n.ins[0]), l.span(n.ins[1]), l.optSpan(n.ins[2]), l.span(n.outs[0]))
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
func (o *linearData) lower(l *lowering, n *Node) error {
	return l.k.Conv2DBackwardData(l.p, linearShape(o.s).conv1x1(), l.span(n.ins[0]), l.span(n.ins[1]), l.span(n.outs[0]))
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
func (o *linearWeight) lower(l *lowering, n *Node) error {
	return l.k.Conv2DBackwardFilter(l.p, linearShape(o.s).conv1x1(), l.span(n.ins[0]), l.span(n.ins[1]), l.span(n.outs[0]))
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
func (o *linearBias) lower(l *lowering, n *Node) error {
	return l.k.Conv2DBackwardBias(l.p, linearShape(o.s).conv1x1(), l.span(n.ins[0]), l.span(n.outs[0]))
}
