package safetensors

import (
	"encoding/binary"
	"math"
	"slices"
)

// Float32s returns a copy of the named tensor converted to float32, and its
// shape. F32 is copied exactly; F16 and BF16 widen exactly; F64 rounds to
// nearest. Other dtypes fail with ErrDType.
func (f *File) Float32s(name string) ([]float32, []int, error) {
	t, b, err := f.view(name)
	if err != nil {
		return nil, nil, err
	}
	le := binary.LittleEndian
	var out []float32
	switch t.DType {
	case DTypeF32:
		out = make([]float32, len(b)/4)
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case DTypeF16:
		out = make([]float32, len(b)/2)
		for i := range out {
			out[i] = f16ToF32(le.Uint16(b[2*i:]))
		}
	case DTypeBF16:
		out = make([]float32, len(b)/2)
		for i := range out {
			out[i] = math.Float32frombits(uint32(le.Uint16(b[2*i:])) << 16)
		}
	case DTypeF64:
		out = make([]float32, len(b)/8)
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		}
	default:
		return nil, nil, f.errDType(t, "float32")
	}
	return out, slices.Clone(t.Shape), nil
}

// Int64s returns a copy of the named tensor converted to int64, and its
// shape. It accepts I64, I32, I16, I8, U32, U16 and U8 (all exact); other
// dtypes fail with ErrDType.
func (f *File) Int64s(name string) ([]int64, []int, error) {
	t, b, err := f.view(name)
	if err != nil {
		return nil, nil, err
	}
	le := binary.LittleEndian
	out := make([]int64, 0, len(b)/max(1, t.DType.Size()))
	switch t.DType {
	case DTypeI64:
		for i := 0; i < len(b); i += 8 {
			out = append(out, int64(le.Uint64(b[i:])))
		}
	case DTypeI32:
		for i := 0; i < len(b); i += 4 {
			out = append(out, int64(int32(le.Uint32(b[i:]))))
		}
	case DTypeI16:
		for i := 0; i < len(b); i += 2 {
			out = append(out, int64(int16(le.Uint16(b[i:]))))
		}
	case DTypeI8:
		for _, v := range b {
			out = append(out, int64(int8(v)))
		}
	case DTypeU32:
		for i := 0; i < len(b); i += 4 {
			out = append(out, int64(le.Uint32(b[i:])))
		}
	case DTypeU16:
		for i := 0; i < len(b); i += 2 {
			out = append(out, int64(le.Uint16(b[i:])))
		}
	case DTypeU8:
		for _, v := range b {
			out = append(out, int64(v))
		}
	default:
		return nil, nil, f.errDType(t, "int64")
	}
	return out, slices.Clone(t.Shape), nil
}

// f16ToF32 widens an IEEE 754 half-precision value exactly, keeping
// subnormals, infinities and NaN payloads.
func f16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0 && mant == 0: // signed zero
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise into float32's wider exponent range
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (mant&0x3ff)<<13)
	default:
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}
