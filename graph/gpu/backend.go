package gpu

import (
	"fmt"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/kernels/ref"
)

// backend is graph.Backend on Vulkan kernels: every call resolves its
// operands' planned memory to spans of the executable's buffers and
// records the kernel into the program.
type backend struct {
	k    *kernels.Kernels
	p    *engine.Program
	bufs []*engine.Buffer
	// tables are the optimizer's tensor tables, owned by the executable.
	tables []*engine.Buffer
}

func (b *backend) span(m graph.Mem) engine.Span {
	if m.Absent() {
		return engine.Span{}
	}
	return b.bufs[m.Buf].Span().Sub(m.Off, m.Size)
}

func (b *backend) CEScratch(s ref.LossShape) int       { return kernels.CEScratch(s) }
func (b *backend) SumScratch(n int) int                { return kernels.SumScratch(n) }
func (b *backend) ResidualScratch(s ref.NCHWShape) int { return b.k.ResidualScratch(s) }
func (b *backend) ConvFilterScratch(s ref.Conv2DShape) int {
	return b.k.Conv2DBackwardFilterScratch(s)
}

func (b *backend) Conv2D(s ref.Conv2DShape, x, w, bias, y graph.Mem) error {
	d, err := storage("conv2d", x, w, y)
	if err != nil {
		return err
	}
	return b.k.Conv2DOf(b.p, d, s, b.span(x), b.span(w), b.span(bias), b.span(y))
}
func (b *backend) Conv2DBackwardData(s ref.Conv2DShape, dy, w, dx graph.Mem) error {
	d, err := storage("conv2d backward data", dy, w, dx)
	if err != nil {
		return err
	}
	return b.k.Conv2DBackwardDataOf(b.p, d, s, b.span(dy), b.span(w), b.span(dx))
}
func (b *backend) Conv2DBackwardFilter(s ref.Conv2DShape, x, dy, dw, scratch graph.Mem) error {
	d, err := storage("conv2d backward filter", x, dy)
	if err != nil {
		return err
	}
	return b.k.Conv2DBackwardFilterSplitOf(b.p, d, s, b.span(x), b.span(dy), b.span(dw), b.span(scratch))
}
func (b *backend) Conv2DBackwardBias(s ref.Conv2DShape, dy, db graph.Mem) error {
	d, err := storage("conv2d backward bias", dy)
	if err != nil {
		return err
	}
	return b.k.Conv2DBackwardBiasOf(b.p, d, s, b.span(dy), b.span(db))
}

// wsFormula is the kernel formula of a graph WS.
func wsFormula(o graph.WSOpts) kernels.WSFormula {
	if o.Formula == graph.WSTimm {
		gamma, eps := o.TimmParams()
		return kernels.WSTimm(float32(gamma), float32(eps))
	}
	return kernels.WSDeepMind
}

