// Package half converts between float32 and IEEE 754 binary16 (float16),
// the storage type of nfvk's mixed-precision activations: the host side
// of what the GPU's float16 variants load and store.
package half

import "math"

// FromFloat32 rounds f to the nearest float16 (ties to even), as a GPU's
// float32-to-float16 conversion does: overflow gives ±Inf, NaN stays NaN
// (quiet), values below the smallest subnormal round to ±0.
func FromFloat32(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23&0xff) - 127
	man := b & 0x7fffff
	switch {
	case exp == 128: // Inf or NaN
		if man != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp > 15:
		return sign | 0x7c00
	case exp >= -14: // normal
		h := uint32(exp+15)<<10 | man>>13
		return sign | uint16(roundEven(h, man, 13))
	case exp >= -25: // subnormal (exp -25 may round up to the smallest)
		m := man | 0x800000
		shift := uint(-exp - 14 + 13)
		return sign | uint16(roundEven(m>>shift, m, shift))
	}
	return sign
}

// roundEven rounds the truncated h up when the dropped low shift bits of
// m are above half, or exactly half and h is odd. A carry out of the
// mantissa correctly bumps the exponent (up to Inf).
func roundEven(h, m uint32, shift uint) uint32 {
	rest := m & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rest > half || rest == half && h&1 == 1 {
		h++
	}
	return h
}

// ToFloat32 is the exact float32 value of the float16 h.
func ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h >> 10 & 0x1f)
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0:
		// Subnormal (or zero): man * 2^-24, exact in float32.
		v := float32(man) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+112)<<23 | man<<13)
}

// Round is f rounded to float16 and back: the value a float16 buffer
// holds after storing f.
func Round(f float32) float32 { return ToFloat32(FromFloat32(f)) }

// Encode rounds every value of v to float16.
func Encode(v []float32) []uint16 {
	out := make([]uint16, len(v))
	for i, f := range v {
		out[i] = FromFloat32(f)
	}
	return out
}

// Decode widens every float16 of h to float32.
func Decode(h []uint16) []float32 {
	out := make([]float32, len(h))
	for i, b := range h {
		out[i] = ToFloat32(b)
	}
	return out
}
