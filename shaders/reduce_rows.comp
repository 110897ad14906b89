#version 450
// out[r] = op over x[r*cols .. min(r*cols+cols, n)-1] for r < rows (the
// last row may be short, so a long vector sums in two passes without
// padding), one workgroup
// per row (grid-stride over rows). OP (constant_id 1): 0 sum, 1 sum of
// squares, 2 mean. Each invocation accumulates a strided partial, then a
// shared-memory tree combines them (log2(local) barriers per row).
// LANE (constant_id 2) instead gives each invocation whole rows, with no
// barrier: on CPU devices barrier() costs more than the sums (the host
// uses it only when a row fits lavapipe's 65535 loop iterations).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint OP = 0;
layout(constant_id = 2) const bool LANE = false;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) writeonly buffer O { float o[]; };
layout(push_constant) uniform P { uint rows; uint cols; uint n; } p;
#include "limits.glsl"
shared float part[MAX_REDUCE_LOCAL];
void main() {
	if (LANE) {
		uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
		for (uint r = gl_GlobalInvocationID.x; r < p.rows; r += stride) {
			uint base = r * p.cols;
			uint len = min(p.cols, p.n - base);
			float acc = 0.0;
			for (uint c = 0u; c < len; c++) {
				float v = x[base + c];
				acc += (OP == 1) ? v * v : v;
			}
			o[r] = (OP == 2) ? acc / float(len) : acc;
		}
		return;
	}
	uint lid = gl_LocalInvocationID.x;
	for (uint r = gl_WorkGroupID.x; r < p.rows; r += gl_NumWorkGroups.x) {
		uint base = r * p.cols;
		uint len = min(p.cols, p.n - base);
		float acc = 0.0;
		for (uint c = lid; c < len; c += gl_WorkGroupSize.x) {
			float v = x[base + c];
			acc += (OP == 1) ? v * v : v;
		}
		part[lid] = acc;
		barrier();
		for (uint s = gl_WorkGroupSize.x / 2u; s > 0u; s >>= 1u) {
			if (lid < s) part[lid] += part[lid + s];
			barrier();
		}
		if (lid == 0u) o[r] = (OP == 2) ? part[0] / float(len) : part[0];
		barrier();
	}
}
