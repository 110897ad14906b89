#version 450
// y[i] = x[i] for i < n.
#include "elementwise.glsl"
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(set = 0, binding = 1) writeonly buffer Y { float y[]; };
layout(set = 0, binding = 1) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P { uint n; } p;
void main() {
	FOR_EACH_VEC4(p.n, { y4[i4] = x4[i4]; }, { y[i] = x[i]; })
}
