package graph

import (
	"fmt"
	"math"
	"slices"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/kernels/ref"
)

// Dynamic loss scaling (torch.cuda.amp.GradScaler, on the device): the
// loss gradient seed is the scale S, a persistent tensor, so every
// gradient comes out multiplied by S; before the update every gradient is
// checked for Inf/NaN and divided by S (zeroed after an overflow); the
// optimizer and EMA read step values with learning rate, momentum and
// EMA 1-d zeroed after an overflow (a skipped step); the step ends by
// halving S after an overflow or doubling it after Growth good steps.
// The state stays on the device: no host read-back per step.

// LossScale is the state of dynamic loss scaling in a graph.
type LossScale struct {
	// Scale is S (a scalar State); Counters holds ref.LossScaleCounters
	// uint32s stored as float32 bits: good steps, skipped steps, the
	// overflow flag.
	Scale, Counters *Tensor
	// Growth is the number of consecutive good steps that doubles S.
	Growth int
}

// NewLossScale adds the loss-scale state, named "loss_scale" and
// "loss_scale_counters". The host sets S (a power of two) before the
// first step; the counters start at 0.
func (g *Graph) NewLossScale(growth int) (*LossScale, error) {
	if growth < 1 {
		return nil, fmt.Errorf("graph: loss scale: growth interval %d, want >= 1", growth)
	}
	s, err := g.State("loss_scale", Shape{})
	if err != nil {
		return nil, err
	}
	c, err := g.State("loss_scale_counters", Shape{ref.LossScaleCounters})
	if err != nil {
		return nil, err
	}
	return &LossScale{Scale: s, Counters: c, Growth: growth}, nil
}

// GradientsScaled is Gradients with the loss gradient seeded by ls.Scale
// instead of 1: every gradient comes out times S.
func (g *Graph) GradientsScaled(loss *Tensor, params []*Tensor, ls *LossScale) ([]*Tensor, error) {
	if ls == nil || ls.Scale == nil || ls.Scale.g != g {
		return nil, fmt.Errorf("graph: gradients: no loss scale of this graph")
	}
	if loss == nil || loss.g != g || !sameShapeOK(loss.shape, ls.Scale.shape) {
		return nil, fmt.Errorf("graph: gradients: loss %v is not a scalar of this graph", loss)
	}
	return g.VJP([]*Tensor{loss}, []*Tensor{ls.Scale}, params)
}

func sameShapeOK(a, b Shape) bool {
	return len(a) == len(b) && a.Size() == b.Size()
}

// lowerSeedScaled records the loss gradient times a non-constant seed:
// the loss kernels take a constant seed, so they run with 1 and the
// result is scaled in place by the seed's tensor (the loss scale).
func lowerSeedScaled(l *lowering, n *Node, d *Tensor, run func(seed float32) error) error {
	if d.role != OptimizerState || d.Size() != 1 {
		return fmt.Errorf("graph: %v: the GPU kernel needs a constant loss gradient or a loss scale, %v is a %v", n, d, d.role)
	}
	if err := run(1); err != nil {
		return err
	}
	return l.b.LossScaleMul(l.mem(n.outs[0]), l.mem(d), Mem{}, false)
}

// Unscale adds the overflow check and the unscaling of the gradients
// the optimizer reads (persistent, float32): the flag is set if any is
// Inf or NaN, then each is divided by S, or zeroed after an overflow.
// Add it after the last write of the gradients, before the optimizer.
func (ls *LossScale) Unscale(grads []*Tensor) error {
	g := ls.Scale.g
	ins := []*Tensor{ls.Scale, ls.Counters}
	for _, t := range grads {
		if t == nil || t.g != g || (t.role != Gradient && t.role != OptimizerState) || t.dtype != Float32 {
			return fmt.Errorf("graph: loss scale: %v must be a float32 gradient (or state) of this graph", t)
		}
		ins = append(ins, t)
	}
	_, err := g.add(&lsUnscale{}, ins...)
	return err
}

// StepValues adds the optimizer's step values of this step: hyper with
// learning rate, momentum and EMA 1-d zeroed after an overflow. Give the
// result to Optimizer and EMA in place of hyper.
func (ls *LossScale) StepValues(hyper *Tensor) (*Tensor, error) {
	g := ls.Scale.g
	if err := checkHyper(g, "loss scale", hyper); err != nil {
		return nil, err
	}
	out, err := g.State("loss_scale_step/"+hyper.name, Shape{agc.HyperWords})
	if err != nil {
		return nil, err
	}
	_, err = g.add(&lsHyper{}, ls.Counters, hyper, out)
	return out, err
}

// Update adds the end of the step: S and the counters move on, the flag
// clears. Add it after every reader of the flag and of S.
func (ls *LossScale) Update() error {
	_, err := ls.Scale.g.add(&lsUpdate{growth: ls.Growth}, ls.Scale, ls.Counters)
	return err
}

