// The optimizer's per-step scalars, read from a small device buffer at
// binding 0 (not push constants) so a recorded training step replays
// unchanged while the host rewrites the buffer between runs. Layout
// (std430, 32 bytes; kernels.Hyper / kernels.WriteHyper fill it):
//
//	 0 lr                   float  learning rate of this step
//	 4 momentum             float  0 disables the momentum buffer
//	 8 weight_decay         float  applied only to tensors flagged for it
//	12 lambda               float  AGC clip factor; 0 turns AGC off
//	16 eps                  float  AGC floor of the parameter norm
//	20 ema_one_minus_decay  float  1-d of the weight EMA, computed in
//	                               float64 on the host: 1-d from a float32
//	                               d = 0.99999 would be off by 0.6%
//	24 nesterov             uint   1: Nesterov momentum, 0: plain
//	28 step                 uint   the step the buffer was written for
//	                               (for inspection; no kernel reads it)
layout(set = 0, binding = 0) readonly buffer Hyper {
	float lr;
	float momentum;
	float weight_decay;
	float lambda;
	float eps;
	float ema_one_minus_decay;
	uint nesterov;
	uint step;
} h;
