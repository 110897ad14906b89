#version 450
// Weight EMA: ema = d*ema + (1-d)*p, computed as ema + (1-d)*(p - ema)
// with 1-d from the hyper buffer (include/optim_hyper.glsl), so the
// result stays within a few ulps of the float64 reference even for
// d = 0.99999. Bindings: 0 hyper, 1 ema (rw), 2 param (r).
#include "optim_hyper.glsl"
#include "elementwise.glsl"
layout(set = 0, binding = 1) buffer E { float e[]; };
layout(set = 0, binding = 1) buffer E4 { vec4 e4[]; };
layout(set = 0, binding = 2) readonly buffer X { float x[]; };
layout(set = 0, binding = 2) readonly buffer X4 { vec4 x4[]; };
layout(push_constant) uniform P { uint n; } pc;
void main() {
	float a = h.ema_one_minus_decay;
	FOR_EACH_VEC4(pc.n, { e4[i4] = fma(vec4(a), x4[i4] - e4[i4], e4[i4]); },
	              { e[i] = fma(a, x[i] - e[i], e[i]); })
}
