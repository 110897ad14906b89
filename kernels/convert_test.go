package kernels

import (
	"fmt"
	"math"
	"testing"

	"github.com/nfvk/nfvk/engine"
)

// TestConvert runs the elementwise size table through both conversions of
// each 16-bit type: float32 to float16 or bfloat16 must round to nearest
// even (lavapipe does; the host's half.FromFloat32 and
// bfloat16.FromFloat32 are the references, checked in internal/half and
// internal/bfloat16), overflow to Inf, subnormals and NaN included, and
// widening back to float32 must be exact.
func TestConvert(t *testing.T) {
	d, k := testDevice(t)
	for _, c := range []struct {
		dt   DType
		seed uint64
		// Values past the type's range, subnormals, ties (to even both
		// ways), NaN and Inf.
		special []float32
	}{
		{F16, 5, []float32{70000, -65520, 65519, 1e-6, -3e-8, 1 + 1.0/2048, float32(math.Inf(1)), 0}},
		{BF16, 6, []float32{1 + 1.0/256, 1 + 3.0/256, math.MaxFloat32, -3.4e38, 1e-40, float32(math.NaN()), float32(math.Inf(-1)), 0}},
	} {
		up, down := storageIO(c.dt)
		for _, n := range sizes {
			t.Run(fmt.Sprintf("%v/%d", c.dt, n), func(t *testing.T) {
				x := randn(uint64(n)+c.seed, n, 300)
				copy(x, c.special[:min(n, len(c.special))])
				bx, bh, bf := upload(t, d, x), up(t, d, nans(n)), upload(t, d, nans(n))
				runProgram(t, k, func(p *engine.Program) error {
					if err := k.Convert(p, bh.Span(), c.dt, bx.Span(), F32); err != nil {
						return err
					}
					return k.Convert(p, bf.Span(), F32, bh.Span(), c.dt)
				})
				want := storageInputs(c.dt, x)
				assertBits(t, "to "+c.dt.String(), down(t, bh), want)
				assertBits(t, "back to float32", download(t, bf), want)
			})
		}
	}
}
