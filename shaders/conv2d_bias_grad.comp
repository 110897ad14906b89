#version 450
// Bias gradient of a convolution: db[o] = sum over n, pixel of
// dy[n, o, pixel], over the elements e = n*plane + pixel in [e0, e1) of
// this dispatch; with
// accumulate != 0 the sum is added to db (a chain of dispatches keeps
// each within lavapipe's 65535 loop iterations per invocation). One
// workgroup per output channel (grid-stride): each invocation sums a
// strided part of the channel's elements, then a shared-memory tree
// combines the partials.
layout(local_size_x_id = 0) in;
#include "storage.glsl"
// nfvk:variant f16 ACT_F16
// nfvk:variant bf16 ACT_BF16
layout(set = 0, binding = 0) readonly buffer DY { ACT_T dy[]; };
layout(set = 0, binding = 1) buffer DB { float db[]; };
layout(push_constant) uniform P { uint n, o, plane, e0, e1, accumulate; } p;
#include "limits.glsl"
shared float part[MAX_REDUCE_LOCAL];
void main() {
	const uint lid = gl_LocalInvocationID.x;
	for (uint o = gl_WorkGroupID.x; o < p.o; o += gl_NumWorkGroups.x) {
		float acc = 0.0;
		for (uint e = p.e0 + lid; e < p.e1; e += gl_WorkGroupSize.x) {
			uint nn = e / p.plane;
			acc += LD(dy[(nn * p.o + o) * p.plane + (e - nn * p.plane)]);
		}
		part[lid] = acc;
		barrier();
		for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s >>= 1u) {
			if (lid < s) part[lid] += part[lid + s];
			barrier();
		}
		if (lid == 0u) db[o] = p.accumulate != 0u ? db[o] + part[0] : part[0];
		barrier();
	}
}
