package ref

import (
	"math"
	"testing"
)

// Random123's known-answer vectors for Philox4x32-10 (tests/kat_vectors).
func TestPhiloxKnownAnswers(t *testing.T) {
	cases := []struct {
		ctr  [4]uint32
		key  [2]uint32
		want [4]uint32
	}{
		{[4]uint32{0, 0, 0, 0}, [2]uint32{0, 0},
			[4]uint32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
		{[4]uint32{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, [2]uint32{0xffffffff, 0xffffffff},
			[4]uint32{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
		{[4]uint32{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, [2]uint32{0xa4093822, 0x299f31d0},
			[4]uint32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
	}
	for _, c := range cases {
		if got := Philox4x32(c.ctr, c.key); got != c.want {
			t.Errorf("Philox4x32(%08x, %08x) = %08x, want %08x", c.ctr, c.key, got, c.want)
		}
	}
}

// Test vectors for GPU ports of RandomBits and Uniform, computed by an
// independent Python implementation of the algorithm documented in rng.go
// (it reproduces the Random123 vectors above). A GLSL port must give exactly
// these bits and these float32 values.
var rngVectors = []struct {
	seed, stream, index uint64
	bits                uint32
	u                   float32
}{
	{0x0, 0x0, 0x0, 0x6627e8d5, 0.3990464210510254},
	{0x0, 0x0, 0x1, 0xe169c58d, 0.8805201649665833},
	{0x0, 0x0, 0x2, 0xbc57ac4c, 0.7357127666473389},
	{0x0, 0x0, 0x3, 0x9b00dbd8, 0.6054818034172058},
	{0x0, 0x0, 0x4, 0xf8e4cca4, 0.9722411632537842},
	{0x2a, 0x0, 0x7, 0x744e06fb, 0.45431554317474365},
	{0x2a, 0x1, 0x7, 0x39c6bd08, 0.22568875551223755},
	{0x11f71fb04cb, 0x3ade68b1, 0xf4243, 0x3b32ef1a, 0.23124593496322632},
	{0xffffffffffffffff, 0xffffffffffffffff, 0xffffffffffffffff, 0x411fcefd, 0.25439155101776123},
	{0x123456789abcdef, 0x5, 0x400000006, 0xa0753189, 0.6267881989479065},
}

func TestRandomBitsVectors(t *testing.T) {
	for _, v := range rngVectors {
		if got := RandomBits(v.seed, v.stream, v.index); got != v.bits {
			t.Errorf("RandomBits(%#x, %#x, %#x) = %#08x, want %#08x", v.seed, v.stream, v.index, got, v.bits)
		}
		if got := Uniform(v.seed, v.stream, v.index); got != v.u {
			t.Errorf("Uniform(%#x, %#x, %#x) = %.9g, want %.9g", v.seed, v.stream, v.index, got, v.u)
		}
		// u is exactly the top 24 bits times 2^-24.
		if float64(Uniform(v.seed, v.stream, v.index)) != float64(v.bits>>8)/(1<<24) {
			t.Errorf("Uniform(%#x, %#x, %#x) is not (bits>>8)*2^-24", v.seed, v.stream, v.index)
		}
	}
}

func TestDropThreshold(t *testing.T) {
	cases := []struct {
		p    float64
		want uint32
	}{
		{0, 0}, {-0.5, 0}, {1, 1 << 24}, {2, 1 << 24}, {0.5, 1 << 23}, {0.25, 1 << 22},
		{0.2, 3355444}, {1 - 0.8, 3355444}, {0.3, 5033165}, {math.Inf(1), 1 << 24}, {math.Inf(-1), 0},
		{1.0 / (1 << 24), 1}, {0.5 / (1 << 24), 1},
	}
	for _, c := range cases {
		if got := DropThreshold(c.p); got != c.want {
			t.Errorf("DropThreshold(%v) = %d, want %d", c.p, got, c.want)
		}
	}
	mustPanic(t, "NaN", func() { DropThreshold(math.NaN()) })
}

func maskString(m []float32) string {
	b := make([]byte, len(m))
	for i, v := range m {
		b[i] = '0' + byte(v)
	}
	return string(b)
}

// TestDropPathMask checks the per-sample mask against vectors from the
// independent Python implementation, against floor(keep + u) evaluated in
// float64 (exact here: keep in [0.5, 1], u a multiple of 2^-24), including
// the boundary u == 1 - keep, and its rate.
func TestDropPathMask(t *testing.T) {
	m := make([]float32, 32)
	DropPathMask(42, 3, 0.8, m)
	if got, want := maskString(m), "01111011111111111001101111111101"; got != want {
		t.Errorf("DropPathMask(42, 3, 0.8) = %s, want %s", got, want)
	}
	for _, keep := range []float64{0.5, 0.75, 0.8, 0.9, 0.975, 1} {
		m := make([]float64, 2000)
		DropPathMask(9, 17, keep, m)
		for i, v := range m {
			if want := math.Floor(keep + float64(Uniform(9, 17, uint64(i)))); v != want {
				t.Fatalf("keep %v sample %d: mask %v, floor(keep+u) = %v", keep, i, v, want)
			}
		}
	}
	// Exactly on the boundary: keep = 1 - u_i gives keep + u_i = 1, kept;
	// the next float64 below drops it.
	for i := uint64(0); i < 8; i++ {
		u := float64(Uniform(5, 0, i))
		keep := 1 - u
		if keep < 0.5 {
			continue
		}
		m := make([]float64, i+1)
		DropPathMask(5, 0, keep, m)
		if m[i] != 1 {
			t.Errorf("index %d: keep = 1-u: dropped, want kept", i)
		}
		DropPathMask(5, 0, math.Nextafter(keep, 0), m)
		if m[i] != 0 {
			t.Errorf("index %d: keep just below 1-u: kept, want dropped", i)
		}
	}
	// Rates: 100000 draws, within 5 standard deviations.
	const n = 100000
	for _, keep := range []float64{0.8, 0.5} {
		m := make([]float32, n)
		DropPathMask(1, 2, keep, m)
		got := Sum(m) / n
		if sd := math.Sqrt(keep * (1 - keep) / n); math.Abs(got-keep) > 5*sd {
			t.Errorf("keep %v: kept fraction %v", keep, got)
		}
	}
	zero := make([]float32, 16)
	DropPathMask(1, 2, 0, zero)
	if Sum(zero) != 0 {
		t.Errorf("keep 0 kept something")
	}
}

func TestUniformStatistics(t *testing.T) {
	const n = 1 << 16
	sum, sq := 0.0, 0.0
	seen := map[float32]bool{}
	for i := uint64(0); i < n; i++ {
		u := float64(Uniform(77, 1, i))
		if u < 0 || u >= 1 {
			t.Fatalf("u[%d] = %v outside [0, 1)", i, u)
		}
		sum += u
		sq += u * u
		seen[float32(u)] = true
	}
	mean, variance := sum/n, sq/n-(sum/n)*(sum/n)
	if math.Abs(mean-0.5) > 5*math.Sqrt(1.0/12/n) || math.Abs(variance-1.0/12) > 0.002 {
		t.Errorf("mean %v, variance %v; want 0.5, 1/12", mean, variance)
	}
	if len(seen) < n*99/100 {
		t.Errorf("only %d distinct values in %d draws", len(seen), n)
	}
	// Streams and seeds give different sequences.
	same := 0
	for i := uint64(0); i < 1000; i++ {
		if RandomBits(77, 1, i) == RandomBits(77, 2, i) || RandomBits(77, 1, i) == RandomBits(78, 1, i) {
			same++
		}
	}
	if same > 2 {
		t.Errorf("%d collisions between streams/seeds in 1000 draws", same)
	}
}

func TestDropout(t *testing.T) {
	const rate = 0.3
	x := make([]float32, 32)
	for i := range x {
		x[i] = 1.5 + float32(i)
	}
	y := make([]float32, 32)
	Dropout(7, 11, rate, x, y)
	want := "10111000111001100111111011111001" // independent Python implementation
	scale := float32(1 / (1 - rate))
	if DropoutScale[float32](rate) != scale {
		t.Errorf("DropoutScale = %v, want %v", DropoutScale[float32](rate), scale)
	}
	for i := range x {
		switch {
		case want[i] == '1' && y[i] != x[i]*scale:
			t.Errorf("y[%d] = %v, want kept %v", i, y[i], x[i]*scale)
		case want[i] == '0' && y[i] != 0:
			t.Errorf("y[%d] = %v, want dropped", i, y[i])
		}
	}
	// Backward is the same mask and scale.
	dx := make([]float32, 32)
	DropoutBackward(7, 11, rate, x, dx)
	for i := range dx {
		if dx[i] != y[i] {
			t.Fatalf("backward differs from forward at %d", i)
		}
	}
	// In place.
	x2 := append([]float32(nil), x...)
	Dropout(7, 11, rate, x2, x2)
	for i := range x2 {
		if x2[i] != y[i] {
			t.Fatalf("in-place differs at %d", i)
		}
	}
	// Rate 0 is the identity, rate 1 zeroes everything.
	Dropout(7, 11, 0, x, y)
	for i := range y {
		if y[i] != x[i] {
			t.Fatalf("rate 0 changed element %d", i)
		}
	}
	Dropout(7, 11, 1, x, y)
	if Sum(y) != 0 {
		t.Errorf("rate 1 kept something")
	}
	// The mean is preserved on average.
	ones := make([]float64, 100000)
	Fill(ones, 1)
	Dropout(3, 4, 0.2, ones, ones)
	if m := Mean(ones); math.Abs(m-1) > 5*math.Sqrt(0.2/0.8/1e5) {
		t.Errorf("mean after dropout %v, want 1", m)
	}
	mustPanic(t, "dropout: rate", func() { Dropout(1, 1, 1.5, x, y) })
	mustPanic(t, "dropout: rate", func() { Dropout(1, 1, math.NaN(), x, y) })
}
