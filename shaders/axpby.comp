#version 450
// y = alpha*x + beta*y. beta == 0 never reads y (scale into fresh memory).
#include "elementwise.glsl"
#include "storage.glsl"
// nfvk:variant f16 ACT_F16
// nfvk:variant bf16 ACT_BF16
layout(set = 0, binding = 0) readonly buffer X { ACT_T x[]; };
layout(set = 0, binding = 0) readonly buffer X4 { ACT4_T x4[]; };
layout(set = 0, binding = 1) buffer Y { ACT_T y[]; };
layout(set = 0, binding = 1) buffer Y4 { ACT4_T y4[]; };
layout(push_constant) uniform P { uint n; float alpha; float beta; } p;
void main() {
	if (p.beta == 0.0) {
		FOR_EACH_VEC4(p.n, { y4[i4] = ST4(p.alpha * LD4(x4[i4])); }, { y[i] = ST(p.alpha * LD(x[i])); })
	} else {
		FOR_EACH_VEC4(p.n, { y4[i4] = ST4(p.alpha * LD4(x4[i4]) + p.beta * LD4(y4[i4])); },
		              { y[i] = ST(p.alpha * LD(x[i]) + p.beta * LD(y[i])); })
	}
}
