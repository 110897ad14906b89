package half

import (
	"math"
	"testing"
)

// TestRoundTrip: every float16 widens and narrows back to itself (NaNs to
// a NaN).
func TestRoundTrip(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := ToFloat32(h)
		if math.IsNaN(float64(f)) {
			if g := FromFloat32(f); g&0x7c00 != 0x7c00 || g&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", h, g)
			}
			continue
		}
		if g := FromFloat32(f); g != h {
			t.Fatalf("%#04x -> %v -> %#04x", h, f, g)
		}
	}
}

// TestNearestEven checks FromFloat32 against a float64 search for the
// nearest float16 (ties to the even mantissa) on values across every
// binade, the subnormals, ties and overflow.
func TestNearestEven(t *testing.T) {
	vals := []float32{0, 1, -1, 65504, 65519.99, 65520, 1e9, 6e-8, 2.9e-8, 3e-8, 1e-9, 1 + 1.0/2048, 1 + 3.0/2048, -2.5e-5}
	for i := 0; i < 200000; i++ {
		// A deterministic sweep of float32 bit patterns over the range.
		b := uint32(i)*20071 + 0x33000000
		vals = append(vals, math.Float32frombits(b&0x7fffffff), -math.Float32frombits(b&0x7fffffff))
	}
	for _, f := range vals {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			continue
		}
		got := ToFloat32(FromFloat32(f))
		want := nearest(float64(f))
		if math.Float64bits(float64(got)) != math.Float64bits(want) && !(got == 0 && want == 0) {
			t.Fatalf("Round(%g) = %g, want %g", f, got, want)
		}
	}
}

// nearest is the float16 nearest x, by the IEEE rule: ties to even,
// overflow beyond 65520 to Inf.
func nearest(x float64) float64 {
	a := math.Abs(x)
	if a >= 65520 {
		return math.Copysign(math.Inf(1), x)
	}
	// Spacing of float16 numbers around a.
	e := math.Max(math.Floor(math.Log2(a)), -14)
	if a == 0 {
		e = -14
	}
	ulp := math.Ldexp(1, int(e)-10)
	q := a / ulp
	r := math.RoundToEven(q)
	return math.Copysign(r*ulp, x)
}
