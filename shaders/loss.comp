#version 450
// Softmax cross-entropy with label smoothing over logits [N, K], one
// workgroup per sample (grid-stride), fp32:
//
//	t[k]   = eps/K + (1-eps)*[k == label]     (LABELS, not SOFT)
//	       = targets[n, k]                    (SOFT)
//	loss_n = lse*sum(t) - sum(t*z),  lse = max + log(sum(exp(z - max)))
//	dz[k]  = dloss/N * (softmax(z)[k]*sum(t) - t[k])    (DLOGITS == 1)
//	top-1  = argmax(z) (the first on a tie) == label    (LABELS == 1)
//
// STAGE 0 writes scratch[n] = loss_n/N and scratch[N+n] = correct_n (0/1)
// when FWD == 1; STAGE 1 (one workgroup) sums them into loss[0] and
// correct[0] in a fixed order, so results are reproducible. A label
// outside [0, K) has no target mass beyond eps/K and is never correct.
//
// Bindings: 0 logits, 1 labels (int32), 2 targets, 3 dlogits, 4 scratch,
// 5 loss, 6 correct. Unused ones are bound to valid spans and not touched.
#include "ws_reduce.glsl"
layout(constant_id = 1) const uint STAGE = 0;
layout(constant_id = 2) const uint LABELS = 1;
layout(constant_id = 3) const uint SOFT = 0;
layout(constant_id = 4) const uint FWD = 1;
layout(constant_id = 5) const uint DLOGITS = 1;
layout(constant_id = 6) const uint OUTS = 3; // stage 1: 1 writes loss, 2 correct
layout(set = 0, binding = 0) readonly buffer Z { float z[]; };
layout(set = 0, binding = 1) readonly buffer LB { int labels[]; };
layout(set = 0, binding = 2) readonly buffer T { float tg[]; };
layout(set = 0, binding = 3) writeonly buffer DZ { float dz[]; };
layout(set = 0, binding = 4) buffer S { float scratch[]; };
layout(set = 0, binding = 5) writeonly buffer LOSS { float loss; };
layout(set = 0, binding = 6) writeonly buffer CORRECT { float correct; };
layout(push_constant) uniform P {
	uint N;
	uint K;
	float eps;   // label smoothing
	float grad;  // dloss / N
} p;

void finish() {
	uint lid = gl_LocalInvocationID.x, L = gl_WorkGroupSize.x;
	vec4 acc = vec4(0.0);
	for (uint i = lid; i < p.N; i += L) {
		acc.x += scratch[i];
		acc.y += scratch[p.N + i];
	}
	vec4 t = wg_sum(acc, 0u);
	if (lid == 0u && (OUTS & 1u) != 0u) loss = t.x;
	if (lid == 0u && (OUTS & 2u) != 0u) correct = t.y;
}

void main() {
	if (STAGE == 1u) {
		finish();
		return;
	}
	uint lid = gl_LocalInvocationID.x, L = gl_WorkGroupSize.x;
	uint K = p.K;
	float epsK = p.eps / float(K);
	uint sl = 0u; // wg_* slots alternate across rows too (3 calls a row)
	for (uint n = gl_WorkGroupID.x; n < p.N; n += gl_NumWorkGroups.x) {
		uint base = n * K;
		int label = LABELS == 1u ? labels[n] : -1;
		float m = -1.0 / 0.0;
		for (uint k = lid; k < K; k += L) m = max(m, z[base + k]);
		m = wg_max(vec4(m), sl).x;
		sl ^= 1u;
		// sum exp(z - m); sum t*z; sum t; the first index holding the max
		vec4 acc = vec4(0.0);
		float first = -float(K);
		for (uint k = lid; k < K; k += L) {
			float v = z[base + k];
			acc.x += exp(v - m);
			float t = SOFT == 1u ? tg[base + k] : epsK + (int(k) == label ? 1.0 - p.eps : 0.0);
			acc.y += t * v;
			acc.z += t;
			if (v == m && first == -float(K)) first = -float(k);
		}
		vec4 s = wg_sum(acc, sl);
		sl ^= 1u;
		// -first is the smallest index holding m: max of -index.
		float best = -wg_max(vec4(first), sl).x;
		sl ^= 1u;
		float lse = m + log(s.x);
		if (FWD == 1u && lid == 0u) {
			scratch[n] = (lse * s.z - s.y) / float(p.N);
			scratch[p.N + n] = (LABELS == 1u && int(best) == label) ? 1.0 : 0.0;
		}
		if (DLOGITS == 1u) {
			for (uint k = lid; k < K; k += L) {
				float v = z[base + k];
				float t = SOFT == 1u ? tg[base + k] : epsK + (int(k) == label ? 1.0 - p.eps : 0.0);
				dz[base + k] = p.grad * (exp(v - lse) * s.z - t);
			}
		}
	}
}
