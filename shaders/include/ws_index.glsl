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

// FOR_EACH_RUN4 and FOR_EACH_STRIDE4 (vec4s) live in elementwise.glsl.

// FOR_EACH_RUN / FOR_EACH_STRIDE call BODY(e) for every e < n: each
// invocation over one contiguous run (CPU devices) or interleaved over the
// grid (GPUs), as FOR_EACH_RUN4 and FOR_EACH_VEC4 do for vec4s.
#define FOR_EACH_RUN(n, BODY)                                                 \
	{                                                                         \
		uint T_ = gl_NumWorkGroups.x * gl_WorkGroupSize.x;                    \
		uint run_ = ((n) + T_ - 1u) / T_;                                     \
		uint lo_ = gl_GlobalInvocationID.x * run_;                            \
		for (uint e = lo_; e < min(lo_ + run_, (n)); e++) BODY                \
	}
#define FOR_EACH_STRIDE(n, BODY)                                              \
	{                                                                         \
		uint T_ = gl_NumWorkGroups.x * gl_WorkGroupSize.x;                    \
		for (uint e = gl_GlobalInvocationID.x; e < (n); e += T_) BODY         \
	}
