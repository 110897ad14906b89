// Package ref holds the CPU reference implementations of every nfvk GPU
// kernel: plain, readable Go loops that define what the GLSL compute shaders
// must compute, forward and backward.
//
// The math follows /work/shared/spec/NFNET.md (DeepMind's NFNets) and, where
// interop with timm weights needs it, timm's port (see the fixtures README):
// TF "SAME" padding, ceil-mode average pooling that divides by the number of
// valid elements, both scaled weight standardization formulas.
//
// # Conventions
//
//   - Every kernel is generic over T float32 | float64: float32 to compare
//     against the GPU, float64 for finite-difference gradient checks.
//   - Long sums (convolutions, GEMM, pooling, reductions, softmax) accumulate
//     in float64 and round to T once, when the result is stored; so do the
//     elementwise formulas. Mul and Dropout are single multiplications in T,
//     bit-exact against a GPU that rounds to nearest. Scalars (alpha,
//     skip_gain, gamma, eps, loss scale) are passed as float64.
//   - Activations are NCHW, contiguous: element (n, c, h, w) sits at
//     ((n*C+c)*H+h)*W+w.
//   - Convolution weights are OIHW, contiguous: (o, c, kh, kw) at
//     ((o*(C/Groups)+c)*KH+kh)*KW+kw, with c the channel inside o's group.
//     Output channel o belongs to group o/(O/Groups) and reads input channels
//     g*(C/Groups) .. (g+1)*(C/Groups)-1.
//   - Linear weights are (Out, In) as in PyTorch: y = x W^T + b.
//   - GEMM is row-major with leading dimensions, BLAS-like:
//     C = alpha*op(A)*op(B) + beta*C.
//   - Outputs are overwritten, never accumulated into, unless a function says
//     otherwise. Gradient outputs that are not wanted may be passed as nil
//     where a function says so.
//   - Shape structs have a Validate method returning an error that names the
//     op and the shape. Kernels panic with that error on a bad shape, and
//     panic when a slice's length differs from what the shape requires (for
//     GEMM: is shorter): both are programming errors, not runtime conditions.
//   - The convolutions spread disjoint parts of their output over goroutines;
//     every sum keeps a fixed order, so results are deterministic.
//
// # Randomness
//
// Stochastic depth and dropout draw their uniforms from Philox4x32-10 keyed
// by a 64-bit seed, so the GPU shaders can reproduce every mask bit for bit;
// RandomBits documents the exact algorithm, the counter layout, the float
// conversion u = (bits >> 8) * 2^-24 and a GLSL port, and the tests hold
// vectors to check a port against.
package ref
