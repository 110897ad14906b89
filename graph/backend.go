package graph

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/kernels/ref"
)

// Mem is a range of a planned buffer (Plan.Buffers[Buf]) as a Backend
// addresses it: a tensor's memory, a node's scratch, or the step's seed.
// The zero Mem (Size 0) is an absent optional operand.
type Mem struct {
	Buf       int
	Off, Size int64
	// Type is the tensor's storage: Float32, or Float16 or BFloat16 for
	// an activation stored in 16 bits (ApplyPrecision), for which the
	// backend runs the kernel's 16-bit storage variant.
	Type DType
}

// Absent reports whether m is the zero Mem.
func (m Mem) Absent() bool { return m.Size == 0 }

// CE is one softmax cross-entropy call: the operands present select what
// it computes (Loss, Correct and/or DLogits).
type CE struct {
	Logits, Labels Mem
	Smoothing      float32
	// Targets [N, K], when present, are soft targets used instead of
	// smoothed labels.
	Targets       Mem
	Loss, Correct Mem
	DLogits       Mem
	// DLoss is the gradient flowing into the mean loss (a constant).
	DLoss   float32
	Scratch Mem
}

// OptimTensor is one parameter of a fused optimizer step.
type OptimTensor struct {
	// Name appears in errors; Shape (the parameter's shape in its file
	// layout) decides AGC's units.
	Name  string
	Shape []int
	// Param, Grad and Momentum are the parameter's memory.
	Param, Grad, Momentum Mem
	// WeightDecay applies the step's weight decay; AGC clips it, in Units
	// units.
	WeightDecay, AGC bool
	Units            int
}

// Backend records ops onto a device: one method per kernel, with the
// memory of every operand resolved by the plan. Ops lower themselves onto
// it, so the graph core never depends on a GPU API; package graph/gpu
// implements it with Vulkan kernels. Scratch methods size the per-node
// scratch the memory plan reserves, in float32 elements.
type Backend interface {
	CEScratch(s ref.LossShape) int
	SumScratch(n int) int
	ResidualScratch(s ref.NCHWShape) int
	ConvFilterScratch(s ref.Conv2DShape) int

	Conv2D(s ref.Conv2DShape, x, w, bias, y Mem) error
	Conv2DBackwardData(s ref.Conv2DShape, dy, w, dx Mem) error
	// Conv2DBackwardFilter gets ConvFilterScratch(s) elements of scratch
	// (absent when 0): room for a long reduction's partial sums.
	Conv2DBackwardFilter(s ref.Conv2DShape, x, dy, dw, scratch Mem) error
	Conv2DBackwardBias(s ref.Conv2DShape, dy, db Mem) error
	WS(s ref.WSShape, o WSOpts, w, gain, what Mem) error
	WSBackward(s ref.WSShape, o WSOpts, w, gain, dwhat, dw, dgain Mem) error
	Activation(a ref.Act, gamma float32, x, y Mem) error
	ActivationBackward(a ref.Act, gamma float32, x, dy, dx Mem) error
	Copy(dst, src Mem) error
	Axpby(alpha float32, x Mem, beta float32, y Mem) error
	Scale(alpha float32, x, y Mem) error
	GEMM(s ref.GEMMShape, alpha float32, a, b Mem, beta float32, c Mem) error
	SoftmaxCrossEntropy(s ref.LossShape, c CE) error
	Sum(x, out, scratch Mem) error
	Mean(x, out, scratch Mem) error
	AvgPool2D(s ref.PoolShape, x, y Mem) error
	AvgPool2DBackward(s ref.PoolShape, dy, dx Mem) error
	GlobalAvgPool(s ref.NCHWShape, x, y Mem) error
	GlobalAvgPoolBackward(s ref.NCHWShape, dy, dx Mem) error
	SEGate(s ref.NCHWShape, gain float32, z, x, y Mem) error
	SEGateDZ(s ref.NCHWShape, gain float32, z, x, dy, dz Mem) error
	SEGateBackward(s ref.NCHWShape, gain float32, z, dy, dmean, dx Mem) error
	Residual(s ref.NCHWShape, alpha float32, shortcut, h, skipGain, mask, out Mem) error
	ResidualBackward(s ref.NCHWShape, alpha float32, h, skipGain, mask, dout, dshortcut, dh, dskipGain, scratch Mem) error
	DropPathMask(seed Mem, stream uint64, keep float64, mask Mem) error
	Dropout(seed Mem, stream uint64, rate float64, x, y Mem) error
	// OptimizerStep is AGC + weight decay + (Nesterov) momentum SGD of
	// every tensor, with the per-step values read from hyper
	// (agc.Hyper's encoding).
	OptimizerStep(ts []OptimTensor, hyper Mem) error
	// EMAUpdate is ema = d*ema + (1-d)*param element-wise, d from hyper.
	EMAUpdate(ema, param, hyper Mem) error
	// LossScaleCheck, LossScaleMul, LossScaleHyper and LossScaleUpdate
	// are dynamic loss scaling (kernels/lossscale.go): counts holds the
	// counters, scale S.
	LossScaleCheck(x, counts Mem) error
	LossScaleMul(x, scale, counts Mem, unscale bool) error
	LossScaleHyper(counts, hyper, out Mem) error
	LossScaleUpdate(scale, counts Mem, growth int) error
}

