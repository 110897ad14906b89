package kernels

import (
	"fmt"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// Dynamic loss scaling for float16 training, on the device (shaders
// ls_check, ls_scale, ls_hyper, ls_update; references in
// kernels/ref/lossscale.go). The state lives in two device buffers the
// step reads and updates itself, with no host round trip: the scale S
// (one float32) and the counters (ref.LossScaleCounters uint32s: good
// steps, skipped steps, overflow flag). A step records
//
//	LossScaleMul(seed, S)                 the loss gradient times S
//	... backward ...
//	LossScaleCheck(grads)                 flag |= any Inf/NaN
//	LossScaleMul(grads, 1/S)              (0 after an overflow)
//	LossScaleHyper(hyper -> step values)  lr, momentum, EMA 1-d = 0 after an overflow
//	optimizer, EMA on the step values
//	LossScaleUpdate                       S, counters; clears the flag
//
// where grads is any float32 span: the graph passes each run of
// gradients that lie one after another in their pool as one span.

// LossScaleCounterBytes is the size of the counters buffer.
const LossScaleCounterBytes = 4 * ref.LossScaleCounters

func checkLossScaleState(op string, scale, counts engine.Span) error {
	if scale.Buf != nil {
		if err := needElems(op, "scale", scale, 1); err != nil {
			return err
		}
	}
	return needElems(op, "counters", counts, ref.LossScaleCounters)
}

// LossScaleCheck records the overflow check of x (float32): the flag in
// counts is set when any element is Inf or NaN, left as it is otherwise.
func (k *Kernels) LossScaleCheck(p *engine.Program, x, counts engine.Span) error {
	const op = "loss scale check"
	n, err := elems(op, "x", x)
	if err != nil {
		return err
	}
	if err := checkLossScaleState(op, engine.Span{}, counts); err != nil {
		return err
	}
	counts = counts.Sub(0, LossScaleCounterBytes)
	if err := checkDisjoint(op, []namedSpan{{"x", x}, {"counters", counts}}); err != nil {
		return err
	}
	pipe, err := k.pipeline("ls_check", k.ewSpec()...)
	if err != nil {
		return err
	}
	return k.lossScaleChunks(p, op, pipe, n, nil, x, func(xs engine.Span) []engine.Arg {
		return []engine.Arg{xs.Read(), counts.ReadWrite()}
	})
}

// LossScaleMul records x *= S in place (the loss gradient seed; counts
// may be absent), or with unscale x *= 1/S, or x = 0 when the flag in
// counts is set (the gradients before the optimizer).
func (k *Kernels) LossScaleMul(p *engine.Program, x, scale, counts engine.Span, unscale bool) error {
	const op = "loss scale multiply"
	n, err := elems(op, "x", x)
	if err != nil {
		return err
	}
	if scale.Buf == nil {
		return fmt.Errorf("%s: no scale buffer", op)
	}
	if !unscale && counts.Buf == nil {
		// The shader reads the counters only when unscaling: bind the
		// scale in their place.
		counts = scale
	} else if err := checkLossScaleState(op, scale, counts); err != nil {
		return err
	} else {
		counts = counts.Sub(0, LossScaleCounterBytes)
	}
	scale = scale.Sub(0, 4)
	spans := []namedSpan{{"x", x}, {"scale", scale}}
	if counts != scale {
		spans = append(spans, namedSpan{"counters", counts})
	}
	if err := checkDisjoint(op, spans); err != nil {
		return err
	}
	pipe, err := k.pipeline("ls_scale", k.ewSpec()...)
	if err != nil {
		return err
	}
	return k.lossScaleChunks(p, op, pipe, n, pushBuf(nil).u(flagU32(unscale)), x, func(xs engine.Span) []engine.Arg {
		return []engine.Arg{scale.Read(), counts.Read(), xs.ReadWrite()}
	})
}

// lossScaleChunks dispatches pipe over x in chunks that fit the binding
// range, the other bindings whole.
func (k *Kernels) lossScaleChunks(p *engine.Program, op string, pipe *pipe, n int, tail pushBuf, x engine.Span, args func(engine.Span) []engine.Arg) error {
	chunk := k.chunkElems()
	for start := 0; start < n; start += chunk {
		m := min(chunk, n-start)
		label := op
		if n > chunk {
			label = fmt.Sprintf("%s[%d:%d]", op, start, start+m)
		}
		groups := k.streamGroups(m, int(k.tune.ElementwiseMaxGroups))
		push := append(pushBuf(nil).i(m), tail...)
		if err := k.dispatch(p, label, pipe, [3]uint32{uint32(groups), 1, 1}, push, args(x.Sub(int64(4*start), int64(4*m)))...); err != nil {
			return err
		}
	}
	return nil
}

// LossScaleHyper records out = hyper (HyperBytes, the optimizer's step
// values) with the learning rate, momentum and EMA 1-d zeroed when the
// flag in counts is set: the optimizer and EMA reading out then leave
// everything as it was (with the gradients zeroed by LossScaleMul).
func (k *Kernels) LossScaleHyper(p *engine.Program, counts, hyper, out engine.Span) error {
	const op = "loss scale step values"
	if err := checkLossScaleState(op, engine.Span{}, counts); err != nil {
		return err
	}
	if err := checkHyper(op, hyper); err != nil {
		return err
	}
	if err := checkHyper(op, out); err != nil {
		return fmt.Errorf("%s: out: %w", op, err)
	}
	counts, hyper, out = counts.Sub(0, LossScaleCounterBytes), hyper.Sub(0, HyperBytes), out.Sub(0, HyperBytes)
	if err := checkDisjoint(op, []namedSpan{{"counters", counts}, {"hyper", hyper}, {"out", out}}); err != nil {
		return err
	}
	pipe, err := k.pipeline("ls_hyper")
	if err != nil {
		return err
	}
	return k.dispatch(p, op, pipe, [3]uint32{1, 1, 1}, nil, counts.Read(), hyper.Read(), out.Write())
}

// LossScaleUpdate records the end of a step's loss scaling: S halves
// after an overflow (and the skipped count grows), doubles after growth
// consecutive good steps; the flag clears.
func (k *Kernels) LossScaleUpdate(p *engine.Program, scale, counts engine.Span, growth int) error {
	const op = "loss scale update"
	if growth < 1 {
		return fmt.Errorf("%s: growth interval %d, want >= 1", op, growth)
	}
	if scale.Buf == nil {
		return fmt.Errorf("%s: no scale buffer", op)
	}
	if err := checkLossScaleState(op, scale, counts); err != nil {
		return err
	}
	scale, counts = scale.Sub(0, 4), counts.Sub(0, LossScaleCounterBytes)
	if err := checkDisjoint(op, []namedSpan{{"scale", scale}, {"counters", counts}}); err != nil {
		return err
	}
	pipe, err := k.pipeline("ls_update")
	if err != nil {
		return err
	}
	return k.dispatch(p, op, pipe, [3]uint32{1, 1, 1}, pushBuf(nil).i(growth), scale.ReadWrite(), counts.ReadWrite())
}
