// Scaled weight standardization, backward: gradients of the weights and
// the gain from G = dL/dwhat, one workgroup per row as in ws.comp. With
// d = w - mu and the row sums ss = sum d^2, sg = sum G, sdg = sum d*G:
//
// DeepMind, rs = rsqrt(max(ss, 1e-4)), c = d*rs:
//	dgain = sum(c*G) = rs*sdg
//	dw    = gain*rs * (G - sg/n - c*sum(c*G))   (c term dropped while clamped)
// timm, rsd = rsqrt(ss/n + eps), xhat = d*rsd, k = gain*gamma/sqrt(n):
//	dgain = gamma/sqrt(n) * rsd*sdg
//	dw    = k*rsd * (G - sg/n - xhat*rsd*sdg/n)
//
// Bindings: 0 w, 1 gain, 2 dwhat, 3 dw, 4 dgain (written iff DGAIN == 1).
#include "ws_reduce.glsl"
#include "ws_row.glsl"
layout(constant_id = 1) const uint TIMM = 0;
layout(constant_id = 2) const uint DGAIN = 1;
layout(set = 0, binding = 2) readonly buffer DY { float dy[]; };
layout(set = 0, binding = 2) readonly buffer DY4 { vec4 dy4[]; };
layout(set = 0, binding = 3) writeonly buffer DW { float dw[]; };
layout(set = 0, binding = 3) writeonly buffer DW4 { vec4 dw4[]; };
layout(set = 0, binding = 4) buffer DG { float dgain[]; };

void main() {
	uint lid = gl_LocalInvocationID.x, L = gl_WorkGroupSize.x;
	uint F = p.F;
	bool v4 = (F & 3u) == 0u;
	float invF = 1.0 / float(F);
	for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
		uint base = r * F;
		float mu = ws_row_mean(base, F, v4, invF, lid, L);
		// One pass for ss, sg, sdg: they only need mu.
		vec4 ass = vec4(0.0), asg = vec4(0.0), asdg = vec4(0.0);
		if (v4) {
			for (uint i = lid; i < F / 4u; i += L) {
				vec4 d = w4[base / 4u + i] - mu;
				vec4 g = dy4[base / 4u + i];
				ass += d * d;
				asg += g;
				asdg += d * g;
			}
		} else {
			for (uint i = lid; i < F; i += L) {
				float d = w[base + i] - mu;
				float g = dy[base + i];
				ass.x += d * d;
				asg.x += g;
				asdg.x += d * g;
			}
		}
		const vec4 one = vec4(1.0);
		vec4 t = wg_sum(vec4(dot(ass, one), dot(asg, one), dot(asdg, one), 0.0), 1u);
		float ss = t.x, sg = t.y, sdg = t.z;
		float k, cc; // dw = k * (G - sg/n - d*cc)
		if (TIMM == 0u) {
			float rs = inversesqrt(max(ss, DM_MIN_NVAR));
			float scg = rs * sdg;
			if (DGAIN == 1u && lid == 0u) dgain[r] = scg;
			k = gain[r] * rs;
			cc = ss < DM_MIN_NVAR ? 0.0 : rs * scg;
		} else {
			float rsd = inversesqrt(ss * invF + p.eps);
			if (DGAIN == 1u && lid == 0u) dgain[r] = p.gamma_rsqrt_n * rsd * sdg;
			k = gain[r] * p.gamma_rsqrt_n * rsd;
			cc = rsd * rsd * sdg * invF;
		}
		float mg = sg * invF;
		if (v4) {
			for (uint i = lid; i < F / 4u; i += L) {
				vec4 d = w4[base / 4u + i] - mu;
				dw4[base / 4u + i] = k * (dy4[base / 4u + i] - mg - d * cc);
			}
		} else {
			for (uint i = lid; i < F; i += L) {
				float d = w[base + i] - mu;
				dw[base + i] = k * (dy[base + i] - mg - d * cc);
			}
		}
	}
}
