#version 450
// y = gamma * f(x) (forward) or dx = dy * gamma * f'(x) (backward) with
// f = silu; constant_id 1 selects backward.
#define KIND 3
#include "elementwise.glsl"
#include "storage.glsl"
// nfvk:variant f16 ACT_F16
// nfvk:variant bf16 ACT_BF16
#include "act.glsl"
layout(constant_id = 1) const uint BACKWARD = 0;
layout(set = 0, binding = 0) readonly buffer X { ACT_T x[]; };
layout(set = 0, binding = 0) readonly buffer X4 { ACT4_T x4[]; };
layout(set = 0, binding = 1) readonly buffer DY { ACT_T dy[]; };
layout(set = 0, binding = 1) readonly buffer DY4 { ACT4_T dy4[]; };
layout(set = 0, binding = 2) writeonly buffer Y { ACT_T y[]; };
layout(set = 0, binding = 2) writeonly buffer Y4 { ACT4_T y4[]; };
layout(push_constant) uniform P { uint n; float gamma; } p;
void main() {
	if (BACKWARD == 0) {
		FOR_EACH_VEC4(p.n, { y4[i4] = ST4(p.gamma * act_fwd(LD4(x4[i4]))); }, { y[i] = ST((p.gamma * act_fwd(vec4(LD(x[i])))).x); })
	} else {
		FOR_EACH_VEC4(p.n, { y4[i4] = ST4(LD4(dy4[i4]) * p.gamma * act_grad(LD4(x4[i4]))); },
		              { y[i] = ST((LD(dy[i]) * p.gamma * act_grad(vec4(LD(x[i])))).x); })
	}
}
