package ref

import "math"

// Philox4x32-10 constants (Random123's PHILOX_M4x32_0/1, PHILOX_W32_0/1).
const (
	PhiloxM0 uint32 = 0xD2511F53
	PhiloxM1 uint32 = 0xCD9E8D57
	PhiloxW0 uint32 = 0x9E3779B9
	PhiloxW1 uint32 = 0xBB67AE85
)

// Philox4x32 is the Philox4x32-10 block function: 10 rounds over the counter
// with the given key. It matches Random123's known-answer vectors.
func Philox4x32(ctr [4]uint32, key [2]uint32) [4]uint32 {
	c, k := ctr, key
	for r := 0; r < 10; r++ {
		if r > 0 {
			k[0] += PhiloxW0
			k[1] += PhiloxW1
		}
		p0 := uint64(PhiloxM0) * uint64(c[0])
		p1 := uint64(PhiloxM1) * uint64(c[2])
		hi0, lo0 := uint32(p0>>32), uint32(p0)
		hi1, lo1 := uint32(p1>>32), uint32(p1)
		c = [4]uint32{hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0}
	}
	return c
}

// RandomBits returns the 32 random bits of element index of the stream
// (seed, stream); stochastic depth and dropout draw from it.
//
// The generator is counter-based: Philox4x32-10 (Salmon, Moraes, Dror, Shaw,
// "Parallel random numbers: as easy as 1, 2, 3", SC 2011; the Random123
// library), chosen because it needs only 32-bit integer arithmetic, which
// every Vulkan device has (GLSL umulExtended gives the 64-bit product).
//
// The exact algorithm, which a GLSL port must reproduce bit for bit:
//
//	key (k0, k1), counter (c0, c1, c2, c3), all uint32, arithmetic mod 2^32.
//	10 rounds; before each round except the first:
//	    k0 += 0x9E3779B9; k1 += 0xBB67AE85
//	one round:
//	    (hi0, lo0) = 64-bit product 0xD2511F53 * c0
//	    (hi1, lo1) = 64-bit product 0xCD9E8D57 * c2
//	    (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
//	output: the final (c0, c1, c2, c3).
//
// Element index i (uint64) of the stream (seed, stream), both uint64, takes
// word i & 3 of the block
//
//	Philox4x32-10(counter = (lo32(i>>2), hi32(i>>2), lo32(stream), hi32(stream)),
//	              key     = (lo32(seed), hi32(seed)))
//
// and becomes a uniform u in [0, 1) as u = float32(bits >> 8) * 2^-24: the top
// 24 bits, an exact float32 (multiples of 2^-24 up to 1 - 2^-24).
//
// In GLSL:
//
//	uvec4 philox4x32_10(uvec4 c, uvec2 k) {
//	    for (int r = 0; r < 10; r++) {
//	        if (r > 0) k += uvec2(0x9E3779B9u, 0xBB67AE85u);
//	        uint hi0, lo0, hi1, lo1;
//	        umulExtended(0xD2511F53u, c.x, hi0, lo0);
//	        umulExtended(0xCD9E8D57u, c.z, hi1, lo1);
//	        c = uvec4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
//	    }
//	    return c;
//	}
//	// i = (ilo, ihi), seed = (slo, shi), stream = (tlo, thi):
//	uint blo = (ilo >> 2) | (ihi << 30), bhi = ihi >> 2;
//	uint bits = philox4x32_10(uvec4(blo, bhi, tlo, thi), uvec2(slo, shi))[ilo & 3u];
//	float u = float(bits >> 8) * (1.0 / 16777216.0);
//
// Keep decisions (stochastic depth, dropout) compare integers, not floats, so
// they do not depend on the device's rounding: element i is kept iff
// bits >> 8 >= DropThreshold(p), p the drop probability.
func RandomBits(seed, stream, index uint64) uint32 {
	b := index >> 2
	out := Philox4x32(
		[4]uint32{uint32(b), uint32(b >> 32), uint32(stream), uint32(stream >> 32)},
		[2]uint32{uint32(seed), uint32(seed >> 32)})
	return out[index&3]
}

// Uniform returns u = (RandomBits(seed, stream, index) >> 8) * 2^-24, an
// exact float32 in [0, 1).
func Uniform(seed, stream, index uint64) float32 {
	return float32(RandomBits(seed, stream, index)>>8) * (1.0 / (1 << 24))
}

// DropThreshold returns the integer threshold of a keep decision with drop
// probability p: an element is kept iff RandomBits>>8 >= DropThreshold(p),
// which has probability 1 - p up to 2^-24 resolution. It is
// ceil(p * 2^24) clamped to [0, 2^24] (p <= 0: always kept; p >= 1: never;
// NaN panics). With u = (bits>>8) * 2^-24 this is exactly u >= p, so for
// stochastic depth with keep probability keep and p = 1 - keep (exact in
// float64 for keep in [0.5, 1]) it equals floor(keep + u) in exact
// arithmetic. Shaders receive the threshold as a uint uniform.
func DropThreshold(p float64) uint32 {
	if math.IsNaN(p) {
		panic("drop threshold: probability is NaN")
	}
	t := math.Ceil(p * (1 << 24))
	return uint32(max(0, min(t, 1<<24)))
}
