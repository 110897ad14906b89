package bfloat16

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRoundTrip: every bfloat16 widens exactly and rounds back to itself
// (NaNs to a NaN).
func TestRoundTrip(t *testing.T) {
	for h := range 1 << 16 {
		f := ToFloat32(uint16(h))
		got := FromFloat32(f)
		if f != f {
			if g := ToFloat32(got); g == g {
				t.Fatalf("NaN %#04x rounds to %#04x, not a NaN", h, got)
			}
			continue
		}
		if got != uint16(h) {
			t.Fatalf("%#04x (%v) rounds back to %#04x", h, f, got)
		}
	}
}

// TestNearestEven checks FromFloat32 against rounding in float64: the
// nearest of the two bfloat16 neighbours, ties to the even one, across
// the range (subnormals, overflow to Inf included).
func TestNearestEven(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	check := func(f float32) {
		b := math.Float32bits(f)
		lo := uint16(b >> 16) // truncation: the neighbour toward zero
		hi := lo + 1
		dlo := math.Abs(float64(f) - float64(ToFloat32(lo)))
		dhi := math.Abs(float64(ToFloat32(hi)) - float64(f))
		if math.IsInf(float64(ToFloat32(hi)), 0) {
			// Past the largest finite: Inf when at least halfway to 2^128.
			dhi = math.Abs(math.Ldexp(1, 128)*math.Copysign(1, float64(f)) - float64(f))
		}
		want := lo
		if dhi < dlo || dhi == dlo && lo&1 == 1 {
			want = hi
		}
		if got := FromFloat32(f); got != want {
			t.Fatalf("FromFloat32(%v = %#08x) = %#04x, want %#04x", f, b, got, want)
		}
	}
	for range 1 << 20 {
		check(math.Float32frombits(r.Uint32()&^0x7f800000 | uint32(r.IntN(255))<<23)) // finite
	}
	for _, f := range []float32{0, 1, 1 + 1.0/256, 1 + 3.0/256, 1 + 1.0/512, math.MaxFloat32, -math.MaxFloat32, 1e-40, -1e-45} {
		check(f)
	}
	if got := FromFloat32(float32(math.Inf(-1))); got != 0xff80 {
		t.Errorf("-Inf: %#04x", got)
	}
	if f := ToFloat32(FromFloat32(float32(math.NaN()))); f == f {
		t.Error("NaN rounds to a number")
	}
}

func TestEncodeDecode(t *testing.T) {
	v := []float32{1, -2.5, 3.14159, 1e30}
	for i, got := range Decode(Encode(v)) {
		if got != Round(v[i]) {
			t.Errorf("%v: %v, want %v", v[i], got, Round(v[i]))
		}
	}
}