func (b *backend) WS(s ref.WSShape, o graph.WSOpts, w, gain, what graph.Mem) error {
	d, err := storage("ws", what)
	if err != nil {
		return err
	}
	return b.k.WSOf(b.p, d, s, wsFormula(o), b.span(w), b.span(gain), b.span(what))
}
func (b *backend) WSBackward(s ref.WSShape, o graph.WSOpts, w, gain, dwhat, dw, dgain graph.Mem) error {
	return b.k.WSBackward(b.p, s, wsFormula(o), b.span(w), b.span(gain), b.span(dwhat), b.span(dw), b.span(dgain))
}
func (b *backend) Activation(a ref.Act, gamma float32, x, y graph.Mem) error {
	d, err := storage("activation", x, y)
	if err != nil {
		return err
	}
	return b.k.ActivationOf(b.p, d, a, gamma, b.span(x), b.span(y))
}
func (b *backend) ActivationBackward(a ref.Act, gamma float32, x, dy, dx graph.Mem) error {
	d, err := storage("activation backward", x, dy, dx)
	if err != nil {
		return err
	}
	return b.k.ActivationBackwardOf(b.p, d, a, gamma, b.span(x), b.span(dy), b.span(dx))
}
func (b *backend) Copy(dst, src graph.Mem) error {
	d, err := storage("copy", dst, src)
	if err != nil {
		return err
	}
	return b.k.CopyOf(b.p, d, b.span(dst), b.span(src))
}
func (b *backend) Axpby(alpha float32, x graph.Mem, beta float32, y graph.Mem) error {
	d, err := storage("axpby", x, y)
	if err != nil {
		return err
	}
	return b.k.AxpbyOf(b.p, d, alpha, b.span(x), beta, b.span(y))
}
func (b *backend) Scale(alpha float32, x, y graph.Mem) error {
	return b.k.Scale(b.p, alpha, b.span(x), b.span(y))
}
func (b *backend) GEMM(s ref.GEMMShape, alpha float32, x, y graph.Mem, beta float32, c graph.Mem) error {
	return b.k.GEMM(b.p, s, alpha, b.span(x), b.span(y), beta, b.span(c))
}
func (b *backend) SoftmaxCrossEntropy(s ref.LossShape, c graph.CE) error {
	return b.k.SoftmaxCrossEntropy(b.p, s, kernels.CE{Logits: b.span(c.Logits), Labels: b.span(c.Labels),
		Smoothing: c.Smoothing, Loss: b.span(c.Loss), Correct: b.span(c.Correct), DLogits: b.span(c.DLogits),
		DLoss: c.DLoss, Scratch: b.span(c.Scratch), Targets: b.span(c.Targets)})
}
func (b *backend) Sum(x, out, scratch graph.Mem) error {
	return b.k.Sum(b.p, b.span(x), b.span(out), b.span(scratch))
}
func (b *backend) Mean(x, out, scratch graph.Mem) error {
	return b.k.Mean(b.p, b.span(x), b.span(out), b.span(scratch))
}
func (b *backend) AvgPool2D(s ref.PoolShape, x, y graph.Mem) error {
	d, err := storage("avgpool2d", x, y)
	if err != nil {
		return err
	}
	return b.k.AvgPool2DOf(b.p, d, s, b.span(x), b.span(y))
}
func (b *backend) AvgPool2DBackward(s ref.PoolShape, dy, dx graph.Mem) error {
	d, err := storage("avgpool2d backward", dy, dx)
	if err != nil {
		return err
	}
	return b.k.AvgPool2DBackwardOf(b.p, d, s, b.span(dy), b.span(dx))
}

