#version 450
// Inverted dropout and stochastic-depth masks from the counter-based RNG
// (include/rng.glsl), bit-exact with ref.Dropout and ref.DropPathMask:
//
//	MASK 0: y[i] = x[i] * scale if bits(base + i) >> 8 >= threshold, else 0
//	MASK 1: y[i] = 1.0      if bits(base + i) >> 8 >= threshold, else 0
//
// base (64-bit) is the element index of y[0] in the stream, so a tensor
// split into chunks draws the same numbers as one dispatch. The seed is
// read from a buffer (the host rewrites it each step; a recorded program
// replays a step exactly when given the same seed), the stream is a push
// constant fixed at record time. One invocation per 4 elements: one
// Philox block gives exactly the 4 words of an aligned vec4 (base % 4 == 0).
#include "elementwise.glsl"
#include "rng.glsl"
#include "ws_index.glsl"
layout(constant_id = 1) const uint MASK = 0;
// RUNS 1: FOR_EACH_RUN4 (CPU devices), 0: FOR_EACH_VEC4 (GPUs).
layout(constant_id = 2) const uint RUNS = 0;
layout(set = 0, binding = 0) readonly buffer S { uvec2 seed; };
layout(set = 0, binding = 1) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) readonly buffer X4 { vec4 x4[]; };
layout(set = 0, binding = 2) writeonly buffer Y { float y[]; };
layout(set = 0, binding = 2) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P {
	uint n;
	uint base_lo, base_hi; // index of element 0 in the stream; base_lo % 4 == 0
	uint stream_lo, stream_hi;
	uint threshold;
	float scale;
} p;

void main() {
	uvec2 base = uvec2(p.base_lo, p.base_hi), stream = uvec2(p.stream_lo, p.stream_hi);
	uvec2 b0 = uvec2((base.x >> 2) | (base.y << 30), base.y >> 2);
	uvec2 sd = seed;
	// mix with a bool selects: a dropped element is 0 even when x*scale
	// is inf or NaN, as in the reference.
#define DROP4 { \
		bvec4 k = greaterThanEqual(rng_block(add64(b0, i4), sd, stream) >> 8, uvec4(p.threshold)); \
		y4[i4] = MASK == 1u ? vec4(k) : mix(vec4(0.0), x4[i4] * p.scale, k); \
	}
#define DROP1 { \
		bool k = (rng_bits(add64(base, i), sd, stream) >> 8) >= p.threshold; \
		y[i] = MASK == 1u ? float(k) : (k ? x[i] * p.scale : 0.0); \
	}
	if (RUNS == 1u) {
		FOR_EACH_RUN4(p.n, DROP4, DROP1)
	} else {
		FOR_EACH_VEC4(p.n, DROP4, DROP1)
	}
}
