// Scaled weight standardization, forward: one workgroup per output channel
// (row of F = fan-in contiguous weights), grid-stride over rows, fp32 with
// a two-pass mean and variance (the sum of squared deviations, not
// E[w^2]-mu^2, which cancels catastrophically for rows with a large mean).
//
//	TIMM 0 (DeepMind): what = (w - mu) * gain * rsqrt(max(n*var, 1e-4))
//	TIMM 1 (timm):     what = (w - mu) * gain * gamma/sqrt(n) * rsqrt(var + eps)
//
// Bindings: 0 w [O*F], 1 gain [O], 2 what [O*F].
#include "ws_reduce.glsl"
layout(constant_id = 1) const uint TIMM = 0;
layout(set = 0, binding = 0) readonly buffer W { float w[]; };
layout(set = 0, binding = 0) readonly buffer W4 { vec4 w4[]; };
layout(set = 0, binding = 1) readonly buffer G { float gain[]; };
layout(set = 0, binding = 2) writeonly buffer Y { float y[]; };
layout(set = 0, binding = 2) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P {
	uint rows;
	uint F;
	float gamma_rsqrt_n; // timm: gamma / sqrt(F)
	float eps;           // timm: added to the variance
} p;

const float DM_MIN_NVAR = 1e-4;

void main() {
	uint lid = gl_LocalInvocationID.x, L = gl_WorkGroupSize.x;
	uint F = p.F;
	// Rows start on a vec4 boundary iff F % 4 == 0 (the usual case:
	// in/groups is a multiple of 4); otherwise use scalar loads.
	bool v4 = (F & 3u) == 0u;
	float invF = 1.0 / float(F);
	for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
		uint base = r * F;
		vec4 acc = vec4(0.0);
		if (v4) {
			for (uint i = lid; i < F / 4u; i += L) acc += w4[base / 4u + i];
		} else {
			for (uint i = lid; i < F; i += L) acc.x += w[base + i];
		}
		vec4 t = wg_sum(acc, 0u);
		float mu = (t.x + t.y + t.z + t.w) * invF;
		acc = vec4(0.0);
		if (v4) {
			for (uint i = lid; i < F / 4u; i += L) {
				vec4 d = w4[base / 4u + i] - mu;
				acc += d * d;
			}
		} else {
			for (uint i = lid; i < F; i += L) {
				float d = w[base + i] - mu;
				acc.x += d * d;
			}
		}
		t = wg_sum(acc, 1u);
		float ss = t.x + t.y + t.z + t.w; // n * var
		float scale = TIMM == 0u ? gain[r] * inversesqrt(max(ss, DM_MIN_NVAR))
		                         : gain[r] * p.gamma_rsqrt_n * inversesqrt(ss * invF + p.eps);
		if (v4) {
			for (uint i = lid; i < F / 4u; i += L) y4[base / 4u + i] = (w4[base / 4u + i] - mu) * scale;
		} else {
			for (uint i = lid; i < F; i += L) y[base + i] = (w[base + i] - mu) * scale;
		}
	}
}
