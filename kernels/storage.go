package kernels

import (
	"fmt"
	"math"
	"strings"

	"github.com/nfvk/nfvk/engine"
)

// DType is the element type of an activation span. F16 and BF16 pick a
// shader's 16-bit storage variant (<shader>_f16, <shader>_bf16,
// include/storage.glsl): loads convert to float32, the math and
// accumulation stay float32, stores round to the 16-bit type.
type DType uint8

const (
	// F32 is float32 storage, every kernel's default.
	F32 DType = iota
	// F16 is IEEE half storage; it needs storageBuffer16BitAccess.
	F16
	// BF16 is bfloat16 storage (the high half of a float32: float32's
	// range, 8 bits of precision), held in 16-bit integers and converted
	// with integer operations, so it needs storageBuffer16BitAccess and
	// not VK_KHR_shader_bfloat16.
	BF16
)

func (d DType) String() string {
	switch d {
	case F16:
		return "f16"
	case BF16:
		return "bf16"
	}
	return "f32"
}

// Size is the bytes of one element.
func (d DType) Size() int {
	if d == F16 || d == BF16 {
		return 2
	}
	return 4
}

// variant is the shader built for storage d from the source of name.
func (d DType) variant(name string) string {
	switch d {
	case F16:
		return name + "_f16"
	case BF16:
		return name + "_bf16"
	}
	return name
}

// sourceName is the shader whose source built name: itself, or the
// source of a 16-bit storage variant.
func sourceName(name string) string {
	return strings.TrimSuffix(strings.TrimSuffix(name, "_f16"), "_bf16")
}

// CheckFloat16 reports whether info's device can run the float16 variants,
// naming the missing feature. They store 16-bit values and do all math in
// float32, so they need storageBuffer16BitAccess and not shaderFloat16.
func CheckFloat16(info engine.DeviceInfo) error {
	if !info.Storage16 {
		return fmt.Errorf("device %s has no storageBuffer16BitAccess: float16 storage (precision fp16) needs it", info.Name)
	}
	return nil
}

// CheckBFloat16 reports whether info's device can run the bfloat16
// variants, naming the missing feature. They keep bfloat16 bits in 16-bit
// integers and do all math in float32, so they need
// storageBuffer16BitAccess and not VK_KHR_shader_bfloat16.
func CheckBFloat16(info engine.DeviceInfo) error {
	if !info.Storage16 {
		return fmt.Errorf("device %s has no storageBuffer16BitAccess: bfloat16 storage (precision bf16) needs it", info.Name)
	}
	return nil
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
	case BF16:
		if err := CheckBFloat16(k.dev.Info()); err != nil {
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
