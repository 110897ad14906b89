#version 450
// NFNet block output and its backward, per sample n of N (grid y), over
// the per = C*H*W elements of the sample (grid x: each workgroup takes a
// contiguous block of the sample, its lanes interleaved, so that every
// workgroup streams through memory: prefetch-friendly on CPU devices,
// coalesced on GPUs):
//
//	BACKWARD 0: out = shortcut + alpha*skip_gain*mask[n] * h
//	BACKWARD 1: dh  = alpha*skip_gain*mask[n] * dout
//	            dshortcut = dout                        (if DSHORT == 1)
//	            part[group or invocation] = alpha * sum over its elements
//	                          of mask[n] * h * dout      (dskip_gain partials)
//
// skip_gain is read from a buffer (it is a trained parameter), alpha is a
// push constant; mask (HAS_MASK == 1) holds one 0/1 value per sample from
// the stochastic-depth kernel. vec4 loads when per % 4 == 0 (every sample
// then starts on a vec4 boundary).
//
// Bindings, forward: 0 shortcut, 1 h, 2 skip_gain, 3 mask, 4 out.
// Backward: 0 dout, 1 h, 2 skip_gain, 3 mask, 4 dh, 5 dshortcut, 6 part.
#include "ws_reduce.glsl"
layout(constant_id = 1) const uint BACKWARD = 0;
layout(constant_id = 2) const uint HAS_MASK = 0;
layout(constant_id = 3) const uint DSHORT = 0;
// WG_REDUCE 1: one dskip_gain partial per workgroup (a workgroup sum);
// 0: one per invocation, no barrier (CPU devices, where barriers are
// costly: see kernels.rowLocal and the lane-per-row WS kernel).
layout(constant_id = 4) const uint WG_REDUCE = 1;
layout(set = 0, binding = 0) readonly buffer A { float a[]; };
layout(set = 0, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(set = 0, binding = 1) readonly buffer H { float h[]; };
layout(set = 0, binding = 1) readonly buffer H4 { vec4 h4[]; };
layout(set = 0, binding = 2) readonly buffer SG { float skip_gain; };
layout(set = 0, binding = 3) readonly buffer M { float mask[]; };
layout(set = 0, binding = 4) writeonly buffer O { float o[]; };
layout(set = 0, binding = 4) writeonly buffer O4 { vec4 o4[]; };
layout(set = 0, binding = 5) writeonly buffer DS { float ds[]; };
layout(set = 0, binding = 5) writeonly buffer DS4 { vec4 ds4[]; };
layout(set = 0, binding = 6) writeonly buffer PART { float part[]; };
layout(push_constant) uniform P {
	uint per;
	uint N;
	float alpha;
	uint part_off; // where this dispatch's partials start in part
} p;

void main() {
	uint L = gl_WorkGroupSize.x;
	uint lid = gl_LocalInvocationID.x;
	bool v4 = (p.per & 3u) == 0u;
	vec4 acc = vec4(0.0);
	for (uint n = gl_WorkGroupID.y; n < p.N; n += gl_NumWorkGroups.y) {
		float m = HAS_MASK == 1u ? mask[n] : 1.0;
		float k = p.alpha * skip_gain * m;
		uint base = n * p.per;
		if (v4) {
			uint b4 = base / 4u;
			uint blk = (p.per / 4u + gl_NumWorkGroups.x - 1u) / gl_NumWorkGroups.x;
			uint lo = gl_WorkGroupID.x * blk, hi = min(lo + blk, p.per / 4u);
			for (uint i = lo + lid; i < hi; i += L) {
				vec4 av = a4[b4 + i];
				if (BACKWARD == 0u) {
					o4[b4 + i] = av + k * h4[b4 + i];
				} else {
					o4[b4 + i] = k * av;
					if (DSHORT == 1u) ds4[b4 + i] = av;
					acc += m * (h4[b4 + i] * av);
				}
			}
		} else {
			uint blk = (p.per + gl_NumWorkGroups.x - 1u) / gl_NumWorkGroups.x;
			uint lo = gl_WorkGroupID.x * blk, hi = min(lo + blk, p.per);
			for (uint i = lo + lid; i < hi; i += L) {
				float av = a[base + i];
				if (BACKWARD == 0u) {
					o[base + i] = av + k * h[base + i];
				} else {
					o[base + i] = k * av;
					if (DSHORT == 1u) ds[base + i] = av;
					acc.x += m * (h[base + i] * av);
				}
			}
		}
	}
	if (BACKWARD == 1u) {
		uint g = gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
		if (WG_REDUCE == 1u) {
			vec4 t = wg_sum(acc, 0u);
			if (gl_LocalInvocationID.x == 0u) part[p.part_off + g] = p.alpha * (t.x + t.y + t.z + t.w);
		} else {
			part[p.part_off + g * L + gl_LocalInvocationID.x] = p.alpha * ((acc.x + acc.y) + (acc.z + acc.w));
		}
	}
}
