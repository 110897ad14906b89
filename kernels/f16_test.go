package kernels

import (
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/internal/bfloat16"
	"github.com/nfvk/nfvk/internal/half"
)

// Tolerances of the float16-storage variants. Their inputs are float16
// values, which the tests hand to the float64 reference exactly (the
// inputs are rounded to float16 first, so input rounding costs nothing
// here); loads widen exactly, the math runs in float32 as in the float32
// kernel (whose own tolerance, f32Err, is added), and the one rounding
// on store to float16 adds at most half an ulp: a relative 2^-11 for
// normal results, and 2^-25 absolute below the smallest normal, 2^-14.
//
// The bfloat16 variants are the same with bfloat16's unit roundoff, 2^-8,
// and half its subnormal spacing, 2^-134 (float32's exponent range).
const (
	f16Unit     = 1.0 / (1 << 11) // unit roundoff of float16
	f16SubHalf  = 1.0 / (1 << 25) // half the float16 subnormal spacing
	bf16Unit    = 1.0 / (1 << 8)  // unit roundoff of bfloat16
	bf16SubHalf = 0x1p-134        // half the bfloat16 subnormal spacing
)

// f16Tol is the (atol, rtol) of a float16 result whose float32 math has
// tolerance (atol32, rtol32) against float64.
func f16Tol(atol32, rtol32 float64) (atol, rtol float64) {
	return atol32*(1+f16Unit) + f16SubHalf, rtol32*(1+f16Unit) + f16Unit
}

// storeRounding is the unit roundoff and half the subnormal spacing of
// storage d (0, 0 for float32, whose rounding the kernels' own float32
// tolerances hold).
func storeRounding(d DType) (unit, subHalf float64) {
	switch d {
	case F16:
		return f16Unit, f16SubHalf
	case BF16:
		return bf16Unit, bf16SubHalf
	}
	return 0, 0
}

// uploadBF16 stores v as bfloat16 in a new buffer freed at the end of the
// test.
func uploadBF16(t *testing.T, d *engine.Device, v []float32) *engine.Buffer {
	t.Helper()
	return upload16(t, d, bfloat16.Encode(v))
}

// downloadBF16 reads a bfloat16 buffer as float32.
func downloadBF16(t *testing.T, b *engine.Buffer) []float32 {
	t.Helper()
	return bfloat16.Decode(download16(t, b))
}

// roundBF16 returns v rounded to bfloat16.
func roundBF16(v []float32) []float32 {
	out := make([]float32, len(v))
	for i, f := range v {
		out[i] = bfloat16.Round(f)
	}
	return out
}

// roundF16 returns v rounded to float16 (the values a float16 buffer
// holding v has).
func roundF16(v []float32) []float32 {
	out := make([]float32, len(v))
	for i, f := range v {
		out[i] = half.Round(f)
	}
	return out
}

// uploadF16 stores v as float16 in a new buffer freed at the end of the
// test.
func uploadF16(t *testing.T, d *engine.Device, v []float32) *engine.Buffer {
	t.Helper()
	return upload16(t, d, half.Encode(v))
}

// downloadF16 reads a float16 buffer as float32.
func downloadF16(t *testing.T, b *engine.Buffer) []float32 {
	t.Helper()
	return half.Decode(download16(t, b))
}

// upload16 stores 16-bit values in a new buffer freed at the end of the
// test.
func upload16(t *testing.T, d *engine.Device, h []uint16) *engine.Buffer {
	t.Helper()
	b, err := d.NewBuffer(t.Name(), int64(2*max(len(h), 1)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Free)
	if err := engine.Upload(b, h); err != nil {
		t.Fatal(err)
	}
	return b
}

// download16 reads a buffer of 16-bit values.
func download16(t *testing.T, b *engine.Buffer) []uint16 {
	t.Helper()
	h := make([]uint16, b.Size()/2)
	if err := engine.Download(b, h); err != nil {
		t.Fatal(err)
	}
	return h
}

// storageIO uploads and downloads spans of d elements.
func storageIO(d DType) (up func(*testing.T, *engine.Device, []float32) *engine.Buffer, down func(*testing.T, *engine.Buffer) []float32) {
	switch d {
	case F16:
		return uploadF16, downloadF16
	case BF16:
		return uploadBF16, downloadBF16
	}
	return upload, download
}

// storageInputs is v as a buffer of d elements holds it.
func storageInputs(d DType, v []float32) []float32 {
	switch d {
	case F16:
		return roundF16(v)
	case BF16:
		return roundBF16(v)
	}
	return v
}

// storageTol is the tolerance of a kernel whose float32 variant has
// (atol, rtol), for its variant storing d.
func storageTol(d DType, atol, rtol float64) (float64, float64) {
	unit, sub := storeRounding(d)
	return atol*(1+unit) + sub, rtol*(1+unit) + unit
}

// storageTypes are the variants every storage-typed kernel is tested in.
var storageTypes = []DType{F32, F16, BF16}
