// Package bfloat16 converts between float32 and bfloat16, the storage type
// of nfvk's bf16 activations: the host side of what the GPU's bfloat16
// variants load and store (shaders/include/storage.glsl). A bfloat16 is
// the high 16 bits of a float32: the same sign and 8-bit exponent, 7
// mantissa bits.
package bfloat16

import "math"

// FromFloat32 rounds f to the nearest bfloat16, ties to even, as the
// shaders do: values past the largest finite bfloat16 round to ±Inf, a
// NaN stays a quiet NaN, subnormals round like any other value.
func FromFloat32(f float32) uint16 {
	b := math.Float32bits(f)
	if f != f {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b >> 16 & 1)) >> 16)
}

// ToFloat32 is the exact float32 value of the bfloat16 h.
func ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Round returns f rounded to bfloat16 and widened back.
func Round(f float32) float32 { return ToFloat32(FromFloat32(f)) }

// Encode rounds every value of v to bfloat16.
func Encode(v []float32) []uint16 {
	out := make([]uint16, len(v))
	for i, f := range v {
		out[i] = FromFloat32(f)
	}
	return out
}

// Decode widens every bfloat16 of h to float32.
func Decode(h []uint16) []float32 {
	out := make([]float32, len(h))
	for i, b := range h {
		out[i] = ToFloat32(b)
	}
	return out
}
