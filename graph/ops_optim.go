package graph

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/kernels/ref"
)

// The NFNet update as ops of the graph: the fused AGC + weight decay +
// (Nesterov) momentum SGD step and the weight EMA. Both read the step's
// values (learning rate, momentum, AGC lambda, EMA decay, ...) from a
// small input tensor, agc.Hyper's encoding, written by the host before
// each step, so a schedule never re-records the step. Their nodes have no
// outputs: they update parameters, momentum and averages in place, and
// run in the order added, after every read of the old values.

// OptimTarget is one parameter the optimizer updates.
type OptimTarget struct {
	// Param, its gradient and its momentum buffer (a State of Param's
	// shape).
	Param, Grad, Momentum *Tensor
	// Shape is the parameter's shape in its file layout, which decides
	// AGC's units; nil means Param's shape.
	Shape []int
	// WeightDecay applies the step's weight decay; Clip lets AGC clip it.
	WeightDecay, Clip bool
}

// Optimizer adds the fused AGC + weight decay + SGD momentum update of
// every target (agc.SGD is its reference), with AGC's units by rule and
// the step's values read from hyper, an input of agc.HyperWords values.
func (g *Graph) Optimizer(hyper *Tensor, rule agc.UnitRule, ts []OptimTarget) error {
	if err := checkHyper(g, "optimizer", hyper); err != nil {
		return err
	}
	o := &optimizer{rule: rule}
	ins := []*Tensor{hyper}
	seen := map[*Tensor]bool{}
	for _, t := range ts {
		if t.Param == nil || t.Grad == nil || t.Momentum == nil {
			return fmt.Errorf("graph: optimizer: %v: parameter, gradient and momentum are all needed", t.Param)
		}
		if t.Param.role != Parameter || t.Momentum.role != OptimizerState || !t.Grad.Persistent() {
			return fmt.Errorf("graph: optimizer: %v: want a parameter (is a %v), a persistent gradient and optimizer state (is a %v)",
				t.Param, t.Param.role, t.Momentum.role)
		}
		if seen[t.Param] {
			return fmt.Errorf("graph: optimizer: %v given twice", t.Param)
		}
		seen[t.Param] = true
		shape := t.Shape
		if shape == nil {
			shape = t.Param.shape
		}
		if Shape(shape).Size() != t.Param.Size() {
			return fmt.Errorf("graph: optimizer: %v: file shape %v has another element count", t.Param, shape)
		}
		units := 0
		if t.Clip {
			var err error
			if units, err = unitsOf(shape, rule); err != nil {
				return fmt.Errorf("graph: optimizer: %v: %w", t.Param, err)
			}
		}
		o.ts = append(o.ts, optimMeta{name: t.Param.name, shape: slices.Clone(shape), wd: t.WeightDecay, clip: t.Clip, units: units})
		ins = append(ins, t.Param, t.Grad, t.Momentum)
	}
	_, err := g.add(o, ins...)
	return err
}

func checkHyper(g *Graph, op string, hyper *Tensor) error {
	if hyper == nil || hyper.g != g || hyper.Size() != agc.HyperWords || hyper.dtype != Float32 {
		return fmt.Errorf("graph: %s: step values %v must be %d f32 values of this graph", op, hyper, agc.HyperWords)
	}
	return nil
}

type optimMeta struct {
	name     string
	shape    []int
	wd, clip bool
	units    int
}

type optimizer struct {
	firstOrder
	rule agc.UnitRule
	ts   []optimMeta
}

func (*optimizer) name() string { return "optimizer" }
func (o *optimizer) infer(ins []*Tensor) ([]Shape, error) {
	for i := range o.ts {
		p, gr, m := ins[1+3*i], ins[2+3*i], ins[3+3*i]
		if err := sameShape(p, gr); err != nil {
			return nil, fmt.Errorf("%s gradient: %w", p.name, err)
		}
		if err := sameShape(p, m); err != nil {
			return nil, fmt.Errorf("%s momentum: %w", p.name, err)
		}
	}
	return nil, nil
}