func bitsOf(v []float32) [ref.LossScaleCounters]uint32 {
	var c [ref.LossScaleCounters]uint32
	for i := range c {
		c[i] = math.Float32bits(v[i])
	}
	return c
}

type lsUnscale struct{ firstOrder }

func (*lsUnscale) name() string                     { return "loss scale unscale" }
func (*lsUnscale) infer([]*Tensor) ([]Shape, error) { return nil, nil }
func (*lsUnscale) cpu32(_ *cpuStep, in, _ [][]float32) {
	for _, gr := range in[2:] {
		if ref.NonFinite(gr) {
			in[1][ref.LossScaleFlag] = math.Float32frombits(1)
		}
	}
	flag := math.Float32bits(in[1][ref.LossScaleFlag])
	for _, gr := range in[2:] {
		ref.LossScaleMul(gr, in[0][0], flag, true)
	}
}
func (o *lsUnscale) cpu64(s *cpuStep, in, _ [][]float64) { cpu64Via32(o.cpu32, s, in) }
func (*lsUnscale) lower(l *lowering, n *Node) error {
	scale, counts := l.mem(n.ins[0]), l.mem(n.ins[1])
	var grads []Mem
	for _, t := range n.ins[2:] {
		grads = append(grads, l.mem(t))
	}
	runs := adjacentRuns(grads, l.plan.Align)
	for _, m := range runs {
		if err := l.b.LossScaleCheck(m, counts); err != nil {
			return err
		}
	}
	for _, m := range runs {
		if err := l.b.LossScaleMul(m, scale, counts, true); err != nil {
			return err
		}
	}
	return nil
}

// adjacentRuns merges spans that follow each other in one buffer with
// only alignment padding between them into one span each, so that the
// gradients, which lie one after another in their role's pool, take one
// check and one multiply per pool rather than two dispatches per tensor.
// The padding holds no tensor (the next one would start there) and is
// never written, so it stays the zeros Compile allocated: finite, and
// zero after scaling.
func adjacentRuns(ms []Mem, align int64) []Mem {
	sorted := slices.Clone(ms)
	slices.SortFunc(sorted, func(a, b Mem) int {
		if a.Buf != b.Buf {
			return a.Buf - b.Buf
		}
		return int(a.Off - b.Off)
	})
	var runs []Mem
	for _, m := range sorted {
		if k := len(runs) - 1; k >= 0 && runs[k].Buf == m.Buf && m.Off == alignUp(runs[k].Off+runs[k].Size, align) {
			runs[k].Size = m.Off + m.Size - runs[k].Off
			continue
		}
		runs = append(runs, m)
	}
	return runs
}

type lsHyper struct{ firstOrder }

func (*lsHyper) name() string                     { return "loss scale step values" }
func (*lsHyper) infer([]*Tensor) ([]Shape, error) { return nil, nil }
func (*lsHyper) cpu32(_ *cpuStep, in, _ [][]float32) {
	h := make([]uint32, len(in[1]))
	for i, v := range in[1] {
		h[i] = math.Float32bits(v)
	}
	for i, w := range ref.LossScaleHyper(h, math.Float32bits(in[0][ref.LossScaleFlag])) {
		in[2][i] = math.Float32frombits(w)
	}
}
func (o *lsHyper) cpu64(s *cpuStep, in, _ [][]float64) { cpu64Via32(o.cpu32, s, in) }
func (*lsHyper) lower(l *lowering, n *Node) error {
	return l.b.LossScaleHyper(l.mem(n.ins[0]), l.mem(n.ins[1]), l.mem(n.ins[2]))
}

type lsUpdate struct {
	firstOrder
	growth int
}

func (*lsUpdate) name() string                     { return "loss scale update" }
func (*lsUpdate) infer([]*Tensor) ([]Shape, error) { return nil, nil }
func (o *lsUpdate) cpu32(_ *cpuStep, in, _ [][]float32) {
	s, c := ref.LossScaleUpdate(in[0][0], bitsOf(in[1]), uint32(o.growth))
	in[0][0] = s
	for i, w := range c {
		in[1][i] = math.Float32frombits(w)
	}
}
func (o *lsUpdate) cpu64(s *cpuStep, in, _ [][]float64) { cpu64Via32(o.cpu32, s, in) }
func (o *lsUpdate) lower(l *lowering, n *Node) error {
	return l.b.LossScaleUpdate(l.mem(n.ins[0]), l.mem(n.ins[1]), o.growth)
}

// cpu64Via32 runs an in-place float32 reference on float64 operands: the
// counters are bit patterns, which float64 holds exactly as the float32
// values they are stored as.
func cpu64Via32(f func(*cpuStep, [][]float32, [][]float32), s *cpuStep, in [][]float64) {
	in32 := make([][]float32, len(in))
	for i, v := range in {
		in32[i] = to32(v)
	}
	f(s, in32, nil)
	for i, v := range in32 {
		for j, x := range v {
			in[i][j] = float64(x)
		}
	}
}
