// Counter-based RNG: Philox4x32-10, bit-exact with ref.RandomBits (see
// kernels/ref/rng.go for the algorithm and the stream layout). Element i
// (64-bit, as (lo, hi)) of stream (seed, stream) is word i & 3 of the block
// philox4x32_10((i >> 2 as (lo, hi), stream lo, stream hi), (seed lo, hi)).
// Keep decisions compare integers: kept iff bits >> 8 >= threshold
// (ref.DropThreshold), so no float rounding enters.

uvec4 philox4x32_10(uvec4 c, uvec2 k) {
	for (int r = 0; r < 10; r++) {
		if (r > 0) k += uvec2(0x9E3779B9u, 0xBB67AE85u);
		uint hi0, lo0, hi1, lo1;
		umulExtended(0xD2511F53u, c.x, hi0, lo0);
		umulExtended(0xCD9E8D57u, c.z, hi1, lo1);
		c = uvec4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
	}
	return c;
}

// rng_block returns the 4 words of block b = (blo, bhi) (elements 4b..4b+3).
uvec4 rng_block(uvec2 b, uvec2 seed, uvec2 stream) {
	return philox4x32_10(uvec4(b.x, b.y, stream.x, stream.y), seed);
}

// rng_bits returns the 32 random bits of element i = (ilo, ihi).
uint rng_bits(uvec2 i, uvec2 seed, uvec2 stream) {
	uvec2 b = uvec2((i.x >> 2) | (i.y << 30), i.y >> 2);
	return rng_block(b, seed, stream)[i.x & 3u];
}

// add64 adds a 32-bit offset to a 64-bit (lo, hi) value.
uvec2 add64(uvec2 a, uint b) {
	uint carry;
	uint lo = uaddCarry(a.x, b, carry);
	return uvec2(lo, a.y + carry);
}
