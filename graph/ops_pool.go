package graph

import (
	"github.com/nfvk/nfvk/kernels/ref"
)

// Pooling: NFNet's 2x2 stride-2 SAME average pool (the transition
// shortcut) and the global spatial mean (SE squeeze and head).

// AvgPool2x2 adds a 2x2, stride-2 average pool with TF "SAME" padding that
// averages over the valid elements only (timm's ceil_mode=True,
// count_include_pad=False): output ceil(H/2) x ceil(W/2).
func (g *Graph) AvgPool2x2(x *Tensor) (*Tensor, error) { return g.add1(&avgPool{}, x) }

type avgPool struct{ s ref.PoolShape }

func (*avgPool) name() string { return "avgpool2x2" }
func (o *avgPool) infer(ins []*Tensor) ([]Shape, error) {
	if err := needRank("x", ins[0], 4); err != nil {
		return nil, err
	}
	n, c, h, w := nchw(ins[0])
	o.s = ref.AvgPoolSameShape(n, c, h, w, 2, 2)
	if err := o.s.Validate(); err != nil {
		return nil, err
	}
	return []Shape{{n, c, o.s.OutH(), o.s.OutW()}}, nil
}
func (o *avgPool) cpu32(_ *cpuStep, in, out [][]float32) { ref.AvgPool2D(o.s, in[0], out[0]) }
func (o *avgPool) cpu64(_ *cpuStep, in, out [][]float64) { ref.AvgPool2D(o.s, in[0], out[0]) }
func (o *avgPool) grad(g *Graph, _ *Node, d []*Tensor, _ []bool) ([]*Tensor, error) {
	dx, err := g.add1(&avgPoolBackward{s: o.s}, d[0])
	return []*Tensor{dx}, err
}
func (*avgPool) halfSlots() (ins, outs []bool) { return []bool{true}, []bool{true} }
func (o *avgPool) lower(l *lowering, n *Node) error {
	return l.b.AvgPool2D(o.s, l.mem(n.ins[0]), l.mem(n.outs[0]))
}

type avgPoolBackward struct {
	firstOrder
	s ref.PoolShape
}

func (*avgPoolBackward) name() string { return "avgpool2x2 backward" }
func (o *avgPoolBackward) infer([]*Tensor) ([]Shape, error) {
	return []Shape{{o.s.N, o.s.C, o.s.H, o.s.W}}, nil
}
func (o *avgPoolBackward) cpu32(_ *cpuStep, in, out [][]float32) {
	ref.AvgPool2DBackward(o.s, in[0], out[0])
}
func (o *avgPoolBackward) cpu64(_ *cpuStep, in, out [][]float64) {
	ref.AvgPool2DBackward(o.s, in[0], out[0])
}
func (*avgPoolBackward) halfSlots() (ins, outs []bool) { return []bool{true}, []bool{true} }
func (o *avgPoolBackward) lower(l *lowering, n *Node) error {
	return l.b.AvgPool2DBackward(o.s, l.mem(n.ins[0]), l.mem(n.outs[0]))
}

// GlobalMean adds y[n, c] = mean over h, w of x[n, c, h, w].
func (g *Graph) GlobalMean(x *Tensor) (*Tensor, error) { return g.add1(&globalMean{}, x) }

type globalMean struct{ s ref.NCHWShape }

func (*globalMean) name() string { return "global mean" }
func (o *globalMean) infer(ins []*Tensor) ([]Shape, error) {
	if err := needRank("x", ins[0], 4); err != nil {
		return nil, err
	}
	n, c, h, w := nchw(ins[0])
	o.s = ref.NCHWShape{N: n, C: c, H: h, W: w}
	return []Shape{{n, c}}, nil
}
func (o *globalMean) cpu32(_ *cpuStep, in, out [][]float32) { ref.GlobalAvgPool(o.s, in[0], out[0]) }
func (o *globalMean) cpu64(_ *cpuStep, in, out [][]float64) { ref.GlobalAvgPool(o.s, in[0], out[0]) }
func (o *globalMean) grad(g *Graph, _ *Node, d []*Tensor, _ []bool) ([]*Tensor, error) {
	dx, err := g.add1(&globalMeanBackward{s: o.s}, d[0])
	return []*Tensor{dx}, err
}

// The mean, one value per plane, stays float32: the SE's linears and the
// head read it.
func (*globalMean) halfSlots() (ins, outs []bool) { return []bool{true}, []bool{false} }
func (o *globalMean) lower(l *lowering, n *Node) error {
	return l.b.GlobalAvgPool(o.s, l.mem(n.ins[0]), l.mem(n.outs[0]))
}

type globalMeanBackward struct {
	firstOrder
	s ref.NCHWShape
}

func (*globalMeanBackward) name() string { return "global mean backward" }
func (o *globalMeanBackward) infer([]*Tensor) ([]Shape, error) {
	return []Shape{{o.s.N, o.s.C, o.s.H, o.s.W}}, nil
}
func (o *globalMeanBackward) cpu32(_ *cpuStep, in, out [][]float32) {
	ref.GlobalAvgPoolBackward(o.s, in[0], out[0])
}
func (o *globalMeanBackward) cpu64(_ *cpuStep, in, out [][]float64) {
	ref.GlobalAvgPoolBackward(o.s, in[0], out[0])
}
func (*globalMeanBackward) halfSlots() (ins, outs []bool) { return []bool{false}, []bool{true} }
func (o *globalMeanBackward) lower(l *lowering, n *Node) error {
	return l.b.GlobalAvgPoolBackward(o.s, l.mem(n.ins[0]), l.mem(n.outs[0]))
}
