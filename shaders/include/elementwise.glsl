// Shared by the elementwise shaders: one invocation per 4 elements,
// vec4 loads where the 4 are in range, a grid-stride loop so any n fits
// in a bounded number of workgroups. local_size_x is constant_id 0.
layout(local_size_x_id = 0) in;

// EW_RUNS (constant_id 7) gives each invocation one contiguous run of vec4s
// instead of every grid-width-th one: on CPU devices (lavapipe loads lane
// by lane) streaming runs are several times faster; GPUs want the
// interleaved, coalesced form.
layout(constant_id = 7) const bool EW_RUNS = false;

// FOR_EACH_RUN4 calls BODY4 for the vec4s of n elements with each
// invocation taking one contiguous run (CPU devices, whose invocations
// load lane by lane: streaming runs ran 2-7x faster than interleaved
// lanes), and BODY1(i) for the tail. Size such grids small (a few
// thousand invocations): a CPU has few cores.
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

// FOR_EACH_STRIDE4 is the GPU form: lanes interleaved over the grid, so
// neighbouring invocations touch neighbouring vec4s (coalesced).
#define FOR_EACH_STRIDE4(n, BODY4, BODY1)                                     \
	{                                                                         \
		uint stride_ = gl_NumWorkGroups.x * gl_WorkGroupSize.x;               \
		uint full_ = (n) / 4u;                                                \
		for (uint i4 = gl_GlobalInvocationID.x; i4 < full_; i4 += stride_) {  \
			BODY4                                                             \
		}                                                                     \
		if (gl_GlobalInvocationID.x < ((n) & 3u)) {                           \
			uint i = full_ * 4u + gl_GlobalInvocationID.x;                    \
			BODY1                                                             \
		}                                                                     \
	}

// FOR_EACH_VEC4 picks one of the two by EW_RUNS.
#define FOR_EACH_VEC4(n, BODY4, BODY1)                                        \
	if (EW_RUNS) FOR_EACH_RUN4(n, BODY4, BODY1) else FOR_EACH_STRIDE4(n, BODY4, BODY1)