// lowering is what an op's lower method records with.
type lowering struct {
	b    Backend
	plan *Plan
	// over holds the converted copies the node being lowered uses in
	// place of its operands (Plan.Casts), by tensor ID.
	over map[int]Mem
}

// mem is t's memory (or the node's converted copy of it).
func (l *lowering) mem(t *Tensor) Mem {
	if m, ok := l.over[t.id]; ok {
		return m
	}
	return l.plan.Mem[t.id]
}

// optMem is t's memory, or the zero Mem for an absent optional input.
func (l *lowering) optMem(t *Tensor) Mem {
	if t == nil {
		return Mem{}
	}
	return l.mem(t)
}

// scratch is the node's planned scratch (the zero Mem when it has none).
func (l *lowering) scratch(n *Node) Mem { return l.plan.ScratchMem[n.id] }

// seed is the step's seed (two uint32: low, high), for random ops.
func (l *lowering) seed() Mem { return l.plan.Seed }

// noKernel is the lowering of an op whose GPU kernel has not landed.
func (l *lowering) noKernel(n *Node) error {
	return fmt.Errorf("graph: op %s has %w", n.op.name(), ErrNoKernel)
}

// unitsOf is the AGC unit count of a tensor of the given shape.
func unitsOf(shape []int, rule agc.UnitRule) (int, error) {
	u, _, err := agc.Units(shape, rule)
	return u, err
}

// Lower records every node the plan runs onto b, in execution order. It
// fails, naming the ops, when some op has no GPU kernel yet: never a
// silent CPU fallback.
func Lower(g *Graph, p *Plan, b Backend) error { return LowerPhase(g, p, b, -1) }

// LowerPhase is Lower for the nodes of one phase (-1: all).
func LowerPhase(g *Graph, p *Plan, b Backend, phase int) error {
	l := &lowering{b: b, plan: p}
	var missing []string
	for _, n := range g.nodes {
		if !p.Run[n.id] || (phase >= 0 && n.phase != phase) {
			continue // dead (nothing the step keeps depends on it), or another phase
		}
		if err := l.lowerNode(n); err != nil {
			if errors.Is(err, ErrNoKernel) {
				if !slices.Contains(missing, n.op.name()) {
					missing = append(missing, n.op.name())
				}
				continue
			}
			return fmt.Errorf("graph: lower node %d %v: %w", n.id, n, err)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("graph: op %s has %w", missing[0], ErrNoKernel)
	}
	return fmt.Errorf("graph: ops %s have %w", strings.Join(missing, ", "), ErrNoKernel)
}
