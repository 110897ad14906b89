package ref

import "math"

// Dynamic loss scaling (as torch.cuda.amp.GradScaler): references of the
// kernels of kernels/lossscale.go. The state is a scale S (float32) and
// three uint32 counters: LossScaleGood consecutive good steps,
// LossScaleSkipped skipped steps, LossScaleFlag the overflow flag of the
// current step.
const (
	LossScaleGood = iota
	LossScaleSkipped
	LossScaleFlag
	LossScaleCounters
)

// NonFinite reports whether x holds an Inf or a NaN.
func NonFinite(x []float32) bool {
	for _, v := range x {
		if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
			return true
		}
	}
	return false
}

// LossScaleMul multiplies x by s in place, or, with unscale, by 1/s, or
// sets it to 0 when unscaling after an overflow (flag set).
func LossScaleMul(x []float32, s float32, flag uint32, unscale bool) {
	if unscale && flag != 0 {
		clear(x)
		return
	}
	m := s
	if unscale {
		m = 1 / s
	}
	for i := range x {
		x[i] *= m
	}
}

// LossScaleHyper returns the optimizer's step values (agc.Hyper's
// encoding as words) with learning rate (word 0), momentum (1) and the
// EMA's 1-d (5) set to 0 when flag is set: a step that changes nothing.
func LossScaleHyper(h []uint32, flag uint32) []uint32 {
	out := append([]uint32(nil), h...)
	if flag != 0 {
		out[0], out[1], out[5] = 0, 0, 0
	}
	return out
}

// LossScaleUpdate is the end of a step: after an overflow S halves, the
// good-step counter resets and the skipped count grows; otherwise after
// growth consecutive good steps S doubles (unless that overflows). The
// flag clears.
func LossScaleUpdate(s float32, c [LossScaleCounters]uint32, growth uint32) (float32, [LossScaleCounters]uint32) {
	if c[LossScaleFlag] != 0 {
		s *= 0.5
		c[LossScaleGood] = 0
		c[LossScaleSkipped]++
	} else {
		good := c[LossScaleGood] + 1
		if good >= growth {
			if d := s * 2; !math.IsInf(float64(d), 0) {
				s = d
			}
			good = 0
		}
		c[LossScaleGood] = good
	}
	c[LossScaleFlag] = 0
	return s, c
}
