package gpu

import (
	"fmt"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels"
)

// CheckPrecision reports whether a device can run steps of precision p,
// naming the missing feature: FP16 needs storageBuffer16BitAccess (the
// float16 variants do their math in float32, so not shaderFloat16); BF16
// has no kernels yet, and the error says whether the device would offer
// VK_KHR_shader_bfloat16.
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

// Cast converts between float32 and float16 storage (graph.Caster).
func (b *backend) Cast(dst, src graph.Mem) error {
	return b.k.Convert(b.p, b.span(dst), dtypeOf(dst), b.span(src), dtypeOf(src))
}

func dtypeOf(m graph.Mem) kernels.DType {
	if m.Half {
		return kernels.F16
	}
	return kernels.F32
}

// storage is the storage type of a kernel's float16-capable operands,
// which ApplyPrecision makes all float16 or all float32 (absent optional
// operands aside); a mix is a bug, reported naming op.
func storage(op string, ms ...graph.Mem) (kernels.DType, error) {
	var half, full int
	for _, m := range ms {
		switch {
		case m.Absent():
		case m.Half:
			half++
		default:
			full++
		}
	}
	if half > 0 && full > 0 {
		return kernels.F32, fmt.Errorf("graph: %s: %d float16 and %d float32 operands in float16 slots", op, half, full)
	}
	if half > 0 {
		return kernels.F16, nil
	}
	return kernels.F32, nil
}
