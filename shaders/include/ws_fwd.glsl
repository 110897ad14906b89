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
#include "ws_row.glsl"
layout(constant_id = 1) const uint TIMM = 0;
// what is float16 in the _f16 variant (include/storage.glsl).
layout(set = 0, binding = 2) writeonly buffer Y { ACT_T y[]; };
layout(set = 0, binding = 2) writeonly buffer Y4 { ACT4_T y4[]; };

void main() {
	uint lid = gl_LocalInvocationID.x, L = gl_WorkGroupSize.x;
	uint F = p.F;
	// Rows start on a vec4 boundary iff F % 4 == 0 (the usual case:
	// in/groups is a multiple of 4); otherwise use scalar loads.
	bool v4 = (F & 3u) == 0u;
	float invF = 1.0 / float(F);
	for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
		uint base = r * F;
		float mu = ws_row_mean(base, F, v4, invF, lid, L);
		vec4 acc = vec4(0.0);
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
		vec4 t = wg_sum(acc, 1u);
		float ss = t.x + t.y + t.z + t.w; // n * var
		float scale = TIMM == 0u ? gain[r] * inversesqrt(max(ss, DM_MIN_NVAR))
		                         : gain[r] * p.gamma_rsqrt_n * inversesqrt(ss * invF + p.eps);
		if (v4) {
			for (uint i = lid; i < F / 4u; i += L) y4[base / 4u + i] = ST4((w4[base / 4u + i] - mu) * scale);
		} else {
			for (uint i = lid; i < F; i += L) y[base + i] = ST((w[base + i] - mu) * scale);
		}
	}
}
