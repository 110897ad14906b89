package gpu

import (
	"fmt"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels"
)

// CheckPrecision reports whether a device can run steps of precision p,
// naming the missing feature: FP16 and BF16 need storageBuffer16BitAccess
// (the 16-bit variants do their math in float32, so neither
// shaderFloat16 nor VK_KHR_shader_bfloat16).
func CheckPrecision(info engine.DeviceInfo, p graph.Precision) error {
	switch p {
	case graph.FP32:
		return nil
	case graph.FP16:
		return kernels.CheckFloat16(info)
	case graph.BF16:
		return kernels.CheckBFloat16(info)
	}
	return fmt.Errorf("unknown precision %v", p)
}

// Cast converts between float32 and 16-bit storage (graph.Caster).
func (b *backend) Cast(dst, src graph.Mem) error {
	return b.k.Convert(b.p, b.span(dst), dtypeOf(dst), b.span(src), dtypeOf(src))
}

func dtypeOf(m graph.Mem) kernels.DType {
	switch m.Type {
	case graph.Float16:
		return kernels.F16
	case graph.BFloat16:
		return kernels.BF16
	}
	return kernels.F32
}

// storage is the storage type of a kernel's 16-bit-capable operands,
// which ApplyPrecision makes all one type (absent optional operands
// aside); a mix is a bug, reported naming op.
func storage(op string, ms ...graph.Mem) (kernels.DType, error) {
	d, seen := kernels.F32, false
	for _, m := range ms {
		if m.Absent() {
			continue
		}
		t := dtypeOf(m)
		if seen && t != d {
			return kernels.F32, fmt.Errorf("graph: %s: %v and %v operands in the same storage slots", op, d, t)
		}
		d, seen = t, true
	}
	return d, nil
}
