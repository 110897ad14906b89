package kernels

import (
	"fmt"

	"github.com/nfvk/nfvk/engine"
)

// Convert records dst = src converted from storage sd to dd (float32 to
// float16 or bfloat16 rounds to nearest even, widening to float32 is
// exact); both hold the same element count. Shaders to_half_<type>,
// to_float_<type>; float32 to float32 copies.
func (k *Kernels) Convert(p *engine.Program, dst engine.Span, dd DType, src engine.Span, sd DType) error {
	const op = "convert"
	for _, d := range []DType{sd, dd} {
		if err := k.checkDType(op, d); err != nil {
			return err
		}
	}
	n, err := elemsOf(op, "src", src, sd)
	if err != nil {
		return err
	}
	if m, err := elemsOf(op, "dst", dst, dd); err != nil || m != n {
		return fmt.Errorf("%s: dst has %d elements of %v, src %d of %v: %v", op, m, dd, n, sd, err)
	}
	var name string
	switch {
	case sd == dd && sd == F32:
		return k.Copy(p, dst, src)
	case sd == F32 && dd != F32:
		name = dd.variant("to_half")
	case sd != F32 && dd == F32:
		name = sd.variant("to_float")
	default:
		return fmt.Errorf("%s: no kernel from %v to %v", op, sd, dd)
	}
	pipe, err := k.pipeline(name, k.ewSpec()...)
	if err != nil {
		return err
	}
	return k.elementwiseOf(p, []DType{sd, dd}, fmt.Sprintf("convert %v->%v", sd, dd), pipe, n, nil,
		[]engine.Span{src, dst}, []engine.Access{engine.Read, engine.Write})
}
