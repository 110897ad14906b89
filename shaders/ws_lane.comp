#version 450
// Scaled weight standardization, forward and backward, for CPU devices:
// one row (output channel) per invocation, or (ROW_PER_GROUP) per
// workgroup, instead of one reducing workgroup per row: a barrier makes
// lavapipe run the workgroup as coroutines and the per-row workgroup's
// fixed costs dominate rows of ~1000 weights. Same formulas, push constants
// and (backward's) bindings as ws.comp / ws_backward.comp, BACKWARD
// selecting.
//
// Loads are what costs on lavapipe, so the statistics take one pass,
// shifted by the row's first weight K (a sample of the row, so the shift
// removes the row's offset as the two-pass mean would): with d = w - K,
// s1 = sum(d), s2 = sum(d*d), mu = K + s1/F and sum((w-mu)^2) =
// s2 - s1*s1/F. Forward reads the row twice (statistics, output) and
// writes once; backward reads w and G twice each (the sums of d, d*d, G,
// d*G in one pass, then dw). Each invocation keeps one running sum per
// vec4 component. Outputs use w - mu = (w - K) - s1/F: no fp32 rounding
// of mu itself (large for rows with an offset) enters them.
// (Tried and dropped: a row per one-invocation workgroup, so that every
// address is uniform, ran 2-3x slower on lavapipe 22.3 than a row per lane.)
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TIMM = 0;
layout(constant_id = 2) const uint DGAIN = 1;
layout(constant_id = 3) const uint BACKWARD = 0;
layout(set = 0, binding = 0) readonly buffer W { float w[]; };
layout(set = 0, binding = 0) readonly buffer W4 { vec4 w4[]; };
layout(set = 0, binding = 1) readonly buffer G { float gain[]; };
// forward: 3 what (2 and 4 unused); backward: 2 dwhat, 3 dw, 4 dgain
layout(set = 0, binding = 2) readonly buffer B2 { float b2[]; };
layout(set = 0, binding = 2) readonly buffer B24 { vec4 b24[]; };
layout(set = 0, binding = 3) writeonly buffer DW { float dw[]; };
layout(set = 0, binding = 3) writeonly buffer DW4 { vec4 dw4[]; };
layout(set = 0, binding = 4) writeonly buffer DG { float dgain[]; };
layout(push_constant) uniform P {
	uint rows;
	uint F;
	float gamma_rsqrt_n;
	float eps;
} p;

const float DM_MIN_NVAR = 1e-4;
const vec4 ONE = vec4(1.0);

void main() {
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
				for (uint i = b4; i < e4; i++) dw4[i] = (w4[i] - K - m1) * scale;
			} else {
				for (uint i = base; i < base + F; i++) dw[i] = (w[i] - K - m1) * scale;
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
			for (uint i = b4; i < e4; i++) dw4[i] = k * (b24[i] - mg - (w4[i] - K - m1) * cc);
		} else {
			for (uint i = base; i < base + F; i++) dw[i] = k * (b2[i] - mg - (w[i] - K - m1) * cc);
		}
	}
}
