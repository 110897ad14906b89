package ref

import "fmt"

// DropPathMask fills mask (one value per sample) with stochastic depth's
// per-sample keep mask for keep probability keep = 1 - drop rate:
//
//	mask[n] = floor(keep + u_n),  u_n = Uniform(seed, stream, n)
//
// evaluated exactly as RandomBits(seed, stream, n)>>8 >= DropThreshold(1-keep)
// (see rng.go), giving 1 or 0. There is no 1/keep rescaling (DeepMind's
// NFNets); Residual multiplies the branch by the mask.
func DropPathMask[T Float](seed, stream uint64, keep float64, mask []T) {
	t := DropThreshold(1 - keep)
	for n := range mask {
		if RandomBits(seed, stream, uint64(n))>>8 >= t {
			mask[n] = 1
		} else {
			mask[n] = 0
		}
	}
}

// DropoutScale is the inverted-dropout scale T(1/(1-rate)) the kernels
// multiply by (0 when rate >= 1). It is rounded to T once, so the GPU can
// receive the same value as a uniform.
func DropoutScale[T Float](rate float64) T {
	if rate >= 1 {
		return 0
	}
	return T(1 / (1 - rate))
}

// Dropout computes inverted dropout with drop probability rate:
//
//	y[i] = x[i] * DropoutScale(rate)   if RandomBits(seed, stream, i)>>8 >= DropThreshold(rate)
//	y[i] = 0                           otherwise
//
// The product is a single multiplication in T, so float32 results match a
// GPU bit for bit. y may alias x.
func Dropout[T Float](seed, stream uint64, rate float64, x, y []T) {
	if rate < 0 || !(rate <= 1) {
		panic(fmt.Sprintf("dropout: rate %v outside [0, 1]", rate))
	}
	checkLen("dropout", "y", len(y), len(x))
	t, scale := DropThreshold(rate), DropoutScale[T](rate)
	for i, v := range x {
		if RandomBits(seed, stream, uint64(i))>>8 >= t {
			y[i] = v * scale
		} else {
			y[i] = 0
		}
	}
}

// DropoutBackward computes dx from dy for Dropout with the same seed, stream
// and rate: the mask is linear, so dx = Dropout(dy). dx may alias dy.
func DropoutBackward[T Float](seed, stream uint64, rate float64, dy, dx []T) {
	Dropout(seed, stream, rate, dy, dx)
}
