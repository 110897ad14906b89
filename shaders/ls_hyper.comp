#version 450
// Dynamic loss scaling: the optimizer's step values for this step, the
// host's hyper buffer (include/optim_hyper.glsl) copied, with the
// learning rate, the momentum and the EMA's 1-d set to 0 after an
// overflow (flag, word 2 of the counters): with zeroed gradients
// (ls_scale) the fused step then leaves parameters (p - 0*g), momentum
// (momentum 0 leaves the buffer alone) and the EMA (ema + 0*(p-ema))
// bit-identical: the step is skipped without a branch in the optimizer.
// One invocation per word. Bindings: 0 counters (r), 1 hyper (r),
// 2 out (w).
layout(local_size_x = 8) in;
layout(set = 0, binding = 0) readonly buffer C { uint counts[]; };
layout(set = 0, binding = 1) readonly buffer H { uint h[]; };
layout(set = 0, binding = 2) writeonly buffer O { uint o[]; };
void main() {
	uint i = gl_LocalInvocationID.x;
	bool zero = counts[2] != 0u && (i == 0u || i == 1u || i == 5u);
	o[i] = zero ? 0u : h[i];
}
