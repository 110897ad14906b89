package graph

import (
	"github.com/nfvk/nfvk/kernels/ref"
)

// Elementwise ops: activations with gamma, add, mul, scale.

// Act is an activation function (ref.ActGELUTanh, ref.ActReLU, ...).
type Act = ref.Act

// Act adds y = gamma * act(x).
func (g *Graph) Act(x *Tensor, a Act, gamma float64) (*Tensor, error) {
	return g.add1(&act{a: a, gamma: gamma}, x)
}

type act struct {
	a     Act
	gamma float64
}

func (o *act) name() string { return "act " + o.a.String() }
func (o *act) infer(ins []*Tensor) ([]Shape, error) {
	if err := sameShape(ins[0], ins[0]); err != nil {
		return nil, err
	}
	return []Shape{ins[0].shape}, nil
}
func (o *act) cpu32(_ *cpuStep, in, out [][]float32) { ref.Activate(o.a, o.gamma, in[0], out[0]) }
func (o *act) cpu64(_ *cpuStep, in, out [][]float64) { ref.Activate(o.a, o.gamma, in[0], out[0]) }
func (o *act) grad(g *Graph, n *Node, d []*Tensor, _ []bool) ([]*Tensor, error) {
	dx, err := g.add1(&actBackward{a: o.a, gamma: o.gamma}, n.ins[0], d[0])
	return []*Tensor{dx}, err
}
func (o *act) halfSlots() (ins, outs []bool) { return []bool{true}, []bool{true} }
func (o *act) lower(l *lowering, n *Node) error {
	return l.b.Activation(o.a, float32(o.gamma), l.mem(n.ins[0]), l.mem(n.outs[0]))
}

// actBackward is dx = gamma * act'(x) * dy.
type actBackward struct {
	firstOrder
	a     Act
	gamma float64
}

func (o *actBackward) name() string { return "act " + o.a.String() + " backward" }
func (o *actBackward) infer(ins []*Tensor) ([]Shape, error) {
	if err := sameShape(ins[0], ins[1]); err != nil {
		return nil, err
	}
	return []Shape{ins[0].shape}, nil
}
func (o *actBackward) cpu32(_ *cpuStep, in, out [][]float32) {
	ref.ActivateBackward(o.a, o.gamma, in[0], in[1], out[0])
}
func (o *actBackward) cpu64(_ *cpuStep, in, out [][]float64) {
	ref.ActivateBackward(o.a, o.gamma, in[0], in[1], out[0])
}
func (o *actBackward) halfSlots() (ins, outs []bool) { return []bool{true, true}, []bool{true} }
func (o *actBackward) lower(l *lowering, n *Node) error {
	return l.b.ActivationBackward(o.a, float32(o.gamma), l.mem(n.ins[0]), l.mem(n.ins[1]), l.mem(n.outs[0]))
}

// Add adds a + b (same shapes).
func (g *Graph) Add(a, b *Tensor) (*Tensor, error) { return g.add1(add{}, a, b) }

type add struct{}

func (add) name() string { return "add" }
func (add) infer(ins []*Tensor) ([]Shape, error) {
	if err := sameShape(ins[0], ins[1]); err != nil {
		return nil, err
	}
	return []Shape{ins[0].shape}, nil
}

func addCPU[T ref.Float](in, out [][]T) {
	for i := range out[0] {
		out[0][i] = in[0][i] + in[1][i]
	}
}

func (add) cpu32(_ *cpuStep, in, out [][]float32) { addCPU(in, out) }
func (add) cpu64(_ *cpuStep, in, out [][]float64) { addCPU(in, out) }
func (add) grad(_ *Graph, _ *Node, d []*Tensor, _ []bool) ([]*Tensor, error) {
	return []*Tensor{d[0], d[0]}, nil
}

// inPlace: a gradient accumulation usually sums two temporaries that
// die here, so the sum can overwrite one of them.
func (add) inPlace() []int { return []int{0, 1} }

func (add) halfSlots() (ins, outs []bool) { return []bool{true, true}, []bool{true} }
func (add) lower(l *lowering, n *Node) error {
	// out = 1*b + 1*out with out holding a: the same float32 sum as the
	// CPU's a+b. In place that is one pass; otherwise copy a first.
	a, b, y := l.mem(n.ins[0]), l.mem(n.ins[1]), l.mem(n.outs[0])
	switch y {
	case a:
	case b:
		a, b = b, a
	default:
		if err := l.b.Copy(y, a); err != nil {
			return err
		}
	}
	return l.b.Axpby(1, b, 1, y)
}

// Mul adds the elementwise product a * b (same shapes).
func (g *Graph) Mul(a, b *Tensor) (*Tensor, error) { return g.add1(mul{}, a, b) }

type mul struct{}

func (mul) name() string { return "mul" }
func (mul) infer(ins []*Tensor) ([]Shape, error) {
	if err := sameShape(ins[0], ins[1]); err != nil {
		return nil, err
	}
	return []Shape{ins[0].shape}, nil
}
func (mul) cpu32(_ *cpuStep, in, out [][]float32) { ref.Mul(in[0], in[1], out[0]) }
func (mul) cpu64(_ *cpuStep, in, out [][]float64) { ref.Mul(in[0], in[1], out[0]) }
func (mul) grad(g *Graph, n *Node, d []*Tensor, need []bool) ([]*Tensor, error) {
	res := make([]*Tensor, 2)
	var err error
	if need[0] {
		if res[0], err = g.Mul(d[0], n.ins[1]); err != nil {
			return nil, err
		}
	}
	if need[1] {
		if res[1], err = g.Mul(d[0], n.ins[0]); err != nil {
			return nil, err
		}
	}
	return res, nil
}
func (mul) lower(l *lowering, n *Node) error { return l.noKernel(n) }

// Scale adds c * x for a constant c.
// A scaled activation, c * gamma * f(x), is one activation with gamma*c:
// one pass over memory instead of two (NFNet's act(x)*beta at every block
// input). The unscaled activation node is left for other users, and
// pruned from GPU steps when there are none.
func (g *Graph) Scale(x *Tensor, c float64) (*Tensor, error) {
	if x != nil && x.g == g && x.node != nil {
		if a, ok := x.node.op.(*act); ok {
			return g.Act(x.node.ins[0], a.a, a.gamma*c)
		}
	}
	return g.add1(&scale{c: c}, x)
}

type scale struct{ c float64 }

func (*scale) name() string { return "scale" }
func (*scale) infer(ins []*Tensor) ([]Shape, error) {
	if err := sameShape(ins[0], ins[0]); err != nil {
		return nil, err
	}
	return []Shape{ins[0].shape}, nil
}

// scaleCPU multiplies in T by c rounded to float32, as the GPU's
// float32 push constant does, so float32 runs match bit for bit.
func scaleCPU[T ref.Float](c float64, in, out []T) {
	k := T(float32(c))
	for i, v := range in {
		out[i] = k * v
	}
}

func (o *scale) cpu32(_ *cpuStep, in, out [][]float32) { scaleCPU(o.c, in[0], out[0]) }
func (o *scale) cpu64(_ *cpuStep, in, out [][]float64) {
	for i, v := range in[0] {
		out[0][i] = o.c * v
	}
}
func (o *scale) grad(g *Graph, _ *Node, d []*Tensor, _ []bool) ([]*Tensor, error) {
	dx, err := g.Scale(d[0], o.c)
	return []*Tensor{dx}, err
}
func (o *scale) lower(l *lowering, n *Node) error {
	return l.b.Scale(float32(o.c), l.mem(n.ins[0]), l.mem(n.outs[0]))
}
