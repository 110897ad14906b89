#version 450
// y = gamma * f(x) (forward) or dx = dy * gamma * f'(x) (backward) with
// f = silu; constant_id 1 selects backward.
#define KIND 3
#include "elementwise.glsl"
#include "act.glsl"
layout(constant_id = 1) const uint BACKWARD = 0;
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(set = 0, binding = 1) readonly buffer DY { float dy[]; };
layout(set = 0, binding = 1) readonly buffer DY4 { vec4 dy4[]; };
layout(set = 0, binding = 2) writeonly buffer Y { float y[]; };
layout(set = 0, binding = 2) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P { uint n; float gamma; } p;
void main() {
	if (BACKWARD == 0) {
		FOR_EACH_VEC4(p.n, { y4[i4] = p.gamma * act_fwd(x4[i4]); }, { y[i] = (p.gamma * act_fwd(vec4(x[i]))).x; })
	} else {
		FOR_EACH_VEC4(p.n, { y4[i4] = dy4[i4] * p.gamma * act_grad(x4[i4]); },
		              { y[i] = (dy[i] * p.gamma * act_grad(vec4(x[i]))).x; })
	}
}
