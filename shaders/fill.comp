#version 450
// y[i] = value for i < n.
#include "elementwise.glsl"
layout(set = 0, binding = 0) writeonly buffer Y { float y[]; };
layout(set = 0, binding = 0) writeonly buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P { uint n; float value; } p;
void main() {
	FOR_EACH_VEC4(p.n, { y4[i4] = vec4(p.value); }, { y[i] = p.value; })
}
