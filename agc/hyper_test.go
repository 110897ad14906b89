package agc

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

// TestHyperValues pins the words Values gives a graph's per-step input
// tensor, as float32 bit patterns worked out with python3's struct
// (struct.pack('<f', v)), and checks that they are Encode's bytes read as
// little-endian words. The kernels' tests pin the same layout from the
// shader side.
func TestHyperValues(t *testing.T) {
	h := Hyper{LR: 0.5, Momentum: 0.9, Nesterov: true, WeightDecay: 0.25, Lambda: 0.01, EMADecay: 0.75, Step: 7}
	want := [HyperWords]uint32{
		0x3f000000, // lr 0.5
		0x3f666666, // momentum float32(0.9)
		0x3e800000, // weight decay 0.25
		0x3c23d70a, // AGC lambda float32(0.01)
		0x3a83126f, // AGC eps: 0 stands for DefaultEps, float32(1e-3)
		0x3e800000, // 1 - EMA decay = 0.25
		1,          // nesterov
		7,          // step
	}
	v, err := h.Values()
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != HyperWords || len(b) != HyperBytes || HyperBytes != 4*HyperWords {
		t.Fatalf("%d values, %d bytes; want %d, %d", len(v), len(b), HyperWords, HyperBytes)
	}
	for i, w := range want {
		if got := math.Float32bits(v[i]); got != w {
			t.Errorf("word %d = %#08x, want %#08x", i, got, w)
		}
		if got := binary.LittleEndian.Uint32(b[4*i:]); got != w {
			t.Errorf("bytes %d:%d = % x, want the little-endian %#08x", 4*i, 4*i+4, b[4*i:4*i+4], w)
		}
	}
}

// TestHyperRoundTrip checks that DecodeHyper gives back what the GPU
// computes with: the float fields as their float32 roundings, EMADecay
// as 1 minus the float32 1-d, and the uint32 fields bit for bit, even
// where their bits spell a float32 NaN.
func TestHyperRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   Hyper
		want Hyper
	}{
		{"exact in float32",
			Hyper{LR: 0.5, Momentum: 0.875, Nesterov: true, WeightDecay: 0.25, Lambda: 0.0625, Eps: 0.125, EMADecay: 0.75, Step: 7},
			Hyper{LR: 0.5, Momentum: 0.875, Nesterov: true, WeightDecay: 0.25, Lambda: 0.0625, Eps: 0.125, EMADecay: 0.75, Step: 7}},
		{"zeros; eps 0 is the default",
			Hyper{},
			Hyper{Eps: 0.0010000000474974513}},
		{"float32 roundings",
			Hyper{LR: 0.1, Momentum: 0.9, WeightDecay: 5e-5, Lambda: 0.01, Eps: 2e-3, EMADecay: 0.5},
			Hyper{LR: 0.10000000149011612, Momentum: 0.8999999761581421, WeightDecay: 4.999999873689376e-05,
				Lambda: 0.009999999776482582, Eps: 0.0020000000949949026, EMADecay: 0.5}},
		// 1 - 0.99999 in float64 is 9.99999999995449e-06, stored as the
		// float32 9.999999747378752e-06.
		{"EMA decay near 1", Hyper{EMADecay: 0.99999}, Hyper{Eps: 0.0010000000474974513, EMADecay: 1 - 9.999999747378752e-06}},
		{"EMA decay 1", Hyper{EMADecay: 1}, Hyper{Eps: 0.0010000000474974513, EMADecay: 1}},
		{"step 2^31", Hyper{Step: 1 << 31}, Hyper{Eps: 0.0010000000474974513, Step: 1 << 31}},
		{"step as a quiet NaN", Hyper{Step: math.MaxUint32}, Hyper{Eps: 0.0010000000474974513, Step: math.MaxUint32}},
		{"step as a signalling NaN", Hyper{Step: 0x7f800001}, Hyper{Eps: 0.0010000000474974513, Step: 0x7f800001}},
		{"step as +Inf", Hyper{Step: 0x7f800000}, Hyper{Eps: 0.0010000000474974513, Step: 0x7f800000}},
	}
	for _, tc := range tests {
		v, err := tc.in.Values()
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got, err := DecodeHyper(v)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: decoded %+v, want %+v", tc.name, got, tc.want)
		}
		// What was decoded encodes to the same words: reading the tensor
		// back and uploading it again changes nothing.
		again, err := got.Values()
		if err != nil {
			t.Fatalf("%s: re-encoding %+v: %v", tc.name, got, err)
		}
		for i := range v {
			if math.Float32bits(again[i]) != math.Float32bits(v[i]) {
				t.Errorf("%s: word %d re-encodes as %#08x, want %#08x", tc.name, i, math.Float32bits(again[i]), math.Float32bits(v[i]))
			}
		}
	}

	// Storing 1-d rather than d keeps the small number the EMA update
	// multiplies by to float32's relative precision: float32(0.99999)
	// would make 1-d 1.0013580322265625e-05, 0.14% off.
	v, err := Hyper{EMADecay: 0.99999}.Values()
	if err != nil {
		t.Fatal(err)
	}
	h, _ := DecodeHyper(v)
	if rel := math.Abs((1-h.EMADecay)-(1-0.99999)) / (1 - 0.99999); rel > 0x1p-24 {
		t.Errorf("1 - decoded EMA decay is %g relative off, want within float32's 2^-24", rel)
	}
}

func TestHyperDecodeNesterov(t *testing.T) {
	v := make([]float32, HyperWords)
	for _, tc := range []struct {
		bits uint32
		want bool
	}{{0, false}, {1, true}, {2, true}, {0x80000000, true}} {
		v[6] = math.Float32frombits(tc.bits)
		h, err := DecodeHyper(v)
		if err != nil || h.Nesterov != tc.want {
			t.Errorf("nesterov word %#x: %v, %v; want %v", tc.bits, h.Nesterov, err, tc.want)
		}
	}
}

func TestHyperRejects(t *testing.T) {
	for _, n := range []int{0, HyperWords - 1, HyperWords + 1} {
		if _, err := DecodeHyper(make([]float32, n)); err == nil || !strings.HasPrefix(err.Error(), "hyper: ") {
			t.Errorf("DecodeHyper of %d values: err = %v, want a hyper error", n, err)
		}
	}
	// Values refuses what Encode refuses, rather than writing a value the
	// GPU would misread.
	for _, h := range []Hyper{{LR: -1}, {LR: math.Inf(1)}, {Momentum: 1}, {EMADecay: math.NaN()}, {Eps: 1e-50},
		{Step: -1}, {Step: 1 << 32}} {
		if v, err := h.Values(); err == nil || !strings.HasPrefix(err.Error(), "hyper: ") {
			t.Errorf("%+v: Values = %v, %v; want a hyper error", h, v, err)
		}
	}
}
