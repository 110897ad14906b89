package kernels

import (
	"fmt"
	"math"
	"strings"

	"github.com/nfvk/nfvk/engine"
)

// DType is the element type of an activation span. F16 picks a shader's
// float16-storage variant (<shader>_f16, include/storage.glsl): loads
// convert to float32, the math and accumulation stay float32, stores
// round to float16.
type DType uint8

const (
	// F32 is float32 storage, every kernel's default.
	F32 DType = iota
	// F16 is IEEE half storage; it needs storageBuffer16BitAccess.
	F16
)

func (d DType) String() string {
	if d == F16 {
		return "f16"
	}
	return "f32"
}

// Size is the bytes of one element.
func (d DType) Size() int {
	if d == F16 {
		return 2
	}
	return 4
}

// variant is the shader built for storage d from the source of name.
func (d DType) variant(name string) string {
	if d == F16 {
		return name + "_f16"
	}
	return name
}

// sourceName is the shader whose source built name: itself, or the
// source of a float16-storage variant.
func sourceName(name string) string { return strings.TrimSuffix(name, "_f16") }

// CheckFloat16 reports whether info's device can run the float16 variants,
// naming the missing feature. They store 16-bit values and do all math in
// float32, so they need storageBuffer16BitAccess and not shaderFloat16.
func CheckFloat16(info engine.DeviceInfo) error {
	if !info.Storage16 {
		return fmt.Errorf("device %s has no storageBuffer16BitAccess: float16 storage (precision fp16) needs it", info.Name)
	}
	return nil
}

// CheckBFloat16 reports that no kernel has a bfloat16 variant, naming
// whether the device would offer VK_KHR_shader_bfloat16.
func CheckBFloat16(info engine.DeviceInfo) error {
	if !info.BFloat16Ext {
		return fmt.Errorf("device %s lacks VK_KHR_shader_bfloat16: precision bf16 needs it (and nfvk has no bfloat16 kernels yet)", info.Name)
	}
	return fmt.Errorf("device %s offers VK_KHR_shader_bfloat16, but nfvk has no bfloat16 kernels yet: use fp16 or fp32", info.Name)
}

// checkDType holds d to the storage types the device can run.
func (k *Kernels) checkDType(op string, d DType) error {
	switch d {
	case F32:
		return nil
	case F16:
		if err := CheckFloat16(k.dev.Info()); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		return nil
	}
	return fmt.Errorf("%s: unknown storage type %d", op, d)
}

// elemsOf is elems for a span of d elements.
// needElemsOf checks that s holds at least n elements of d.
func needElemsOf(op, name string, s engine.Span, n int, d DType) error {
	got, err := elemsOf(op, name, s, d)
	if err != nil {
		return err
	}
	if got < n {
		return fmt.Errorf("%s: %s holds %d elements, needs %d", op, name, got, n)
	}
	return nil
}

func elemsOf(op, name string, s engine.Span, d DType) (int, error) {
	sz := int64(d.Size())
	if s.Buf == nil {
		return 0, fmt.Errorf("%s: %s has no buffer", op, name)
	}
	if s.Size <= 0 || s.Size%sz != 0 {
		return 0, fmt.Errorf("%s: %s spans %d bytes, not a positive number of %v", op, name, s.Size, d)
	}
	if s.Size/sz > math.MaxUint32 {
		return 0, fmt.Errorf("%s: %s has %d elements, more than 2^32-1", op, name, s.Size/sz)
	}
	return int(s.Size / sz), nil
}
