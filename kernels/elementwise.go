package kernels

import (
	"fmt"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// Elementwise kernels: fill, copy, axpby (scale, axpy) and activations
// with gamma, forward and backward. Shaders: fill, copy, axpby,
// act_<kind>; one invocation per vec4, grid-stride loops. Reference:
// ref.Fill, ref.Copy, ref.Scale, ref.Axpy, ref.Activate(Backward).

// chunkElems is the largest element count one dispatch binds per span:
// within maxStorageBufferRange for float32, a multiple of 64 elements and
// of the offset alignment counted in float16 elements, so every chunk's
// offset stays aligned in both storage types.
func (k *Kernels) chunkElems() int {
	r := int(k.dev.Info().MaxStorageBufferRange) / 4
	align := int(max(k.dev.Info().MinStorageBufferOffsetAlignment/2, 64))
	return r / align * align
}

// ewSpec is the specialization of an elementwise shader: the workgroup
// size (constant_id 0), the shader's own constants (ids 1..), and EW_RUNS
// (id 7: contiguous runs per invocation on CPU devices, see
// include/elementwise.glsl).
func (k *Kernels) ewSpec(own ...uint32) []uint32 {
	spec := make([]uint32, 8)
	spec[0] = k.tune.ElementwiseLocal
	copy(spec[1:7], own)
	spec[7] = flagU32(k.runs())
	return spec
}

// elementwise records shader over n elements of the given spans (all of
// n elements), splitting into chunks that fit the device's binding range.
func (k *Kernels) elementwise(p *engine.Program, op string, pipe *pipe, n int, pushTail pushBuf, spans []engine.Span, access []engine.Access) error {
	return k.elementwiseOf(p, nil, op, pipe, n, pushTail, spans, access)
}

// elementwiseOf is elementwise over spans whose elements are of the types
// ds (nil: all float32).
func (k *Kernels) elementwiseOf(p *engine.Program, ds []DType, op string, pipe *pipe, n int, pushTail pushBuf, spans []engine.Span, access []engine.Access) error {
	chunk := k.chunkElems()
	for start := 0; start < n; start += chunk {
		m := min(chunk, n-start)
		args := make([]engine.Arg, len(spans))
		for i, s := range spans {
			eb := int64(4)
			if ds != nil {
				eb = int64(ds[i].Size())
			}
			args[i] = engine.Arg{Span: s.Sub(eb*int64(start), eb*int64(m)), Access: access[i]}
		}
		groups := k.streamGroups(m, int(k.tune.ElementwiseMaxGroups))
		push := append(pushBuf(nil).i(m), pushTail...)
		label := op
		if n > chunk {
			label = fmt.Sprintf("%s[%d:%d]", op, start, start+m)
		}
		if err := k.dispatch(p, label, pipe, [3]uint32{uint32(groups), 1, 1}, push, args...); err != nil {
			return err
		}
	}
	return nil
}

// Fill records y[i] = value for every element of y.
func (k *Kernels) Fill(p *engine.Program, y engine.Span, value float32) error {
	n, err := elems("fill", "y", y)
	if err != nil {
		return err
	}
	pipe, err := k.pipeline("fill", k.ewSpec()...)
	if err != nil {
		return err
	}
	return k.elementwise(p, "fill", pipe, n, pushBuf(nil).f(value), []engine.Span{y}, []engine.Access{engine.Write})
}

// Copy records dst = src (same element count).
func (k *Kernels) Copy(p *engine.Program, dst, src engine.Span) error {
	return k.CopyOf(p, F32, dst, src)
}

// CopyOf is Copy of spans of d elements.
func (k *Kernels) CopyOf(p *engine.Program, d DType, dst, src engine.Span) error {
	if err := k.checkDType("copy", d); err != nil {
		return err
	}
	n, err := elemsOf("copy", "src", src, d)
	if err != nil {
		return err
	}
	if m, err := elemsOf("copy", "dst", dst, d); err != nil || m != n {
		return fmt.Errorf("copy: dst has %d elements, src %d: %v", m, n, err)
	}
	pipe, err := k.pipeline(d.variant("copy"), k.ewSpec()...)
	if err != nil {
		return err
	}
	return k.elementwiseOf(p, []DType{d, d}, "copy", pipe, n, nil, []engine.Span{src, dst}, []engine.Access{engine.Read, engine.Write})
}

// Axpby records y = alpha*x + beta*y. With beta == 0 y is not read, so
// Axpby(p, a, x, 0, y) is a scale into y; x and y may be the same span.
func (k *Kernels) Axpby(p *engine.Program, alpha float32, x engine.Span, beta float32, y engine.Span) error {
	return k.AxpbyOf(p, F32, alpha, x, beta, y)
}

// AxpbyOf is Axpby of spans of d elements (the arithmetic in float32).
func (k *Kernels) AxpbyOf(p *engine.Program, d DType, alpha float32, x engine.Span, beta float32, y engine.Span) error {
	if err := k.checkDType("axpby", d); err != nil {
		return err
	}
	n, err := elemsOf("axpby", "x", x, d)
	if err != nil {
		return err
	}
	if m, err := elemsOf("axpby", "y", y, d); err != nil || m != n {
		return fmt.Errorf("axpby: y has %d elements, x %d: %v", m, n, err)
	}
	ds := []DType{d, d}
	pipe, err := k.pipeline(d.variant("axpby"), k.ewSpec()...)
	if err != nil {
		return err
	}
	yAccess := engine.ReadWrite
	if beta == 0 {
		yAccess = engine.Write
	}
	if x == y {
		// In place: one binding would alias the other; declare both as rw.
		return k.elementwiseOf(p, ds, "axpby", pipe, n, pushBuf(nil).f(alpha).f(beta), []engine.Span{x, y}, []engine.Access{engine.ReadWrite, engine.ReadWrite})
	}
	return k.elementwiseOf(p, ds, "axpby", pipe, n, pushBuf(nil).f(alpha).f(beta), []engine.Span{x, y}, []engine.Access{engine.Read, yAccess})
}

// Scale records y = alpha*x.
func (k *Kernels) Scale(p *engine.Program, alpha float32, x, y engine.Span) error {
	return k.Axpby(p, alpha, x, 0, y)
}

// Act is an activation function; nfvk applies it times a gamma.
type Act = ref.Act

// Gamma constants from DeepMind's base.py (see ../shared/spec/NFNET.md).
const (
	GammaGELU = 1.7015043497085571
	GammaReLU = 1.7139588594436646
	GammaSiLU = 1.7881293296813965
)

func actShader(a Act) (string, error) {
	switch a {
	case ref.ActGELUTanh:
		return "act_gelu_tanh", nil
	case ref.ActGELUErf:
		return "act_gelu_erf", nil
	case ref.ActReLU:
		return "act_relu", nil
	case ref.ActSiLU:
		return "act_silu", nil
	}
	return "", fmt.Errorf("activation %v has no kernel (have GELU tanh/erf, ReLU, SiLU)", a)
}

// Activation records y = gamma * act(x).
func (k *Kernels) Activation(p *engine.Program, a Act, gamma float32, x, y engine.Span) error {
	return k.ActivationOf(p, F32, a, gamma, x, y)
}

// ActivationOf is Activation over spans of d elements.
func (k *Kernels) ActivationOf(p *engine.Program, d DType, a Act, gamma float32, x, y engine.Span) error {
	if err := k.checkDType("activation", d); err != nil {
		return err
	}
	n, err := elemsOf("activation", "x", x, d)
	if err != nil {
		return err
	}
	if m, err := elemsOf("activation", "y", y, d); err != nil || m != n {
		return fmt.Errorf("activation: y has %d elements, x %d: %v", m, n, err)
	}
	name, err := actShader(a)
	if err != nil {
		return err
	}
	pipe, err := k.pipeline(d.variant(name), k.ewSpec(0)...)
	if err != nil {
		return err
	}
	// Binding 1 (dy) is unused forward; bind x again (read-only) so every
	// declared binding is valid.
	return k.elementwiseOf(p, []DType{d, d, d}, name, pipe, n, pushBuf(nil).f(gamma), []engine.Span{x, x, y}, []engine.Access{engine.Read, engine.Read, engine.Write})
}

// ActivationBackward records dx = dy * gamma * act'(x).
func (k *Kernels) ActivationBackward(p *engine.Program, a Act, gamma float32, x, dy, dx engine.Span) error {
	return k.ActivationBackwardOf(p, F32, a, gamma, x, dy, dx)
}

// ActivationBackwardOf is ActivationBackward over spans of d elements.
func (k *Kernels) ActivationBackwardOf(p *engine.Program, d DType, a Act, gamma float32, x, dy, dx engine.Span) error {
	if err := k.checkDType("activation backward", d); err != nil {
		return err
	}
	n, err := elemsOf("activation backward", "x", x, d)
	if err != nil {
		return err
	}
	for _, s := range []struct {
		name string
		s    engine.Span
	}{{"dy", dy}, {"dx", dx}} {
		if m, err := elemsOf("activation backward", s.name, s.s, d); err != nil || m != n {
			return fmt.Errorf("activation backward: %s has %d elements, x %d: %v", s.name, m, n, err)
		}
	}
	name, err := actShader(a)
	if err != nil {
		return err
	}
	pipe, err := k.pipeline(d.variant(name), k.ewSpec(1)...)
	if err != nil {
		return err
	}
	return k.elementwiseOf(p, []DType{d, d, d}, name+" backward", pipe, n, pushBuf(nil).f(gamma), []engine.Span{x, dy, dx}, []engine.Access{engine.Read, engine.Read, engine.Write})
}
