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

// FOR_EACH_RUN4 is FOR_EACH_VEC4 (include/elementwise.glsl) with each
// invocation taking one contiguous run of vec4s instead of every
// grid-width-th one: on lavapipe, whose invocations load lane by lane,
// streaming runs ran 2-7x faster than interleaved lanes (residual
// backward: 60 ms -> 8.6 ms). GPUs want the interleaved, coalesced form;
// kernels choose with a specialization constant. Sizes the grid small
// (a few thousand invocations), as a CPU has few cores.
#define FOR_EACH_RUN4(n, BODY4, BODY1)                                        \
	{                                                                         \
		uint T_ = gl_NumWorkGroups.x * gl_WorkGroupSize.x;                    \
		uint g_ = gl_GlobalInvocationID.x;                                    \
		uint full_ = (n) / 4u, run_ = (full_ + T_ - 1u) / T_;                 \
		uint end_ = min(g_ * run_ + run_, full_);                             \
		for (uint i4 = g_ * run_; i4 < end_; i4++) {                          \
			BODY4                                                             \
		}                                                                     \
		if (g_ < ((n) & 3u)) {                                                \
			uint i = full_ * 4u + g_;                                         \
			BODY1                                                             \
		}                                                                     \
	}

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
