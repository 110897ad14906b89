#version 450
// dst[i] = part[i] + part[stride + i] + ... + part[(slices-1)*stride + i],
// added in slice order (so a split reduction gives the sums of the chain
// of dispatches it replaces, bit for bit), one invocation per element,
// grid-stride. The second pass of the split backward-filter convolution
// (include/conv_filter.glsl).
layout(local_size_x_id = 0) in;
layout(set = 0, binding = 0) readonly buffer Part { float part[]; };
layout(set = 0, binding = 1) writeonly buffer Dst { float dst[]; };
layout(push_constant) uniform P { uint n, slices, stride; } p;
void main() {
	uint t = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	for (uint i = gl_GlobalInvocationID.x; i < p.n; i += t) {
		float acc = part[i];
		for (uint s = 1u; s < p.slices; s++) acc += part[s * p.stride + i];
		dst[i] = acc;
	}
}
