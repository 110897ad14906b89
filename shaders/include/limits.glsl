#ifndef NFVK_LIMITS_GLSL
#define NFVK_LIMITS_GLSL
// Compile-time maxima of the arrays whose used length depends on
// specialization constants. MoltenVK (Metal) cannot size an array from a
// specialization constant, so every array is declared at its maximum and
// the host checks each specialization against it before it builds a
// pipeline (kernels/limits.go mirrors these values; a kernels test
// compares the two, and tools/glslc rejects any array sized by a
// specialization constant). Loops still run to the specialized sizes, so
// after unrolling only the used elements remain.

// Workgroup size of the kernels that reduce through shared memory
// (one slot per invocation).
const uint MAX_REDUCE_LOCAL = 256u;

// Convolutions (conv_direct.glsl, conv_filter.glsl): output channels and
// positions per invocation, window kernel width, and the shuffled values
// each lane loads per step (ceil(TO / subgroup size)).
const uint CONV_MAX_TO = 32u;
const uint CONV_MAX_TP = 8u;
const uint CONV_MAX_KWC = 7u;
const uint CONV_MAX_NW = 8u;

// gemm_sg: row groups, column quads and k quads per lane, accumulators
// (R*CQ vec4) per lane, and the shared vec4s that C leaves through
// (WG*R*CQ: 32 KiB).
const uint GEMM_SG_MAX_RG = 8u;
const uint GEMM_SG_MAX_CQ = 4u;
const uint GEMM_SG_MAX_KQ = 4u;
const uint GEMM_SG_MAX_ACC = 256u;
const uint GEMM_SG_SHARED = 2048u;

// gemm_tiled: outputs per invocation along each dimension and the shared
// floats of the A and B slices together (BK*(BM+1) + BK*BN: 16 KiB, the
// least any Vulkan device offers).
const uint GEMM_TILED_MAX_TM = 8u;
const uint GEMM_TILED_MAX_TN = 8u;
const uint GEMM_TILED_SHARED = 4096u;
#endif
