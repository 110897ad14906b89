// Index arithmetic for the layer kernels (the ws_ prefix follows the file
// ownership split, not WS). Integer division by a runtime divisor is not a
// SIMD instruction on CPU devices (lavapipe scalarizes it) and is slow on
// GPUs; divide by a multiply-high with a host-computed magic number
// instead (kernels.divMagic): for n < 2^31, n / d = umulHi(n, m) >> s,
// with m == 0 standing for d == 1.
uint udiv(uint n, uint m, uint s) {
	if (m == 0u) return n;
	uint hi, lo;
	umulExtended(n, m, hi, lo);
	return hi >> s;
}
