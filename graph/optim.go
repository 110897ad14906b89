package graph

import (
	"fmt"

	"github.com/nfvk/nfvk/kernels/ref"
)

// SGD adds plain stochastic gradient descent, p -= lr * grad, for each
// parameter with a gradient (nil gradients are skipped). The update nodes
// write the parameters in place and come last in the step, after every
// read of the old values. lr is fixed when the step is recorded; richer
// optimizers (momentum, AGC, per-step learning rates read from a buffer)
// are supplied as extra dispatches through CompileOptions.After.
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
	return l.k.Axpby(l.p, float32(-o.lr), l.span(n.ins[1]), 1, l.span(n.ins[0]))
}
