#version 450
// y = alpha*x + beta*y. beta == 0 never reads y (scale into fresh memory).
#include "elementwise.glsl"
layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(set = 0, binding = 1) buffer Y { float y[]; };
layout(set = 0, binding = 1) buffer Y4 { vec4 y4[]; };
layout(push_constant) uniform P { uint n; float alpha; float beta; } p;
void main() {
	if (p.beta == 0.0) {
		FOR_EACH_VEC4(p.n, { y4[i4] = p.alpha * x4[i4]; }, { y[i] = p.alpha * x[i]; })
	} else {
		FOR_EACH_VEC4(p.n, { y4[i4] = p.alpha * x4[i4] + p.beta * y4[i4]; },
		              { y[i] = p.alpha * x[i] + p.beta * y[i]; })
	}
}
