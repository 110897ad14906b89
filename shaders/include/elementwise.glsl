// Shared by the elementwise shaders: one invocation per 4 elements,
// vec4 loads where the 4 are in range, a grid-stride loop so any n fits
// in a bounded number of workgroups. local_size_x is constant_id 0.
layout(local_size_x_id = 0) in;

// Calls BODY4(i4) for full vec4 groups and BODY1(i) for the tail.
#define FOR_EACH_VEC4(n, BODY4, BODY1)                                        \
	{                                                                         \
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