// The per-plane operands of the global mean and the SE gate (the mean,
// its gradient, z and dz) are float32 in both variants: only the
// activations pick the storage type.
func (b *backend) GlobalAvgPool(s ref.NCHWShape, x, y graph.Mem) error {
	d, err := storage("global avgpool", x)
	if err != nil {
		return err
	}
	return b.k.GlobalAvgPoolOf(b.p, d, s, b.span(x), b.span(y))
}
func (b *backend) GlobalAvgPoolBackward(s ref.NCHWShape, dy, dx graph.Mem) error {
	d, err := storage("global avgpool backward", dx)
	if err != nil {
		return err
	}
	return b.k.GlobalAvgPoolBackwardOf(b.p, d, s, b.span(dy), b.span(dx))
}
func (b *backend) SEGate(s ref.NCHWShape, gain float32, z, x, y graph.Mem) error {
	d, err := storage("se gate", x, y)
	if err != nil {
		return err
	}
	return b.k.SEGateOf(b.p, d, s, gain, b.span(z), b.span(x), b.span(y))
}
func (b *backend) SEGateDZ(s ref.NCHWShape, gain float32, z, x, dy, dz graph.Mem) error {
	d, err := storage("se gate dz", x, dy)
	if err != nil {
		return err
	}
	return b.k.SEGateDZOf(b.p, d, s, gain, b.span(z), b.span(x), b.span(dy), b.span(dz))
}
func (b *backend) SEGateBackward(s ref.NCHWShape, gain float32, z, dy, dmean, dx graph.Mem) error {
	d, err := storage("se gate backward", dy, dx)
	if err != nil {
		return err
	}
	return b.k.SEGateBackwardOf(b.p, d, s, gain, b.span(z), b.span(dy), b.span(dmean), b.span(dx))
}
func (b *backend) Residual(s ref.NCHWShape, alpha float32, shortcut, h, skipGain, mask, out graph.Mem) error {
	d, err := storage("residual", shortcut, h, out)
	if err != nil {
		return err
	}
	return b.k.ResidualOf(b.p, d, s, alpha, b.span(shortcut), b.span(h), b.span(skipGain), b.span(mask), b.span(out))
}
func (b *backend) ResidualBackward(s ref.NCHWShape, alpha float32, h, skipGain, mask, dout, dshortcut, dh, dskipGain, scratch graph.Mem) error {
	d, err := storage("residual backward", h, dout, dshortcut, dh)
	if err != nil {
		return err
	}
	return b.k.ResidualBackwardOf(b.p, d, s, alpha, b.span(h), b.span(skipGain), b.span(mask), b.span(dout),
		b.span(dshortcut), b.span(dh), b.span(dskipGain), b.span(scratch))
}
func (b *backend) DropPathMask(seed graph.Mem, stream uint64, keep float64, mask graph.Mem) error {
	return b.k.DropPathMask(b.p, b.span(seed), stream, keep, b.span(mask))
}
func (b *backend) Dropout(seed graph.Mem, stream uint64, rate float64, x, y graph.Mem) error {
	return b.k.Dropout(b.p, b.span(seed), stream, rate, b.span(x), b.span(y))
}
func (b *backend) EMAUpdate(ema, param, hyper graph.Mem) error {
	return b.k.EMAUpdate(b.p, b.span(ema), b.span(param), b.span(hyper))
}

// OptimizerStep records the fused step in as few dispatches as the
// device allows: one binds each role's whole extent, so tensors are
// grouped (in order) while every role stays in one buffer and its extent
// within maxStorageBufferRange: one group for a small model, a few for an
// F0. Each group's tensor table is a buffer of the executable.
func (b *backend) OptimizerStep(ts []graph.OptimTensor, hyper graph.Mem) error {
	info := b.k.Device().Info()
	// Leave room for the binding's alignment slack before the first tensor.
	limit := int64(info.MaxStorageBufferRange) - int64(info.MinStorageBufferOffsetAlignment)
	var groups [][]kernels.OptimTensor
	var lo, hi [3]int64
	var buf [3]int
	for _, t := range ts {
		mems := [3]graph.Mem{t.Param, t.Grad, t.Momentum}
		fits := len(groups) > 0
		for r, m := range mems {
			if fits && (m.Buf != buf[r] || max(hi[r], m.Off+m.Size)-min(lo[r], m.Off) > limit) {
				fits = false
			}
		}
		if !fits {
			groups = append(groups, nil)
			for r, m := range mems {
				lo[r], hi[r], buf[r] = m.Off, m.Off+m.Size, m.Buf
			}
		}
		for r, m := range mems {
			lo[r], hi[r] = min(lo[r], m.Off), max(hi[r], m.Off+m.Size)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], kernels.OptimTensor{Name: t.Name, Shape: t.Shape,
			Param: b.span(t.Param), Grad: b.span(t.Grad), Momentum: b.span(t.Momentum),
			WeightDecay: t.WeightDecay, AGC: t.AGC, Units: t.Units})
	}
	for _, g := range groups {
		table, err := b.k.Device().NewBuffer("optimizer table", kernels.OptimTableBytes(len(g)))
		if err != nil {
			return fmt.Errorf("optimizer: %w", err)
		}
		b.tables = append(b.tables, table)
		if err := b.k.OptimizerSteps(b.p, g, b.span(hyper), table.Span()); err != nil {
			return err
		}
	}
	return nil
}

// PlanBackend is k's Backend for graph.PlanMemory alone (how a plan's
// scratch is sized on k's device, as Compile plans it): it has no program,
// so it records nothing.
func PlanBackend(k *kernels.Kernels) graph.Backend { return &backend{k: k} }
