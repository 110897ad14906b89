package agc

import (
	"math"
	"testing"
)

func TestWarmupCosine(t *testing.T) {
	const peak = 0.4
	tests := []struct {
		step, warmup, total int
		want                float64
	}{
		{-1, 10, 110, 0},
		{0, 10, 110, 0},
		{5, 10, 110, peak / 2},
		{10, 10, 110, peak},
		{60, 10, 110, peak / 2}, // half way through the cosine
		{35, 10, 110, peak * (1 + math.Cos(math.Pi/4)) / 2},
		{109, 10, 110, peak * (1 + math.Cos(math.Pi*99/100)) / 2},
		{110, 10, 110, 0},
		{500, 10, 110, 0},
		{0, 0, 100, peak}, // no warmup
		{50, 0, 100, peak / 2},
		{0, -3, 100, peak},
	}
	for _, tc := range tests {
		got := WarmupCosine(tc.step, tc.warmup, tc.total, peak)
		if math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("WarmupCosine(%d, %d, %d) = %v, want %v", tc.step, tc.warmup, tc.total, got, tc.want)
		}
	}
	if got := ScaleLR(0.1, 4096); got != 1.6 {
		t.Errorf("ScaleLR(0.1, 4096) = %v, want 1.6", got)
	}
}

func TestEMA(t *testing.T) {
	tests := []struct {
		decay float64
		t     int
		want  float64
	}{
		{0.99999, 0, 0.1},
		{0.99999, 10, 11.0 / 20},
		{0.99999, 1_000_000, 0.99999},
		{0.5, 100, 0.5},
	}
	for _, tc := range tests {
		if got := EMADecay(tc.decay, tc.t); got != tc.want {
			t.Errorf("EMADecay(%v, %d) = %v, want %v", tc.decay, tc.t, got, tc.want)
		}
	}
	ema := []float32{1, 2}
	if err := EMAUpdate(ema, []float32{3, 4}, 0.75); err != nil || ema[0] != 1.5 || ema[1] != 2.5 {
		t.Errorf("EMAUpdate = %v, %v; want [1.5 2.5]", ema, err)
	}
	if err := EMAUpdate(ema, []float32{3}, 0.5); err == nil {
		t.Error("length mismatch accepted")
	}
	if err := EMAUpdate(ema, []float32{3, 4}, 1.5); err == nil {
		t.Error("decay 1.5 accepted")
	}
}
