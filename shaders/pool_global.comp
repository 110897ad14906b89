#version 450
// Reductions over each plane of x[P, HW] (P = N*C), one invocation per
// plane: no barriers, which lavapipe charges dearly, and no workgroup per
// plane, whose fixed cost dominates the short planes of NFNets (HW = 36 to
// 2304, P up to ~10^5). fp32 vec4 partial sums.
//
//	MODE 0: y[p]  = mean(x[p, :])                          (global avg pool)
//	MODE 1: dz[p] = gain*s*(1-s) * sum(dy[p,:] * x[p,:]),  s = sigmoid(z[p])
//	        (the SE gate's logit gradient)
//
// Bindings: 0 x, 1 dy, 2 z, 3 y or dz (mode 0 binds x at 1 and 2, unread).
// The f16 variant stores x and dy (activations) as float16; z and the
// per-plane results stay float32.
layout(local_size_x_id = 0) in;
#include "storage.glsl"
// nfvk:variant f16 ACT_F16
// nfvk:variant bf16 ACT_BF16
layout(constant_id = 1) const uint MODE = 0;
layout(set = 0, binding = 0) readonly buffer X { ACT_T x[]; };
layout(set = 0, binding = 0) readonly buffer X4 { ACT4_T x4[]; };
layout(set = 0, binding = 1) readonly buffer DY { ACT_T dy[]; };
layout(set = 0, binding = 1) readonly buffer DY4 { ACT4_T dy4[]; };
layout(set = 0, binding = 2) readonly buffer Z { float z[]; };
layout(set = 0, binding = 3) writeonly buffer O { float o[]; };
layout(push_constant) uniform P {
	uint planes;
	uint hw;
	float gain;
} p;

void main() {
	uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	bool v4 = (p.hw & 3u) == 0u;
	for (uint pl = gl_GlobalInvocationID.x; pl < p.planes; pl += stride) {
		uint base = pl * p.hw;
		vec4 acc = vec4(0.0);
		if (v4) {
			for (uint i = base / 4u; i < (base + p.hw) / 4u; i++)
				acc += MODE == 0u ? LD4(x4[i]) : LD4(x4[i]) * LD4(dy4[i]);
		} else {
			for (uint i = base; i < base + p.hw; i++)
				acc.x += MODE == 0u ? LD(x[i]) : LD(x[i]) * LD(dy[i]);
		}
		float s = (acc.x + acc.y) + (acc.z + acc.w);
		if (MODE == 0u) {
			o[pl] = s / float(p.hw);
		} else {
			// s(1-s) as sigmoid(z)*sigmoid(-z): 1-s would cancel for z >> 0.
			float zp = z[pl];
			o[pl] = p.gain / ((1.0 + exp(-zp)) * (1.0 + exp(zp))) * s;
		}
	}
}
