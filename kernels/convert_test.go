package kernels

import (
	"fmt"
	"math"
	"testing"

	"github.com/nfvk/nfvk/engine"
)

// TestConvert runs the elementwise size table through both conversions:
// float32 to float16 must round to nearest even (lavapipe does; the
// host's half.FromFloat32 is the reference, checked exhaustively in
// internal/half) including overflow to Inf, subnormals and NaN, and
// float16 to float32 must be exact.
func TestConvert(t *testing.T) {
	d, k := testDevice(t)
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			x := randn(uint64(n)+5, n, 300)
			// Values past float16's range, subnormals and ties.
			special := []float32{70000, -65520, 65519, 1e-6, -3e-8, 1 + 1.0/2048, float32(math.Inf(1)), 0}
			copy(x, special[:min(n, len(special))])
			bx, bh, bf := upload(t, d, x), uploadF16(t, d, nans(n)), upload(t, d, nans(n))
			runProgram(t, k, func(p *engine.Program) error {
				if err := k.Convert(p, bh.Span(), F16, bx.Span(), F32); err != nil {
					return err
				}
				return k.Convert(p, bf.Span(), F32, bh.Span(), F16)
			})
			want := roundF16(x)
			assertBits(t, "to float16", downloadF16(t, bh), want)
			assertBits(t, "back to float32", download(t, bf), want)
		})
	}
}

// TestConvertBF16 is TestConvert for bfloat16: to nearest even (the host's
// bfloat16.FromFloat32, checked in internal/bfloat16), overflow past the
// largest finite to Inf, NaN kept; widening exact.
func TestConvertBF16(t *testing.T) {
	d, k := testDevice(t)
	for _, n := range sizes {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			x := randn(uint64(n)+6, n, 300)
			// Ties (to even both ways), the largest finite and past it,
			// subnormals, NaN, Inf.
			special := []float32{1 + 1.0/256, 1 + 3.0/256, math.MaxFloat32, -3.4e38, 1e-40, float32(math.NaN()), float32(math.Inf(-1)), 0}
			copy(x, special[:min(n, len(special))])
			bx, bh, bf := upload(t, d, x), uploadBF16(t, d, nans(n)), upload(t, d, nans(n))
			runProgram(t, k, func(p *engine.Program) error {
				if err := k.Convert(p, bh.Span(), BF16, bx.Span(), F32); err != nil {
					return err
				}
				return k.Convert(p, bf.Span(), F32, bh.Span(), BF16)
			})
			want := roundBF16(x)
			assertBits(t, "to bfloat16", downloadBF16(t, bh), want)
			assertBits(t, "back to float32", download(t, bf), want)
		})
	}
}
