#version 450
// Scaled weight standardization, forward and backward, one invocation per
// row (output channel) instead of one workgroup: for CPU devices, where a
// barrier makes lavapipe run the workgroup as coroutines and the per-row
// workgroup's fixed costs dominate rows of ~1000 weights. Same formulas,
// push constants and (backward's) bindings as ws.comp / ws_backward.comp,
// BACKWARD selecting; same two-pass fp32 statistics, each invocation
// keeping four running sums (one per vec4 component) over its row.
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
	float invF = 1.0 / float(F);
	uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	for (uint r = gl_GlobalInvocationID.x; r < p.rows; r += stride) {
		uint base = r * F, b4 = base / 4u, e4 = (base + F) / 4u;
		vec4 acc = vec4(0.0);
		if (v4) {
			for (uint i = b4; i < e4; i++) acc += w4[i];
		} else {
			for (uint i = base; i < base + F; i++) acc.x += w[i];
		}
		float mu = dot(acc, ONE) * invF;
		if (BACKWARD == 0u) {
			acc = vec4(0.0);
			if (v4) {
				for (uint i = b4; i < e4; i++) {
					vec4 d = w4[i] - mu;
					acc += d * d;
				}
			} else {
				for (uint i = base; i < base + F; i++) {
					float d = w[i] - mu;
					acc.x += d * d;
				}
			}
			float ss = dot(acc, ONE);
			float scale = TIMM == 0u ? gain[r] * inversesqrt(max(ss, DM_MIN_NVAR))
			                         : gain[r] * p.gamma_rsqrt_n * inversesqrt(ss * invF + p.eps);
			if (v4) {
				for (uint i = b4; i < e4; i++) dw4[i] = (w4[i] - mu) * scale;
			} else {
				for (uint i = base; i < base + F; i++) dw[i] = (w[i] - mu) * scale;
			}
			continue;
		}
		vec4 ass = vec4(0.0), asg = vec4(0.0), asdg = vec4(0.0);
		if (v4) {
			for (uint i = b4; i < e4; i++) {
				vec4 d = w4[i] - mu, g = b24[i];
				ass += d * d;
				asg += g;
				asdg += d * g;
			}
		} else {
			for (uint i = base; i < base + F; i++) {
				float d = w[i] - mu, g = b2[i];
				ass.x += d * d;
				asg.x += g;
				asdg.x += d * g;
			}
		}
		float ss = dot(ass, ONE), sg = dot(asg, ONE), sdg = dot(asdg, ONE);
		float k, cc; // dw = k * (G - sg/n - d*cc), as in ws_backward.comp
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
			for (uint i = b4; i < e4; i++) dw4[i] = k * (b24[i] - mg - (w4[i] - mu) * cc);
		} else {
			for (uint i = base; i < base + F; i++) dw[i] = k * (b2[i] - mg - (w[i] - mu) * cc);
		}
	}
}
