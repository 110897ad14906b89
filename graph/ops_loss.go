package graph

import (
	"fmt"

	"github.com/nfvk/nfvk/kernels/ref"
)

// The loss and whole-tensor reductions.

// SoftmaxCE adds the mean softmax cross-entropy of logits [N, K] against
// integer labels [N] with label smoothing (PyTorch's label_smoothing): a
// scalar.
func (g *Graph) SoftmaxCE(logits, labels *Tensor, smoothing float64) (*Tensor, error) {
	return g.add1(&softmaxCE{eps: smoothing}, logits, labels)
}

type softmaxCE struct {
	eps float64
	s   ref.LossShape
}

func (*softmaxCE) name() string { return "softmax cross-entropy" }
func (o *softmaxCE) infer(ins []*Tensor) ([]Shape, error) {
	logits, labels := ins[0], ins[1]
	if err := needRank("logits", logits, 2); err != nil {
		return nil, err
	}
	if labels == nil || labels.dtype != Int32 || len(labels.shape) != 1 || labels.shape[0] != logits.shape[0] {
		return nil, fmt.Errorf("labels must be i32 [%d]", logits.shape[0])
	}
	if o.eps < 0 || !(o.eps < 1) {
		return nil, fmt.Errorf("label smoothing %v outside [0, 1)", o.eps)
	}
	o.s = ref.LossShape{N: logits.shape[0], K: logits.shape[1]}
	return []Shape{{}}, nil
}

// labelInts converts class indices held as floats.
func labelInts[T ref.Float](v []T) []int {
	l := make([]int, len(v))
	for i, x := range v {
		l[i] = int(x)
	}
	return l
}

func (o *softmaxCE) cpu32(_ *cpuStep, in, out [][]float32) {
	out[0][0] = float32(ref.SoftmaxCrossEntropy(o.s, in[0], labelInts(in[1]), o.eps))
}
func (o *softmaxCE) cpu64(_ *cpuStep, in, out [][]float64) {
	out[0][0] = ref.SoftmaxCrossEntropy(o.s, in[0], labelInts(in[1]), o.eps)
}
func (o *softmaxCE) grad(g *Graph, n *Node, d []*Tensor, _ []bool) ([]*Tensor, error) {
	dx, err := g.add1(&softmaxCEBackward{eps: o.eps, s: o.s}, n.ins[0], n.ins[1], d[0])
	return []*Tensor{dx, nil}, err
}
func (o *softmaxCE) scratch(b Backend, _ *Node) int64 { return 4 * int64(b.CEScratch(o.s)) }
func (o *softmaxCE) lower(l *lowering, n *Node) error {
	return l.b.SoftmaxCrossEntropy(o.s, CE{Logits: l.mem(n.ins[0]), Labels: l.mem(n.ins[1]),
		Smoothing: float32(o.eps), Loss: l.mem(n.outs[0]), Scratch: l.scratch(n)})
}

type softmaxCEBackward struct {
	firstOrder
	eps float64
	s   ref.LossShape
}

func (*softmaxCEBackward) name() string { return "softmax cross-entropy backward" }
func (o *softmaxCEBackward) infer(ins []*Tensor) ([]Shape, error) {
	return []Shape{ins[0].shape}, nil
}
func (o *softmaxCEBackward) cpu32(_ *cpuStep, in, out [][]float32) {
	ref.SoftmaxCrossEntropyBackward(o.s, in[0], labelInts(in[1]), o.eps, float64(in[2][0]), out[0])
}
func (o *softmaxCEBackward) cpu64(_ *cpuStep, in, out [][]float64) {
	ref.SoftmaxCrossEntropyBackward(o.s, in[0], labelInts(in[1]), o.eps, in[2][0], out[0])
}
func (o *softmaxCEBackward) lower(l *lowering, n *Node) error {
	// The kernel takes the incoming gradient as a constant; Gradients
	// always seeds the loss with the constant 1.
	d := n.ins[2]
	run := func(seed float32) error {
		return l.b.SoftmaxCrossEntropy(o.s, CE{Logits: l.mem(n.ins[0]), Labels: l.mem(n.ins[1]),
			Smoothing: float32(o.eps), DLogits: l.mem(n.outs[0]), DLoss: seed})
	}
	if d.role != Constant {
		return lowerSeedScaled(l, n, d, run)
	}
	return run(d.init[0])
}

// Sum adds the sum of all elements of x: a scalar.
func (g *Graph) Sum(x *Tensor) (*Tensor, error) { return g.add1(&reduce{mean: false}, x) }

// Mean adds the mean of all elements of x: a scalar.
func (g *Graph) Mean(x *Tensor) (*Tensor, error) { return g.add1(&reduce{mean: true}, x) }

