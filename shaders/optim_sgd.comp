#version 450
// Fused optimizer step of one parameter tensor (see include/optim.glsl):
// one workgroup per work unit, grid-stride over units. The tensor's entry
// comes in push constants.
#include "optim.glsl"
layout(push_constant) uniform PC {
	uint units;
	uint size;
	uint n;
	uint flags;
	uint p_off;
	uint g_off;
	uint m_off;
} pc;
void main() {
	Entry e = Entry(0u, pc.units, pc.size, pc.n, pc.p_off, pc.g_off, pc.m_off, pc.flags);
	uint slot = 0u;
	for (uint u = gl_WorkGroupID.x; u < pc.units; u += gl_NumWorkGroups.x) {
		optim_unit(e, u, slot);
	}
}