// cpu32 runs agc.SGD with the decoded step values. The gradients are
// copied: agc.SGD leaves the clipped gradient in place of the gradient,
// the GPU kernel leaves the gradient be.
func (o *optimizer) cpu32(_ *cpuStep, in, _ [][]float32) {
	h, err := agc.DecodeHyper(in[0])
	if err != nil {
		panic(err)
	}
	sgd := h.SGD(o.rule)
	ps := make([]agc.Param, len(o.ts))
	for i, t := range o.ts {
		if !t.clip {
			sgd.Exclude = append(sgd.Exclude, t.name)
		}
		ps[i] = agc.Param{Name: t.name, Shape: t.shape, Value: in[1+3*i], Grad: slices.Clone(in[2+3*i]),
			Momentum: in[3+3*i], WeightDecay: t.wd}
	}
	if _, err := sgd.Step(ps); err != nil {
		panic(err) // the shapes were checked when the node was added
	}
}

// cpu64 rounds through float32: agc.SGD is a float32 reference (with
// float64 accumulation), and no float64 check differentiates an update.
func (o *optimizer) cpu64(s *cpuStep, in, _ [][]float64) {
	in32 := make([][]float32, len(in))
	for i, v := range in {
		in32[i] = to32(v)
	}
	o.cpu32(s, in32, nil)
	for i, v := range in32 {
		for j, x := range v {
			in[i][j] = float64(x)
		}
	}
}

func to32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func (o *optimizer) lower(l *lowering, n *Node) error {
	ts := make([]OptimTensor, len(o.ts))
	for i, t := range o.ts {
		ts[i] = OptimTensor{Name: t.name, Shape: t.shape, Param: l.mem(n.ins[1+3*i]), Grad: l.mem(n.ins[2+3*i]),
			Momentum: l.mem(n.ins[3+3*i]), WeightDecay: t.wd, AGC: t.clip, Units: t.units}
	}
	return l.b.OptimizerStep(ts, l.mem(n.ins[0]))
}

// EMA adds the weight EMA update avg = d*avg + (1-d)*param of every pair,
// d read from hyper (agc.EMADecay's warm-up is the host's). Add it after
// the Optimizer: the EMA of step t averages the parameters after step t.
func (g *Graph) EMA(hyper *Tensor, avgs, params []*Tensor) error {
	if err := checkHyper(g, "ema", hyper); err != nil {
		return err
	}
	if len(avgs) != len(params) || len(avgs) == 0 {
		return fmt.Errorf("graph: ema: %d averages for %d parameters", len(avgs), len(params))
	}
	ins := []*Tensor{hyper}
	for i, a := range avgs {
		if a == nil || params[i] == nil || a.role != Average || params[i].role != Parameter {
			return fmt.Errorf("graph: ema: pair %d (%v, %v): want an average and a parameter", i, a, params[i])
		}
		ins = append(ins, a, params[i])
	}
	_, err := g.add(&ema{}, ins...)
	return err
}

type ema struct{ firstOrder }

