package graph

import (
	"fmt"

	"github.com/nfvk/nfvk/kernels/ref"
)

// SoftmaxCESoft adds the mean softmax cross-entropy of logits [N, K]
// against soft targets [N, K] (a float input: MixUp/CutMix mixtures, with
// any label smoothing already folded in, as timm's SoftTargetCrossEntropy
// takes them): mean over n of -sum_k targets[n,k] log_softmax(logits[n])[k].
// The targets get no gradient. It lowers onto the same loss kernel as
// SoftmaxCE, fed targets instead of labels.
func (g *Graph) SoftmaxCESoft(logits, targets *Tensor) (*Tensor, error) {
	return g.add1(&softmaxCESoft{}, logits, targets)
}

type softmaxCESoft struct{ s ref.LossShape }

func (*softmaxCESoft) name() string { return "soft-target softmax cross-entropy" }
func (o *softmaxCESoft) infer(ins []*Tensor) ([]Shape, error) {
	if err := needRank("logits", ins[0], 2); err != nil {
		return nil, err
	}
	if err := sameShape(ins[0], ins[1]); err != nil {
		return nil, fmt.Errorf("targets: %w", err)
	}
	o.s = ref.LossShape{N: ins[0].shape[0], K: ins[0].shape[1]}
	return []Shape{{}}, nil
}
func (o *softmaxCESoft) cpu32(_ *cpuStep, in, out [][]float32) {
	out[0][0] = float32(ref.SoftmaxCrossEntropySoft(o.s, in[0], in[1]))
}
func (o *softmaxCESoft) cpu64(_ *cpuStep, in, out [][]float64) {
	out[0][0] = ref.SoftmaxCrossEntropySoft(o.s, in[0], in[1])
}
func (o *softmaxCESoft) grad(g *Graph, n *Node, d []*Tensor, _ []bool) ([]*Tensor, error) {
	dx, err := g.add1(&softmaxCESoftBackward{s: o.s}, n.ins[0], n.ins[1], d[0])
	return []*Tensor{dx, nil}, err
}
func (o *softmaxCESoft) scratch(b Backend, _ *Node) int64 { return 4 * int64(b.CEScratch(o.s)) }
func (o *softmaxCESoft) lower(l *lowering, n *Node) error {
	return l.b.SoftmaxCrossEntropy(o.s, CE{Logits: l.mem(n.ins[0]), Targets: l.mem(n.ins[1]),
		Loss: l.mem(n.outs[0]), Scratch: l.scratch(n)})
}

type softmaxCESoftBackward struct {
	firstOrder
	s ref.LossShape
}

func (*softmaxCESoftBackward) name() string { return "soft-target softmax cross-entropy backward" }
func (o *softmaxCESoftBackward) infer(ins []*Tensor) ([]Shape, error) {
	return []Shape{ins[0].shape}, nil
}
func (o *softmaxCESoftBackward) cpu32(_ *cpuStep, in, out [][]float32) {
	ref.SoftmaxCrossEntropySoftBackward(o.s, in[0], in[1], float64(in[2][0]), out[0])
}
func (o *softmaxCESoftBackward) cpu64(_ *cpuStep, in, out [][]float64) {
	ref.SoftmaxCrossEntropySoftBackward(o.s, in[0], in[1], in[2][0], out[0])
}
func (o *softmaxCESoftBackward) lower(l *lowering, n *Node) error {
	d := n.ins[2]
	run := func(seed float32) error {
		return l.b.SoftmaxCrossEntropy(o.s, CE{Logits: l.mem(n.ins[0]), Targets: l.mem(n.ins[1]),
			DLogits: l.mem(n.outs[0]), DLoss: seed})
	}
	if d.role != Constant {
		return lowerSeedScaled(l, n, d, run)
	}
	return run(d.init[0])
}
