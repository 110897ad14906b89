#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
// Scaled weight standardization, forward and backward, for CPU devices:
// a row (output channel) per subgroup (REGS) or per invocation, instead of
// one reducing workgroup per row: a barrier makes lavapipe run the
// workgroup as coroutines and the per-row workgroup's fixed costs dominate
// rows of ~1000 weights. Same formulas, push constants and (backward's)
// bindings as ws.comp / ws_backward.comp, BACKWARD selecting.
//
// Loads are what costs on lavapipe (each is a loop over the lanes), so
// both forms load as little as they can, and both shift by the row's first
// weight K (a sample of the row, so the shift removes the row's offset as
// a mean would): with d = w - K and s1 = sum(d), outputs use
// w - mu = d - s1/F, so no fp32 rounding of mu itself (large for rows with
// an offset) enters them.
//
// REGS (kernels/ws.go's wsRegs: F % 4 == 0, F/4 <= MAXJ lanes' worth): a
// subgroup per row, each lane holding its JCOUNT vec4s (lane + j*L) in
// registers (the unrolled loops past JCOUNT fold away once specialized).
// The row is loaded once (backward: w and G once each), written once, and
// the statistics are two passes over the registers, summed across the
// subgroup by subgroupAdd.
//
// Otherwise a row per invocation, the statistics in one pass: s1 and
// s2 = sum(d*d), sum((w-mu)^2) = s2 - s1*s1/F. Forward reads the row twice
// (statistics, output) and writes once; backward reads w and G twice each
// (the sums of d, d*d, G, d*G in one pass, then dw). Each invocation keeps
// one running sum per vec4 component.
//
// (Tried and dropped: a row per one-invocation workgroup, so that every
// address is uniform, ran 2-3x slower on lavapipe 22.3 than a row per
// lane: it still loads lane by lane; unrolling the row-per-lane loops by
// 2: no gain.)
layout(local_size_x_id = 0) in;
#include "storage.glsl"
// nfvk:variant f16 ACT_F16
// nfvk:variant bf16 ACT_BF16
layout(constant_id = 1) const uint TIMM = 0;
layout(constant_id = 2) const uint DGAIN = 1;
layout(constant_id = 3) const uint BACKWARD = 0;
layout(constant_id = 4) const uint REGS = 0;
layout(constant_id = 5) const uint JCOUNT = 48; // <= MAXJ
layout(set = 0, binding = 0) readonly buffer W { float w[]; };
layout(set = 0, binding = 0) readonly buffer W4 { vec4 w4[]; };
layout(set = 0, binding = 1) readonly buffer G { float gain[]; };
// forward: 3 what (2 and 4 unused); backward: 2 dwhat, 3 dw, 4 dgain
layout(set = 0, binding = 2) readonly buffer B2 { float b2[]; };
layout(set = 0, binding = 2) readonly buffer B24 { vec4 b24[]; };
// Binding 3 is float16 in the _f16 variant (include/storage.glsl), which
// kernels dispatch forward only: what, read by float16 convolutions.
layout(set = 0, binding = 3) writeonly buffer DW { ACT_T dw[]; };
layout(set = 0, binding = 3) writeonly buffer DW4 { ACT4_T dw4[]; };
layout(set = 0, binding = 4) writeonly buffer DG { float dgain[]; };
layout(push_constant) uniform P {
	uint rows;
	uint F;
	float gamma_rsqrt_n;
	float eps;
} p;

const float DM_MIN_NVAR = 1e-4;
const vec4 ONE = vec4(1.0);
const uint MAXJ = 48u; // kernels/ws.go's wsMaxJ

