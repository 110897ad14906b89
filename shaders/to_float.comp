#version 450
// y = x widened from the activation storage type (float16 in the _f16
// variant, exact; a plain copy built plain).
// The converted copies of precision FP16 (graph.Cast).
#include "elementwise.glsl"
#include "storage.glsl"
// nfvk:variant f16 ACT_F16
// nfvk:variant bf16 ACT_BF16
layout(set = 0, binding = 0) readonly buffer X { ACT_T x[]; };
layout(set = 0, binding = 0) readonly buffer X4 { ACT4_T x4[]; };
layout(set = 0, binding = 1) writeonly buffer Y { float y[]; };
layout(set = 0, binding = 1) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P { uint n; } p;
void main() {
	FOR_EACH_VEC4(p.n, { y4[i4] = LD4(x4[i4]); }, { y[i] = LD(x[i]); })
}
