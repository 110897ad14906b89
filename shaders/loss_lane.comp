#version 450
// Softmax cross-entropy, stage 0 of loss.comp (same formulas, bindings,
// push constants and specialization constants 2-5) with one invocation
// per sample instead of one workgroup: for CPU devices, where the
// workgroup's barriers and per-row launch dominate rows of 10-1000
// logits. Stage 1 (the batch sum) stays in loss.comp.
layout(local_size_x_id = 0) in;
layout(constant_id = 2) const uint LABELS = 1;
layout(constant_id = 3) const uint SOFT = 0;
layout(constant_id = 4) const uint FWD = 1;
layout(constant_id = 5) const uint DLOGITS = 1;
layout(set = 0, binding = 0) readonly buffer Z { float z[]; };
layout(set = 0, binding = 1) readonly buffer LB { int labels[]; };
layout(set = 0, binding = 2) readonly buffer T { float tg[]; };
layout(set = 0, binding = 3) writeonly buffer DZ { float dz[]; };
layout(set = 0, binding = 4) writeonly buffer S { float scratch[]; };
layout(push_constant) uniform P {
	uint N;
	uint K;
	float eps;
	float grad;
} p;

void main() {
	uint K = p.K;
	float epsK = p.eps / float(K);
	uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	for (uint n = gl_GlobalInvocationID.x; n < p.N; n += stride) {
		uint base = n * K;
		int label = LABELS == 1u ? labels[n] : -1;
		// The first index holding the maximum is the top-1 prediction.
		float m = z[base];
		uint best = 0u;
		for (uint k = 1u; k < K; k++) {
			float v = z[base + k];
			if (v > m) {
				m = v;
				best = k;
			}
		}
		float se = 0.0, stz = 0.0, st = 0.0;
		for (uint k = 0u; k < K; k++) {
			float v = z[base + k];
			se += exp(v - m);
			float t = SOFT == 1u ? tg[base + k] : epsK + (int(k) == label ? 1.0 - p.eps : 0.0);
			stz += t * v;
			st += t;
		}
		float lse = m + log(se);
		if (FWD == 1u) {
			scratch[n] = (lse * st - stz) / float(p.N);
			scratch[p.N + n] = (LABELS == 1u && int(best) == label) ? 1.0 : 0.0;
		}
		if (DLOGITS == 1u) {
			for (uint k = 0u; k < K; k++) {
				float t = SOFT == 1u ? tg[base + k] : epsK + (int(k) == label ? 1.0 - p.eps : 0.0);
				dz[base + k] = p.grad * (exp(z[base + k] - lse) * st - t);
			}
		}
	}
}
