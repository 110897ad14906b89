#version 450
// The NFNet transition pool, 2x2 stride 2 with no padding before (TF
// "SAME" and PyTorch ceil_mode agree there), for W % 4 == 0: one
// invocation per pair of outputs, two vec4 loads (forward) or stores
// (backward) and no window loops. An odd H leaves a last output row over
// one input row: its count is 2 and its second row is absent. x is
// [P, H, W], y [P, OH, W/2]. pool.comp handles every other shape.
//
// Bindings: 0 x or dy, 1 y or dx; the f16 variant stores both as
// float16 (the sums in float32).
#include "elementwise.glsl"
#include "ws_index.glsl"
#include "storage.glsl"
// nfvk:variant f16 ACT_F16
// nfvk:variant bf16 ACT_BF16
layout(constant_id = 1) const uint BACKWARD = 0;
// RUNS 1: FOR_EACH_RUN (CPU devices), 0: FOR_EACH_STRIDE (GPUs).
layout(constant_id = 2) const uint RUNS = 0;
layout(set = 0, binding = 0) readonly buffer X2 { ACT2_T x2[]; };
layout(set = 0, binding = 0) readonly buffer X4 { ACT4_T x4[]; };
layout(set = 0, binding = 1) writeonly buffer Y2 { ACT2_T y2[]; };
layout(set = 0, binding = 1) writeonly buffer Y4 { ACT4_T y4[]; };
layout(push_constant) uniform P {
	uint pairs;          // P*OH*W/4 output pairs
	uint H, W4, OH;      // W4 = W/4 = output pairs per row
	uint m_w4, s_w4;     // magic division by W4
	uint m_oh, s_oh;     // magic division by OH
} p;

#define PAIR { \
		uint r = udiv(e, p.m_w4, p.s_w4); /* output row among all planes */ \
		uint q = e - r * p.W4; \
		uint pl = udiv(r, p.m_oh, p.s_oh); \
		uint h = 2u * (r - pl * p.OH); /* first input row of the window */ \
		uint top = (pl * p.H + h) * p.W4 + q; \
		bool two = h + 1u < p.H; \
		float inv = two ? 0.25 : 0.5; \
		if (BACKWARD == 0u) { \
			vec4 s = LD4(x4[top]); \
			if (two) s += LD4(x4[top + p.W4]); \
			y2[e] = ST2(vec2(s.x + s.y, s.z + s.w) * inv); \
		} else { \
			vec2 g = LD2(x2[e]) * inv; \
			vec4 v = vec4(g.x, g.x, g.y, g.y); \
			y4[top] = ST4(v); \
			if (two) y4[top + p.W4] = ST4(v); \
		} \
	}

void main() {
	if (RUNS == 1u) {
		FOR_EACH_RUN(p.pairs, PAIR)
	} else {
		FOR_EACH_STRIDE(p.pairs, PAIR)
	}
}
