// Workgroup sums for kernels with one workgroup per row (weight
// standardization first, then the SE, residual and loss reductions; the
// file name follows the ws prefix only because that kernel introduced it).
// local_size_x is constant_id 0 and must be a power of two.
//
// wg_sum returns the sum over the workgroup of v in every invocation, the
// same bits in all of them. It costs one barrier() when the workgroup is
// small (every invocation then adds all partials itself: on lavapipe,
// where barrier() switches coroutines, that beats a tree) and log2(local)+1
// barriers otherwise. Two slots alternate, so consecutive calls need no
// barrier between them: a slot is rewritten only after the other slot's
// barrier, which every reader of its previous contents has passed. Call it
// in uniform control flow, alternating slot 0 and 1.
layout(local_size_x_id = 0) in;

// Workgroups up to this size use the one-barrier flat sum.
const uint WG_FLAT_MAX = 32;

#include "limits.glsl"
shared vec4 wg_part_[2u * MAX_REDUCE_LOCAL];

vec4 wg_sum(vec4 v, uint slot) {
	uint L = gl_WorkGroupSize.x;
	uint base = slot * L;
	uint lid = gl_LocalInvocationID.x;
	wg_part_[base + lid] = v;
	barrier();
	if (L <= WG_FLAT_MAX) {
		vec4 s = vec4(0.0);
		for (uint j = 0u; j < L; j++) s += wg_part_[base + j];
		return s;
	}
	for (uint s = L / 2u; s > 0u; s >>= 1u) {
		if (lid < s) wg_part_[base + lid] += wg_part_[base + lid + s];
		barrier();
	}
	return wg_part_[base];
}

// wg_max is wg_sum with max for the combine, on the same slots (it counts
// as a call for the alternation).
vec4 wg_max(vec4 v, uint slot) {
	uint L = gl_WorkGroupSize.x;
	uint base = slot * L;
	uint lid = gl_LocalInvocationID.x;
	wg_part_[base + lid] = v;
	barrier();
	if (L <= WG_FLAT_MAX) {
		vec4 s = wg_part_[base];
		for (uint j = 1u; j < L; j++) s = max(s, wg_part_[base + j]);
		return s;
	}
	for (uint s = L / 2u; s > 0u; s >>= 1u) {
		if (lid < s) wg_part_[base + lid] = max(wg_part_[base + lid], wg_part_[base + lid + s]);
		barrier();
	}
	return wg_part_[base];
}
