package data

import (
	"math"
	"math/bits"
	"math/rand/v2"
)

// rng draws from a math/rand/v2 PCG source. Bounded integers, floats and
// the Beta distribution are derived here rather than through rand.Rand, so
// every sequence depends only on PCG's specified output and stays the same
// across Go releases (rand.Rand's helper algorithms are not promised to).
type rng struct{ src rand.PCG }

// Random streams, so that shuffling, per-sample augmentation and per-batch
// mixing never share a sequence.
const (
	streamShuffle = 1 + iota
	streamSample
	streamBatch
)

// mix64 is the SplitMix64 finalizer, a bijective 64-bit hash.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// seedAt seeds r as a pure function of the loader seed, a stream and up to
// three coordinates (epoch, step, slot): any position can be regenerated
// without replaying the ones before it.
func (r *rng) seedAt(seed uint64, stream, a, b, c uint64) {
	h := mix64(seed ^ mix64(stream))
	h = mix64(h ^ a)
	h = mix64(h ^ b)
	h = mix64(h ^ c)
	r.src.Seed(h, mix64(h^stream))
}

func (r *rng) uint64() uint64 { return r.src.Uint64() }

// intn returns a uniform int in [0, n), n > 0 (Lemire's multiply-shift
// with rejection, so unbiased).
func (r *rng) intn(n int) int {
	un := uint64(n)
	hi, lo := bits.Mul64(r.uint64(), un)
	if lo < un {
		thresh := -un % un
		for lo < thresh {
			hi, lo = bits.Mul64(r.uint64(), un)
		}
	}
	return int(hi)
}

// coin returns true with probability 1/2.
func (r *rng) coin() bool { return r.uint64()>>63 == 1 }

// float64 returns a uniform float64 in [0, 1).
func (r *rng) float64() float64 { return float64(r.uint64()>>11) * 0x1p-53 }

// norm returns a standard normal deviate (Marsaglia's polar method).
func (r *rng) norm() float64 {
	for {
		u, v := 2*r.float64()-1, 2*r.float64()-1
		if s := u*u + v*v; s > 0 && s < 1 {
			return u * math.Sqrt(-2*math.Log(s)/s)
		}
	}
}

// gamma returns a Gamma(a, 1) deviate, a > 0 (Marsaglia and Tsang).
func (r *rng) gamma(a float64) float64 {
	if a < 1 {
		return r.gamma(a+1) * math.Pow(r.float64(), 1/a)
	}
	d := a - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.norm()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// beta returns a Beta(a, a) deviate in [0, 1].
func (r *rng) beta(a float64) float64 {
	x, y := r.gamma(a), r.gamma(a)
	if x+y == 0 { // both underflowed for tiny a
		if r.coin() {
			return 1
		}
		return 0
	}
	return x / (x + y)
}
