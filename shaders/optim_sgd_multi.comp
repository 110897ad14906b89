#version 450
// Fused optimizer step of many parameter tensors in one dispatch (see
// include/optim.glsl): the tensors' work units form one grid, workgroups
// grid-stride over it and find their tensor by binary search in a table
// of Entry records (binding 4, 8 uints each, sorted by `first`). NFNets
// have hundreds of small gain and bias tensors; a dispatch each would
// cost ~35 us apiece on lavapipe.
#include "optim.glsl"
layout(set = 0, binding = 4) readonly buffer T { uint tab[]; };
layout(push_constant) uniform PC {
	uint entries;
	uint units; // total work units of all entries
} pc;

Entry load_entry(uint i) {
	uint b = 8u * i;
	return Entry(tab[b], tab[b + 1u], tab[b + 2u], tab[b + 3u], tab[b + 4u], tab[b + 5u], tab[b + 6u], tab[b + 7u]);
}

void main() {
	uint slot = 0u;
	for (uint u = gl_WorkGroupID.x; u < pc.units; u += gl_NumWorkGroups.x) {
		// The last entry whose first unit is <= u.
		uint lo = 0u, hi = pc.entries - 1u;
		while (lo < hi) {
			uint mid = (lo + hi + 1u) / 2u;
			if (tab[8u * mid] <= u) {
				lo = mid;
			} else {
				hi = mid - 1u;
			}
		}
		Entry e = load_entry(lo);
		optim_unit(e, u - e.first, slot);
	}
}
