package graph

import (
	"fmt"

	"github.com/nfvk/nfvk/kernels/ref"
)

// SGD adds plain stochastic gradient descent, p -= lr * grad, for each
// parameter with a gradient (nil gradients are skipped). The update nodes
// write the parameters in place and come last in the step, after every
// read of the old values. lr is fixed when the step is recorded; SGDRate
// reads it every step, and Optimizer is NFNet's full update.
func (g *Graph) SGD(params, grads []*Tensor, lr float64) error {
	if len(params) != len(grads) {
		return fmt.Errorf("graph: sgd: %d params, %d gradients", len(params), len(grads))
	}
	for i, p := range params {
		if grads[i] == nil {
			continue
		}
		if p.role != Parameter {
			return fmt.Errorf("graph: sgd: %v is a %v, not a parameter", p, p.role)
		}
		if _, err := g.add(&sgd{lr: lr}, p, grads[i]); err != nil {
			return err
		}
	}
	return nil
}

type sgd struct {
	firstOrder
	lr float64
}

func (*sgd) name() string { return "sgd" }
func (*sgd) infer(ins []*Tensor) ([]Shape, error) {
	if err := sameShape(ins[0], ins[1]); err != nil {
		return nil, err
	}
	return nil, nil
}

// sgdCPU updates in place with the float32-rounded rate, as the GPU does.
func sgdCPU[T ref.Float](lr float64, p, g []T) {
	k := T(float32(-lr))
	for i := range p {
		p[i] += k * g[i]
	}
}

func (o *sgd) cpu32(_ *cpuStep, in, _ [][]float32) { sgdCPU(o.lr, in[0], in[1]) }
func (o *sgd) cpu64(_ *cpuStep, in, _ [][]float64) { sgdCPU(o.lr, in[0], in[1]) }
func (o *sgd) lower(l *lowering, n *Node) error {
	return l.b.Axpby(float32(-o.lr), l.mem(n.ins[1]), 1, l.mem(n.ins[0]))
}

// SGDRate is SGD with the learning rate read from lr, a one-element
// tensor (an Input fed every step, for schedules), so changing the rate
// never re-records the step.
func (g *Graph) SGDRate(params, grads []*Tensor, lr *Tensor) error {
	if len(params) != len(grads) {
		return fmt.Errorf("graph: sgd: %d params, %d gradients", len(params), len(grads))
	}
	if lr == nil || lr.g != g || lr.Size() != 1 || lr.dtype != Float32 {
		return fmt.Errorf("graph: sgd: learning rate %v must be one f32 value of this graph", lr)
	}
	for i, p := range params {
		if grads[i] == nil {
			continue
		}
		if p.role != Parameter {
			return fmt.Errorf("graph: sgd: %v is a %v, not a parameter", p, p.role)
		}
		if _, err := g.add(&sgdRate{}, p, grads[i], lr); err != nil {
			return err
		}
	}
	return nil
}

type sgdRate struct{ firstOrder }

func (*sgdRate) name() string { return "sgd" }
func (*sgdRate) infer(ins []*Tensor) ([]Shape, error) {
	if err := sameShape(ins[0], ins[1]); err != nil {
		return nil, err
	}
	return nil, nil
}

// sgdRateCPU is p + (-1*lr)*g rounded once, as ref.Residual (the
// reference of the kernel that runs it) computes it.
func sgdRateCPU[T ref.Float](p, g []T, lr T) {
	k := -float64(lr)
	for i := range p {
		p[i] = T(float64(p[i]) + k*float64(g[i]))
	}
}

func (o *sgdRate) cpu32(_ *cpuStep, in, _ [][]float32) { sgdRateCPU(in[0], in[1], in[2][0]) }
func (o *sgdRate) cpu64(_ *cpuStep, in, _ [][]float64) { sgdRateCPU(in[0], in[1], in[2][0]) }

// lower: the residual kernel computes out = shortcut + alpha*s[0]*h with
// s read from a buffer; over one "sample" of all the parameter's elements
// with alpha = -1, s = lr, shortcut = out = p and h = grad it is the
// update, in place.
func (o *sgdRate) lower(l *lowering, n *Node) error {
	p := l.mem(n.ins[0])
	s := ref.NCHWShape{N: 1, C: 1, H: 1, W: n.ins[0].Size()}
	return l.b.Residual(s, -1, p, l.mem(n.ins[1]), l.mem(n.ins[2]), Mem{}, p)
}
