// Shared by ws_fwd.glsl and ws_bwd.glsl: the weight and gain bindings,
// the push constants, and the row mean (first of the two passes).
layout(set = 0, binding = 0) readonly buffer W { float w[]; };
layout(set = 0, binding = 0) readonly buffer W4 { vec4 w4[]; };
layout(set = 0, binding = 1) readonly buffer G { float gain[]; };
layout(push_constant) uniform P {
	uint rows;
	uint F;
	float gamma_rsqrt_n; // timm: gamma / sqrt(F)
	float eps;           // timm: added to the variance
} p;

const float DM_MIN_NVAR = 1e-4;

// ws_row_mean is the mean of the F weights from base, summed by the
// workgroup (lid of L lanes); v4 when rows start on vec4 boundaries.
float ws_row_mean(uint base, uint F, bool v4, float invF, uint lid, uint L) {
	vec4 acc = vec4(0.0);
	if (v4) {
		for (uint i = lid; i < F / 4u; i += L) acc += w4[base / 4u + i];
	} else {
		for (uint i = lid; i < F; i += L) acc.x += w[base + i];
	}
	vec4 t = wg_sum(acc, 0u);
	return (t.x + t.y + t.z + t.w) * invF;
}
