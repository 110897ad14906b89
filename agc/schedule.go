package agc

import (
	"fmt"
	"math"
)

// ScaleLR returns base * batch / 256, the spec's learning-rate scaling
// (0.1 * batch/256 on ImageNet).
func ScaleLR(base float64, batch int) float64 { return base * float64(batch) / 256 }

// WarmupCosine is DeepMind's WarmupCosineDecay from 0 to peak and back to
// 0: linear warmup peak*step/warmup for step <= warmup, then
// peak/2 * (1 + cos(pi * (step-warmup)/(total-warmup))). It returns 0 for
// step < 0 and for step >= total (DeepMind's formula would rise again past
// total), and starts the cosine at step 0 when warmup is 0 or negative.
func WarmupCosine(step, warmup, total int, peak float64) float64 {
	if step < 0 || step >= total {
		return 0
	}
	warmup = max(warmup, 0)
	if warmup > 0 && step <= warmup {
		return peak * float64(step) / float64(warmup)
	}
	frac := float64(step-warmup) / float64(total-warmup)
	return 0.5 * peak * (1 + math.Cos(math.Pi*frac))
}

// EMADecay returns the EMA decay at step t: min(decay, (1+t)/(10+t)).
func EMADecay(decay float64, t int) float64 {
	return math.Min(decay, (1+float64(t))/(10+float64(t)))
}

// EMAUpdate sets ema = decay*ema + (1-decay)*value element-wise. It
// changes nothing and returns an error when the lengths differ or decay is
// outside [0, 1].
func EMAUpdate(ema, value []float32, decay float64) error {
	if len(ema) != len(value) {
		return fmt.Errorf("agc: ema update: %d ema values for %d parameters", len(ema), len(value))
	}
	if math.IsNaN(decay) || decay < 0 || decay > 1 {
		return fmt.Errorf("agc: ema update: decay %v outside [0, 1]", decay)
	}
	for i, v := range value {
		ema[i] = float32(decay*float64(ema[i]) + (1-decay)*float64(v))
	}
	return nil
}
