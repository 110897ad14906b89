#version 450
// Dynamic loss scaling, step 1: sets the overflow flag, word 2 of the
// loss-scale counters, when any element of x (float32 gradients) is Inf
// or NaN: an all-ones exponent, tested on the bits (no float compare a
// compiler could fold). Integer atomicOr of 1: the result is the same in
// any order. Bindings: 0 x (r, read as bits), 1 counters (rw).
#include "elementwise.glsl"
layout(set = 0, binding = 0) readonly buffer X { uint x[]; };
layout(set = 0, binding = 0) readonly buffer X4 { uvec4 x4[]; };
layout(set = 0, binding = 1) buffer C { uint counts[]; };
layout(push_constant) uniform P { uint n; } p;
const uint EXP = 0x7f800000u;
void main() {
	bool bad = false;
	FOR_EACH_VEC4(p.n, { bad = bad || any(equal(x4[i4] & uvec4(EXP), uvec4(EXP))); },
	              { bad = bad || (x[i] & EXP) == EXP; })
	if (bad) atomicOr(counts[2], 1u);
}
