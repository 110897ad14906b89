#version 450
// Squeeze-excite gate and per-plane broadcasts over x[P, HW] (P = N*C
// planes), one invocation per vec4 of the flattened tensor (a vec4 may
// straddle planes when HW % 4 != 0: each component finds its own plane):
//
//	GATE 1, MEAN 0: y  = gain*sigmoid(z[p]) * x             (gate forward)
//	GATE 1, MEAN 1: dx = gain*sigmoid(z[p]) * dy + dm[p]/HW (gate backward
//	                fused with the global-mean backward of the SE's squeeze:
//	                the SE input's whole gradient in one pass)
//	GATE 0, MEAN 1: dx = dm[p]/HW                           (global-mean backward)
//
// Bindings: 0 x or dy, 1 z, 2 dm, 3 y or dx. Unused ones are bound to
// something valid and never read. The f16 variant stores bindings 0 and 3
// (activations) as float16; z and dm stay float32.
#include "elementwise.glsl"
#include "ws_index.glsl"
#include "storage.glsl"
// nfvk:variant f16 ACT_F16
// nfvk:variant bf16 ACT_BF16
layout(constant_id = 1) const uint GATE = 1;
layout(constant_id = 2) const uint MEAN = 0;
// RUNS 1: FOR_EACH_RUN4 (CPU devices), 0: FOR_EACH_VEC4 (GPUs).
layout(constant_id = 3) const uint RUNS = 0;
layout(set = 0, binding = 0) readonly buffer X { ACT_T x[]; };
layout(set = 0, binding = 0) readonly buffer X4 { ACT4_T x4[]; };
layout(set = 0, binding = 1) readonly buffer Z { float z[]; };
layout(set = 0, binding = 2) readonly buffer DM { float dm[]; };
layout(set = 0, binding = 3) writeonly buffer Y { ACT_T y[]; };
layout(set = 0, binding = 3) writeonly buffer Y4 { ACT4_T y4[]; };
layout(push_constant) uniform P {
	uint n;
	uint m_hw, s_hw; // magic division by HW
	float gain;
	float inv_hw;
	uint hw;
} p;

float gate(uint pl) { return p.gain / (1.0 + exp(-z[pl])); }

float val(uint i, float xv) {
	uint pl = udiv(i, p.m_hw, p.s_hw);
	float r = 0.0;
	if (GATE == 1u) r = gate(pl) * xv;
	if (MEAN == 1u) r += dm[pl] * p.inv_hw;
	return r;
}

#define SE4 { \
		uint e = 4u * i4; \
		vec4 xv = GATE == 1u ? LD4(x4[i4]) : vec4(0.0); \
		uint pl = udiv(e, p.m_hw, p.s_hw); \
		if (pl == udiv(e + 3u, p.m_hw, p.s_hw)) { \
			vec4 r = vec4(0.0); \
			if (GATE == 1u) r = gate(pl) * xv; \
			if (MEAN == 1u) r += dm[pl] * p.inv_hw; \
			y4[i4] = ST4(r); \
		} else { \
			y4[i4] = ST4(vec4(val(e, xv.x), val(e + 1u, xv.y), val(e + 2u, xv.z), val(e + 3u, xv.w))); \
		} \
	}
#define SE1 { y[i] = ST(val(i, GATE == 1u ? LD(x[i]) : 0.0)); }

void main() {
	if (RUNS == 1u && GATE == 0u && MEAN == 1u && (p.hw & 3u) == 0u) {
		// Global-mean backward on CPU devices: each invocation takes a run
		// of whole planes, reading dm once per plane and only storing
		// vec4s (no per-vec4 plane division or dm load).
		uint hw4 = p.hw / 4u;
		FOR_EACH_RUN(p.n / p.hw, {
			vec4 v = vec4(dm[e] * p.inv_hw);
			for (uint j = e * hw4; j < e * hw4 + hw4; j++) y4[j] = ST4(v);
		})
		return;
	}
	// All four elements of a vec4 in one plane (always when HW % 4 == 0):
	// one gate, one exp for the vec4.
	if (RUNS == 1u) {
		FOR_EACH_RUN4(p.n, SE4, SE1)
	} else {
		FOR_EACH_VEC4(p.n, SE4, SE1)
	}
}
