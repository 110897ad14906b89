package graph_test

import (
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels/ref"
)

// call is one recorded Backend call: the method and its memory operands
// in the method's order (absent optional operands included).
type call struct {
	method string
	mems   []graph.Mem
	// optim are OptimizerStep's tensors (mems holds the step values,
	// then each tensor's parameter, gradient and momentum).
	optim []graph.OptimTensor
}

// recorder is a graph.Backend that records every call instead of
// running a kernel: Lower's output, checked without a device. fail makes
// a method return an error.
type recorder struct {
	calls []call
	fail  map[string]error
}

func (r *recorder) rec(method string, mems ...graph.Mem) error {
	r.calls = append(r.calls, call{method: method, mems: mems})
	return r.fail[method]
}

// Odd scratch sizes, so the plan's scratch placement is exercised.
func (r *recorder) CEScratch(ref.LossShape) int           { return 7 }
func (r *recorder) SumScratch(int) int                    { return 3 }
func (r *recorder) ResidualScratch(ref.NCHWShape) int     { return 5 }
func (r *recorder) ConvFilterScratch(ref.Conv2DShape) int { return 11 }

func (r *recorder) Conv2D(_ ref.Conv2DShape, x, w, bias, y graph.Mem) error {
	return r.rec("Conv2D", x, w, bias, y)
}
func (r *recorder) Conv2DBackwardData(_ ref.Conv2DShape, dy, w, dx graph.Mem) error {
	return r.rec("Conv2DBackwardData", dy, w, dx)
}
func (r *recorder) Conv2DBackwardFilter(_ ref.Conv2DShape, x, dy, dw, scratch graph.Mem) error {
	return r.rec("Conv2DBackwardFilter", x, dy, dw, scratch)
}
func (r *recorder) Conv2DBackwardBias(_ ref.Conv2DShape, dy, db graph.Mem) error {
	return r.rec("Conv2DBackwardBias", dy, db)
}
func (r *recorder) WS(_ ref.WSShape, _ graph.WSOpts, w, gain, what graph.Mem) error {
	return r.rec("WS", w, gain, what)
}
func (r *recorder) WSBackward(_ ref.WSShape, _ graph.WSOpts, w, gain, dwhat, dw, dgain graph.Mem) error {
	return r.rec("WSBackward", w, gain, dwhat, dw, dgain)
}
func (r *recorder) Activation(_ ref.Act, _ float32, x, y graph.Mem) error {
	return r.rec("Activation", x, y)
}
func (r *recorder) ActivationBackward(_ ref.Act, _ float32, x, dy, dx graph.Mem) error {
	return r.rec("ActivationBackward", x, dy, dx)
}
func (r *recorder) Copy(dst, src graph.Mem) error { return r.rec("Copy", dst, src) }
func (r *recorder) Axpby(_ float32, x graph.Mem, _ float32, y graph.Mem) error {
	return r.rec("Axpby", x, y)
}
func (r *recorder) Scale(_ float32, x, y graph.Mem) error { return r.rec("Scale", x, y) }
func (r *recorder) GEMM(_ ref.GEMMShape, _ float32, a, b graph.Mem, _ float32, c graph.Mem) error {
	return r.rec("GEMM", a, b, c)
}
func (r *recorder) SoftmaxCrossEntropy(_ ref.LossShape, c graph.CE) error {
	return r.rec("SoftmaxCrossEntropy", c.Logits, c.Labels, c.Loss, c.Correct, c.DLogits, c.Scratch)
}
func (r *recorder) Sum(x, out, scratch graph.Mem) error  { return r.rec("Sum", x, out, scratch) }
func (r *recorder) Mean(x, out, scratch graph.Mem) error { return r.rec("Mean", x, out, scratch) }
func (r *recorder) AvgPool2D(_ ref.PoolShape, x, y graph.Mem) error {
	return r.rec("AvgPool2D", x, y)
}
func (r *recorder) AvgPool2DBackward(_ ref.PoolShape, dy, dx graph.Mem) error {
	return r.rec("AvgPool2DBackward", dy, dx)
}
func (r *recorder) GlobalAvgPool(_ ref.NCHWShape, x, y graph.Mem) error {
	return r.rec("GlobalAvgPool", x, y)
}
func (r *recorder) GlobalAvgPoolBackward(_ ref.NCHWShape, dy, dx graph.Mem) error {
	return r.rec("GlobalAvgPoolBackward", dy, dx)
}
func (r *recorder) SEGate(_ ref.NCHWShape, _ float32, z, x, y graph.Mem) error {
	return r.rec("SEGate", z, x, y)
}
func (r *recorder) SEGateDZ(_ ref.NCHWShape, _ float32, z, x, dy, dz graph.Mem) error {
	return r.rec("SEGateDZ", z, x, dy, dz)
}
func (r *recorder) SEGateBackward(_ ref.NCHWShape, _ float32, z, dy, dmean, dx graph.Mem) error {
	return r.rec("SEGateBackward", z, dy, dmean, dx)
}
func (r *recorder) Residual(_ ref.NCHWShape, _ float32, shortcut, h, skipGain, mask, out graph.Mem) error {
	return r.rec("Residual", shortcut, h, skipGain, mask, out)
}
func (r *recorder) ResidualBackward(_ ref.NCHWShape, _ float32, h, skipGain, mask, dout, dshortcut, dh, dskipGain, scratch graph.Mem) error {
	return r.rec("ResidualBackward", h, skipGain, mask, dout, dshortcut, dh, dskipGain, scratch)
}
func (r *recorder) DropPathMask(seed graph.Mem, _ uint64, _ float64, mask graph.Mem) error {
	return r.rec("DropPathMask", seed, mask)
}
func (r *recorder) Dropout(seed graph.Mem, _ uint64, _ float64, x, y graph.Mem) error {
	return r.rec("Dropout", seed, x, y)
}
func (r *recorder) OptimizerStep(ts []graph.OptimTensor, hyper graph.Mem) error {
	mems := []graph.Mem{hyper}
	for _, t := range ts {
		mems = append(mems, t.Param, t.Grad, t.Momentum)
	}
	err := r.rec("OptimizerStep", mems...)
	r.calls[len(r.calls)-1].optim = ts
	return err
}
func (r *recorder) EMAUpdate(ema, param, hyper graph.Mem) error {
	return r.rec("EMAUpdate", ema, param, hyper)
}

func (r *recorder) LossScaleCheck(x, counts graph.Mem) error {
	return r.rec("LossScaleCheck", x, counts)
}
func (r *recorder) LossScaleMul(x, scale, counts graph.Mem, _ bool) error {
	return r.rec("LossScaleMul", x, scale, counts)
}
func (r *recorder) LossScaleHyper(counts, hyper, out graph.Mem) error {
	return r.rec("LossScaleHyper", counts, hyper, out)
}
func (r *recorder) LossScaleUpdate(scale, counts graph.Mem, _ int) error {
	return r.rec("LossScaleUpdate", scale, counts)
}
