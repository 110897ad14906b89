#version 450
// y[i] = x[i] for i < n.
#include "elementwise.glsl"
#include "storage.glsl"
// nfvk:variant f16 ACT_F16
// nfvk:variant bf16 ACT_BF16
layout(set = 0, binding = 0) readonly buffer X { ACT_T x[]; };
layout(set = 0, binding = 0) readonly buffer X4 { ACT4_T x4[]; };
layout(set = 0, binding = 1) writeonly buffer Y { ACT_T y[]; };
layout(set = 0, binding = 1) writeonly buffer Y4 { ACT4_T y4[]; };
layout(push_constant) uniform P { uint n; } p;
void main() {
	FOR_EACH_VEC4(p.n, { y4[i4] = x4[i4]; }, { y[i] = x[i]; })
}