// reduce is a whole-tensor sum or mean.
type reduce struct{ mean bool }

func (o *reduce) name() string {
	if o.mean {
		return "mean"
	}
	return "sum"
}
func (o *reduce) infer(ins []*Tensor) ([]Shape, error) {
	if err := sameShape(ins[0], ins[0]); err != nil {
		return nil, err
	}
	return []Shape{{}}, nil
}

func reduceCPU[T ref.Float](mean bool, x, y []T) {
	if mean {
		y[0] = T(ref.Mean(x))
	} else {
		y[0] = T(ref.Sum(x))
	}
}

func (o *reduce) cpu32(_ *cpuStep, in, out [][]float32) { reduceCPU(o.mean, in[0], out[0]) }
func (o *reduce) cpu64(_ *cpuStep, in, out [][]float64) { reduceCPU(o.mean, in[0], out[0]) }
func (o *reduce) grad(g *Graph, n *Node, d []*Tensor, _ []bool) ([]*Tensor, error) {
	k := 1.0
	if o.mean {
		k = 1 / float64(n.ins[0].Size())
	}
	dx, err := g.add1(&broadcast{k: k, shape: n.ins[0].shape}, d[0])
	return []*Tensor{dx}, err
}
func (o *reduce) scratch(b Backend, n *Node) int64 {
	return 4 * int64(b.SumScratch(n.ins[0].Size()))
}
func (o *reduce) lower(l *lowering, n *Node) error {
	if o.mean {
		return l.b.Mean(l.mem(n.ins[0]), l.mem(n.outs[0]), l.scratch(n))
	}
	return l.b.Sum(l.mem(n.ins[0]), l.mem(n.outs[0]), l.scratch(n))
}

// broadcast is dx[i] = k * dy[0]: the gradient of Sum and Mean.
type broadcast struct {
	firstOrder
	k     float64
	shape Shape
}

func (*broadcast) name() string                       { return "broadcast" }
func (o *broadcast) infer([]*Tensor) ([]Shape, error) { return []Shape{o.shape}, nil }

func broadcastCPU[T ref.Float](k float64, dy, dx []T) {
	v := T(k * float64(dy[0]))
	for i := range dx {
		dx[i] = v
	}
}

func (o *broadcast) cpu32(_ *cpuStep, in, out [][]float32) { broadcastCPU(o.k, in[0], out[0]) }
func (o *broadcast) cpu64(_ *cpuStep, in, out [][]float64) { broadcastCPU(o.k, in[0], out[0]) }
func (o *broadcast) lower(l *lowering, n *Node) error {
	// The global-mean backward over one plane of all elements is
	// dx[i] = dy[0]/size: Mean's gradient; Sum's needs a rescale.
	size := o.shape.Size()
	dx := l.mem(n.outs[0])
	if err := l.b.GlobalAvgPoolBackward(ref.NCHWShape{N: 1, C: 1, H: 1, W: size}, l.mem(n.ins[0]), dx); err != nil {
		return err
	}
	if o.k == 1/float64(size) {
		return nil
	}
	return l.b.Scale(float32(o.k*float64(size)), dx, dx)
}

// Top1Correct adds the number of samples whose largest logit (the first
// on a tie) is at their label, as a float32 scalar: a metric, with no
// gradient.
func (g *Graph) Top1Correct(logits, labels *Tensor) (*Tensor, error) {
	return g.add1(&top1{}, logits, labels)
}

type top1 struct {
	firstOrder
	s ref.LossShape
}

func (*top1) name() string { return "top-1 correct" }
func (o *top1) infer(ins []*Tensor) ([]Shape, error) {
	ce := &softmaxCE{}
	if _, err := ce.infer(ins); err != nil {
		return nil, err
	}
	o.s = ce.s
	return []Shape{{}}, nil
}
func (o *top1) cpu32(_ *cpuStep, in, out [][]float32) {
	out[0][0] = float32(ref.Top1Correct(o.s, in[0], labelInts(in[1])))
}
func (o *top1) cpu64(_ *cpuStep, in, out [][]float64) {
	out[0][0] = float64(ref.Top1Correct(o.s, in[0], labelInts(in[1])))
}
func (o *top1) scratch(b Backend, _ *Node) int64 { return 4 * int64(b.CEScratch(o.s)) }
func (o *top1) lower(l *lowering, n *Node) error {
	return l.b.SoftmaxCrossEntropy(o.s, CE{Logits: l.mem(n.ins[0]), Labels: l.mem(n.ins[1]),
		Correct: l.mem(n.outs[0]), Scratch: l.scratch(n)})
}
