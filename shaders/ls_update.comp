#version 450
// Dynamic loss scaling, the end of the step (torch.cuda.amp.GradScaler's
// update, on the device): after an overflow S halves, the good-step
// counter resets and the skipped-step counter grows; otherwise after
// `growth` consecutive good steps S doubles (unless that overflows
// float32). Then the flag clears for the next step. Counters (uint):
// 0 good steps, 1 skipped steps, 2 overflow flag. Bindings: 0 scale (rw),
// 1 counters (rw).
layout(local_size_x = 1) in;
layout(set = 0, binding = 0) buffer S { float s[]; };
layout(set = 0, binding = 1) buffer C { uint counts[]; };
layout(push_constant) uniform P { uint growth; } p;
void main() {
	float s0 = s[0];
	if (counts[2] != 0u) {
		s[0] = s0 * 0.5;
		counts[0] = 0u;
		counts[1] += 1u;
	} else {
		uint good = counts[0] + 1u;
		if (good >= p.growth) {
			float d = s0 * 2.0;
			if (!isinf(d)) s[0] = d;
			good = 0u;
		}
		counts[0] = good;
	}
	counts[2] = 0u;
}
