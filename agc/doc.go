// Package agc holds CPU references, in float64 accumulation, of the NFNet
// training update: adaptive gradient clipping (AGC, Brock et al. 2021),
// SGD with (Nesterov) momentum and weight decay in DeepMind's order, the
// linear-warmup cosine learning-rate schedule and the weight EMA decay.
//
// Tensors use nfvk's layout, output dimension first (OIHW convs, (O,I)
// linears, gains (O,1,1,1), biases (O,), 0-d skip gains), so the unit of a
// weight is an index of dimension 0. Two unit rules exist:
//
//   - DeepMind: a tensor with at most one non-unit dimension (scalar, bias,
//     gain, even when shaped (O,1,1,1)) is a single unit; any other tensor
//     has one unit per index of dimension 0.
//   - Timm: a tensor with ndim <= 1 is a single unit; any other tensor has
//     one unit per index of dimension 0, so a gain (O,1,1,1) is clipped
//     per element.
//
// The GPU implementation elsewhere in nfvk is tested against these.
//
// Recipe is the one place every optimizer and schedule setting lives (the
// CLI binds its flags to it, checkpoints store it, the training graph
// reads AGC's rule and exclusions from it); NewSchedule turns it into the
// per-step values (Hyper) whose encoding the recorded GPU step reads.
package agc
