// Shared by the elementwise shaders: one invocation per 4 elements,
// vec4 loads where the 4 are in range, a grid-stride loop so any n fits
// in a bounded number of workgroups. local_size_x is constant_id 0.
layout(local_size_x_id = 0) in;

// EW_RUNS (constant_id 7) gives each invocation one contiguous run of vec4s
// instead of every grid-width-th one: on CPU devices (lavapipe loads lane
// by lane) streaming runs are several times faster; GPUs want the
// interleaved, coalesced form.
layout(constant_id = 7) const bool EW_RUNS = false;

// Calls BODY4(i4) for full vec4 groups and BODY1(i) for the tail.
#define FOR_EACH_VEC4(n, BODY4, BODY1)                                        \
	if (EW_RUNS) {                                                             \
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
	} else {                                                                  \
		uint stride_ = gl_NumWorkGroups.x * gl_WorkGroupSize.x;               \
		uint full_ = (n) / 4u;                                                \
		for (uint i4 = gl_GlobalInvocationID.x; i4 < full_; i4 += stride_) {  \
			BODY4                                                             \
		}                                                                     \
		uint t_ = full_ * 4u + gl_GlobalInvocationID.x;                       \
		if (gl_GlobalInvocationID.x < ((n) & 3u)) {                           \
			uint i = t_;                                                      \
			BODY1                                                             \
		}                                                                     \
	}