void regs() {
	uint L = gl_SubgroupSize, lane = gl_SubgroupInvocationID;
	uint n4 = p.F / 4u;
	float invF = 1.0 / float(p.F);
	uint stride = gl_NumWorkGroups.x * gl_NumSubgroups;
	for (uint r = gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID; r < p.rows; r += stride) {
		uint b4 = r * n4;
		float K = w[4u * b4];
		vec4 x[MAXJ], g[MAXJ];
		vec4 acc = vec4(0.0);
		[[unroll]] for (uint j = 0u; j < MAXJ; j++) {
			if (j < JCOUNT) {
				uint q = j * L + lane;
				// lanes past the row's end load its last vec4, weighted 0
				float m = q < n4 ? 1.0 : 0.0;
				uint a = b4 + min(q, n4 - 1u);
				x[j] = (w4[a] - K) * m;
				if (BACKWARD == 1u) g[j] = b24[a] * m;
				acc += x[j];
			}
		}
		float m1 = subgroupAdd(dot(acc, ONE)) * invF;
		vec4 ass = vec4(0.0), asg = vec4(0.0), asdg = vec4(0.0);
		[[unroll]] for (uint j = 0u; j < MAXJ; j++) {
			if (j < JCOUNT) {
				vec4 d = j * L + lane < n4 ? x[j] - m1 : vec4(0.0);
				x[j] = d;
				ass += d * d;
				if (BACKWARD == 1u) {
					asg += g[j];
					asdg += d * g[j];
				}
			}
		}
		float ss = subgroupAdd(dot(ass, ONE));
		if (BACKWARD == 0u) {
			float scale = TIMM == 0u ? gain[r] * inversesqrt(max(ss, DM_MIN_NVAR))
			                         : gain[r] * p.gamma_rsqrt_n * inversesqrt(ss * invF + p.eps);
			[[unroll]] for (uint j = 0u; j < MAXJ; j++) {
				uint q = j * L + lane;
				if (j < JCOUNT && q < n4) dw4[b4 + q] = ST4(x[j] * scale);
			}
			continue;
		}
		float sg = subgroupAdd(dot(asg, ONE)), sdg = subgroupAdd(dot(asdg, ONE));
		float k, cc; // as in the per-lane form below
		if (TIMM == 0u) {
			float rs = inversesqrt(max(ss, DM_MIN_NVAR));
			if (DGAIN == 1u && lane == 0u) dgain[r] = rs * sdg;
			k = gain[r] * rs;
			cc = ss < DM_MIN_NVAR ? 0.0 : rs * rs * sdg;
		} else {
			float rsd = inversesqrt(ss * invF + p.eps);
			if (DGAIN == 1u && lane == 0u) dgain[r] = p.gamma_rsqrt_n * rsd * sdg;
			k = gain[r] * p.gamma_rsqrt_n * rsd;
			cc = rsd * rsd * sdg * invF;
		}
		float mg = sg * invF;
		[[unroll]] for (uint j = 0u; j < MAXJ; j++) {
			uint q = j * L + lane;
			if (j < JCOUNT && q < n4) dw4[b4 + q] = ST4(k * (g[j] - mg - x[j] * cc));
		}
	}
}

void main() {
	if (REGS == 1u) {
		regs();
		return;
	}
	uint F = p.F;
	bool v4 = (F & 3u) == 0u;
	float fF = float(F), invF = 1.0 / fF;
	uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	for (uint r = gl_GlobalInvocationID.x; r < p.rows; r += stride) {
		uint base = r * F, b4 = base / 4u, e4 = (base + F) / 4u;
		float K = w[base];
		vec4 a1 = vec4(0.0), a2 = vec4(0.0);
		if (BACKWARD == 0u) {
			if (v4) {
				for (uint i = b4; i < e4; i++) {
					vec4 d = w4[i] - K;
					a1 += d;
					a2 += d * d;
				}
			} else {
				for (uint i = base; i < base + F; i++) {
					float d = w[i] - K;
					a1.x += d;
					a2.x += d * d;
				}
			}
			float s1 = dot(a1, ONE), m1 = s1 * invF;
			float ss = max(dot(a2, ONE) - s1 * m1, 0.0);
			float scale = TIMM == 0u ? gain[r] * inversesqrt(max(ss, DM_MIN_NVAR))
			                         : gain[r] * p.gamma_rsqrt_n * inversesqrt(ss * invF + p.eps);
			if (v4) {
				for (uint i = b4; i < e4; i++) dw4[i] = ST4((w4[i] - K - m1) * scale);
			} else {
				for (uint i = base; i < base + F; i++) dw[i] = ST((w[i] - K - m1) * scale);
			}
			continue;
		}
		vec4 asg = vec4(0.0), asdg = vec4(0.0);
		if (v4) {
			for (uint i = b4; i < e4; i++) {
				vec4 d = w4[i] - K, g = b24[i];
				a1 += d;
				a2 += d * d;
				asg += g;
				asdg += d * g;
			}
		} else {
			for (uint i = base; i < base + F; i++) {
				float d = w[i] - K, g = b2[i];
				a1.x += d;
				a2.x += d * d;
				asg.x += g;
				asdg.x += d * g;
			}
		}
		float s1 = dot(a1, ONE), m1 = s1 * invF;
		float ss = max(dot(a2, ONE) - s1 * m1, 0.0), sg = dot(asg, ONE);
		// sum((w-mu)*G) = sum(d*G) - m1*sum(G)
		float sdg = dot(asdg, ONE) - m1 * sg;
		float k, cc; // dw = k * (G - sg/n - (w-mu)*cc), as in ws_backward.comp
		if (TIMM == 0u) {
			float rs = inversesqrt(max(ss, DM_MIN_NVAR));
			if (DGAIN == 1u) dgain[r] = rs * sdg;
			k = gain[r] * rs;
			cc = ss < DM_MIN_NVAR ? 0.0 : rs * rs * sdg;
		} else {
			float rsd = inversesqrt(ss * invF + p.eps);
			if (DGAIN == 1u) dgain[r] = p.gamma_rsqrt_n * rsd * sdg;
			k = gain[r] * p.gamma_rsqrt_n * rsd;
			cc = rsd * rsd * sdg * invF;
		}
		float mg = sg * invF;
		if (v4) {
			for (uint i = b4; i < e4; i++) dw4[i] = ST4(k * (b24[i] - mg - (w4[i] - K - m1) * cc));
		} else {
			for (uint i = base; i < base + F; i++) dw[i] = ST(k * (b2[i] - mg - (w[i] - K - m1) * cc));
		}
	}
}
