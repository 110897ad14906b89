#version 450
// NFNet block output and its backward over NCHW tensors of n elements,
// per = C*H*W of them per sample, one invocation per vec4 (grid-stride,
// the elementwise kernels' layout):
//
//	BACKWARD 0: out = shortcut + alpha*skip_gain*mask[s] * h
//	BACKWARD 1: dh  = alpha*skip_gain*mask[s] * dout
//	            dshortcut = dout                        (if DSHORT == 1)
//	            part[...] = alpha * sum of mask[s]*h*dout over the
//	                        elements of a workgroup (WG_REDUCE 1) or of an
//	                        invocation (0: no barrier, for CPU devices,
//	                        where barriers are costly)
//
// s = (start + i) / per is element i's sample (start: the first element of
// this dispatch, for tensors split into chunks). skip_gain is read from a
// buffer (a trained parameter), alpha is a push constant; mask (HAS_MASK)
// holds one 0/1 value per sample from the stochastic-depth kernel.
//
// Bindings, forward: 0 shortcut, 1 h, 2 skip_gain, 3 mask, 4 out.
// Backward: 0 dout, 1 h, 2 skip_gain, 3 mask, 4 dh, 5 dshortcut, 6 part.
// The f16 variant stores the activations (bindings 0, 1, 4, 5) as
// float16; skip_gain, mask and the partial sums stay float32.
#include "elementwise.glsl"
#include "ws_index.glsl"
#include "ws_reduce.glsl"
#include "storage.glsl"
// nfvk:variant f16 ACT_F16
// nfvk:variant bf16 ACT_BF16
layout(constant_id = 1) const uint BACKWARD = 0;
layout(constant_id = 2) const uint HAS_MASK = 0;
layout(constant_id = 3) const uint DSHORT = 0;
layout(constant_id = 4) const uint WG_REDUCE = 1;
// RUNS 1: FOR_EACH_RUN4 (CPU devices), 0: FOR_EACH_VEC4 (GPUs).
layout(constant_id = 5) const uint RUNS = 0;
layout(set = 0, binding = 0) readonly buffer A { ACT_T a[]; };
layout(set = 0, binding = 0) readonly buffer A4 { ACT4_T a4[]; };
layout(set = 0, binding = 1) readonly buffer H { ACT_T h[]; };
layout(set = 0, binding = 1) readonly buffer H4 { ACT4_T h4[]; };
layout(set = 0, binding = 2) readonly buffer SG { float skip_gain; };
layout(set = 0, binding = 3) readonly buffer M { float mask[]; };
layout(set = 0, binding = 4) writeonly buffer O { ACT_T o[]; };
layout(set = 0, binding = 4) writeonly buffer O4 { ACT4_T o4[]; };
layout(set = 0, binding = 5) writeonly buffer DS { ACT_T ds[]; };
layout(set = 0, binding = 5) writeonly buffer DS4 { ACT4_T ds4[]; };
layout(set = 0, binding = 6) writeonly buffer PART { float part[]; };
layout(push_constant) uniform P {
	uint n;
	uint start;          // index of element 0 in the whole tensor
	uint m_per, s_per;   // magic division by per
	float alpha;
	uint part_off;       // where this dispatch's partials start in part
} p;

float mask_of(uint i) { return HAS_MASK == 1u ? mask[udiv(p.start + i, p.m_per, p.s_per)] : 1.0; }

// mask4 is the mask of the 4 elements from e on: one lookup when they lie
// in one sample (always when per % 4 == 0).
vec4 mask4(uint e) {
	if (HAS_MASK == 0u) return vec4(1.0);
	uint s0 = udiv(p.start + e, p.m_per, p.s_per);
	if (s0 == udiv(p.start + e + 3u, p.m_per, p.s_per)) return vec4(mask[s0]);
	return vec4(mask_of(e), mask_of(e + 1u), mask_of(e + 2u), mask_of(e + 3u));
}

void main() {
	float k = p.alpha * skip_gain;
	vec4 acc = vec4(0.0);
	if (BACKWARD == 0u) {
#define FWD4 { o4[i4] = ST4(LD4(a4[i4]) + (k * mask4(4u * i4)) * LD4(h4[i4])); }
#define FWD1 { o[i] = ST(LD(a[i]) + (k * mask_of(i)) * LD(h[i])); }
		if (RUNS == 1u) {
			FOR_EACH_RUN4(p.n, FWD4, FWD1)
		} else {
			FOR_EACH_VEC4(p.n, FWD4, FWD1)
		}
	} else {
#define BWD4 { \
			vec4 m = mask4(4u * i4); \
			vec4 av = LD4(a4[i4]); \
			o4[i4] = ST4((k * m) * av); \
			if (DSHORT == 1u) ds4[i4] = a4[i4]; \
			acc += m * (LD4(h4[i4]) * av); \
		}
#define BWD1 { \
			float m = mask_of(i); \
			float av = LD(a[i]); \
			o[i] = ST((k * m) * av); \
			if (DSHORT == 1u) ds[i] = a[i]; \
			acc.x += m * (LD(h[i]) * av); \
		}
		if (RUNS == 1u) {
			FOR_EACH_RUN4(p.n, BWD4, BWD1)
		} else {
			FOR_EACH_VEC4(p.n, BWD4, BWD1)
		}
		if (WG_REDUCE == 1u) {
			vec4 t = wg_sum(acc, 0u);
			if (gl_LocalInvocationID.x == 0u) part[p.part_off + gl_WorkGroupID.x] = p.alpha * (t.x + t.y + t.z + t.w);
		} else {
			part[p.part_off + gl_GlobalInvocationID.x] = p.alpha * ((acc.x + acc.y) + (acc.z + acc.w));
		}
	}
}