func (*ema) name() string { return "ema" }
func (*ema) infer(ins []*Tensor) ([]Shape, error) {
	for i := 1; i < len(ins); i += 2 {
		if err := sameShape(ins[i], ins[i+1]); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func (*ema) cpu32(_ *cpuStep, in, _ [][]float32) {
	d := 1 - float64(in[0][5]) // the encoding stores 1-d
	for i := 1; i < len(in); i += 2 {
		if err := agc.EMAUpdate(in[i], in[i+1], d); err != nil {
			panic(err)
		}
	}
}

func (e *ema) cpu64(s *cpuStep, in, _ [][]float64) {
	d := 1 - float64(float32(in[0][5]))
	for i := 1; i < len(in); i += 2 {
		for j, v := range in[i+1] {
			in[i][j] = d*in[i][j] + (1-d)*v
		}
	}
}

// lower updates every pair in one pass when the averages mirror the
// parameters' layout (Average tensors added in the parameters' order)
// and the pairs tile their extent of both pools, otherwise pair by pair:
// a pass over an extent with a gap would also average the parameters
// the EMA leaves out into their averages, and a pair given twice would
// be averaged once.
func (*ema) lower(l *lowering, n *Node) error {
	hyper := l.mem(n.ins[0])
	a0, p0 := l.mem(n.ins[1]), l.mem(n.ins[2])
	for i := 1; i < len(n.ins); i += 2 {
		a, p := l.mem(n.ins[i]), l.mem(n.ins[i+1])
		if a.Off < a0.Off {
			a0.Off = a.Off
		}
		if p.Off < p0.Off {
			p0.Off = p.Off
		}
	}
	mirrored := true
	var slots []Mem // each pair's place relative to the extents' start
	for i := 1; i < len(n.ins); i += 2 {
		a, p := l.mem(n.ins[i]), l.mem(n.ins[i+1])
		if a.Buf != a0.Buf || p.Buf != p0.Buf || a.Off-a0.Off != p.Off-p0.Off {
			mirrored = false
		}
		slots = append(slots, Mem{Off: p.Off - p0.Off, Size: p.Size})
	}
	slices.SortFunc(slots, func(x, y Mem) int { return cmp.Compare(x.Off, y.Off) })
	end := int64(0)
	for _, s := range slots {
		if s.Off != alignUp(end, l.plan.Align) {
			mirrored = false // a gap, or a pair given twice
		}
		end = s.Off + s.Size
	}
	if mirrored {
		return l.b.EMAUpdate(Mem{Buf: a0.Buf, Off: a0.Off, Size: end}, Mem{Buf: p0.Buf, Off: p0.Off, Size: end}, hyper)
	}
	for i := 1; i < len(n.ins); i += 2 {
		if err := l.b.EMAUpdate(l.mem(n.ins[i]), l.mem(n.ins[i+1]), hyper); err != nil {
			return err
		}
	}
	return nil
}

// Accumulate adds acc += scale*x in place (acc persistent, of x's shape):
// gradient accumulation over micro-batches sums scale = 1/K of each
// micro-batch's gradient into a State the optimizer then reads.
func (g *Graph) Accumulate(acc, x *Tensor, scale float64) error {
	if acc == nil || acc.g != g || !acc.Persistent() || acc.role == Input || acc.role == Constant {
		return fmt.Errorf("graph: accumulate: %v must be persistent state of this graph", acc)
	}
	_, err := g.add(&accumulate{scale: scale}, acc, x)
	return err
}

type accumulate struct {
	firstOrder
	scale float64
}

func (*accumulate) name() string { return "accumulate" }
func (*accumulate) infer(ins []*Tensor) ([]Shape, error) {
	return nil, sameShape(ins[0], ins[1])
}

// accumulateCPU rounds as the GPU's axpby: float32(scale)*x + 1*acc.
func accumulateCPU[T ref.Float](scale float64, acc, x []T) {
	k := T(float32(scale))
	for i := range acc {
		acc[i] = k*x[i] + acc[i]
	}
}

func (o *accumulate) cpu32(_ *cpuStep, in, _ [][]float32) { accumulateCPU(o.scale, in[0], in[1]) }
func (o *accumulate) cpu64(_ *cpuStep, in, _ [][]float64) { accumulateCPU(o.scale, in[0], in[1]) }
func (o *accumulate) lower(l *lowering, n *Node) error {
	return l.b.Axpby(float32(o.scale), l.mem(n.ins[1]), 1, l.mem(n.ins[0]))
}

// Zero sets each persistent tensor to 0 in place (the accumulators, after
// the update that read them).
func (g *Graph) Zero(ts ...*Tensor) error {
	for _, t := range ts {
		if t == nil || t.g != g || !t.Persistent() || t.role == Input || t.role == Constant {
			return fmt.Errorf("graph: zero: %v must be persistent state of this graph", t)
		}
		if _, err := g.add(&zero{}, t); err != nil {
			return err
		}
	}
	return nil
}

type zero struct{ firstOrder }

func (*zero) name() string                        { return "zero" }
func (*zero) infer([]*Tensor) ([]Shape, error)    { return nil, nil }
func (*zero) cpu32(_ *cpuStep, in, _ [][]float32) { clear(in[0]) }
func (*zero) cpu64(_ *cpuStep, in, _ [][]float64) { clear(in[0]) }

// lower scales by 0: the values are finite gradient sums (a NaN would
// stay, as it should: the run has diverged).
func (*zero) lower(l *lowering, n *Node) error {
	x := l.mem(n.ins[0])
	return l.b.Scale(0, x, x)
}
