#version 450
// Dynamic loss scaling: x *= S (unscale 0: the loss gradient seed) or
// x *= 1/S (unscale 1: the gradients before the optimizer), S read from
// the scale buffer, never pushed. When unscaling after an overflow (flag,
// word 2 of the counters, set) x becomes 0 instead: the skipped step
// then sees finite gradients (Inf * 0 would be NaN). S is a power of two,
// so both products are exact. Bindings: 0 scale (r), 1 counters (r),
// 2 x (rw).
#include "elementwise.glsl"
layout(set = 0, binding = 0) readonly buffer S { float s[]; };
layout(set = 0, binding = 1) readonly buffer C { uint counts[]; };
layout(set = 0, binding = 2) buffer X { float x[]; };
layout(set = 0, binding = 2) buffer X4 { vec4 x4[]; };
layout(push_constant) uniform P { uint n; uint unscale; } p;
void main() {
	if (p.unscale != 0u && counts[2] != 0u) {
		FOR_EACH_VEC4(p.n, { x4[i4] = vec4(0.0); }, { x[i] = 0.0; })
		return;
	}
	float m = p.unscale != 0u ? 1.0 / s[0] : s[0];
	FOR_EACH_VEC4(p.n, { x4[i4] *= m; }, { x[i] *= m; })
}
