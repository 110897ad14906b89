#version 450
// Compute ceiling: ITERS x 8 independent vec4 FMA chains per invocation,
// registers only (like vkpeak/clpeak). The result is stored only if it
// equals an impossible value, so nothing is optimized away.
layout(local_size_x_id = 0) in;
layout(set = 0, binding = 0) writeonly buffer O { float o[]; };
layout(push_constant) uniform P { uint iters; float b; float c; } p;
void main() {
	vec4 a0 = vec4(gl_GlobalInvocationID.x), a1 = a0 + 1.0, a2 = a0 + 2.0, a3 = a0 + 3.0;
	vec4 a4 = a0 + 4.0, a5 = a0 + 5.0, a6 = a0 + 6.0, a7 = a0 + 7.0;
	vec4 b = vec4(p.b), c = vec4(p.c);
	for (uint i = 0u; i < p.iters; i++) {
		a0 = fma(a0, b, c); a1 = fma(a1, b, c); a2 = fma(a2, b, c); a3 = fma(a3, b, c);
		a4 = fma(a4, b, c); a5 = fma(a5, b, c); a6 = fma(a6, b, c); a7 = fma(a7, b, c);
	}
	vec4 s = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
	if (s.x + s.y + s.z + s.w == -1.2345e-30) o[0] = s.x;
}
