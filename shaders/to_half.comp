#version 450
// y = x rounded to the activation storage type (float16 in the _f16
// variant: to nearest even on lavapipe, Vulkan also allows toward zero;
// a plain copy built plain).
// The converted copies of precision FP16 (graph.Cast).
#include "elementwise.glsl"
#include "storage.glsl"
// nfvk:variant f16 ACT_F16
// nfvk:variant bf16 ACT_BF16
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(set = 0, binding = 1) writeonly buffer Y { ACT_T y[]; };
layout(set = 0, binding = 1) writeonly buffer Y4 { ACT4_T y4[]; };
layout(push_constant) uniform P { uint n; } p;
void main() {
	FOR_EACH_VEC4(p.n, { y4[i4] = ST4(x4[i4]); }, { y[i] = ST(x[i]); })
}
