#version 450
#extension GL_EXT_control_flow_attributes : require
// SGEMM for GPUs: shared-memory tiling. See include/gemm.glsl for the
// operation. A TX x TY workgroup computes a BM x BN block of C (BM = TY*TM,
// BN = TX*TN), each invocation TM x TN outputs strided by TY rows and TX
// columns, so that neighbouring invocations touch neighbouring addresses.
// K advances in slices of BK: the workgroup stages the BM x BK slice of
// op(A) and the BK x BN slice of op(B) in shared memory, zero-padded past
// the matrix edges (with loads along each matrix's contiguous dimension, so
// global reads coalesce), then accumulates from shared memory.

layout(local_size_x_id = 0, local_size_y_id = 1) in;
layout(constant_id = 2) const uint TM = 4;
layout(constant_id = 3) const uint TN = 4;
layout(constant_id = 4) const uint BK = 16;
layout(constant_id = 5) const bool TA = false;
layout(constant_id = 6) const bool TB = false;

#include "gemm.glsl"
#include "limits.glsl"

const uint TX = gl_WorkGroupSize.x;
const uint TY = gl_WorkGroupSize.y;
const uint BM = TY * TM;
const uint BN = TX * TN;
// A row of padding keeps the transposed stores of As off a single bank.
const uint AS = BM + 1u;

// One shared array at its maximum (limits.glsl) holds both slices: the
// host keeps BK*AS + BK*BN within it, and TM, TN within theirs.
shared float gs[GEMM_TILED_SHARED];
#define As(i) gs[(i)]
#define Bs(i) gs[BK * AS + (i)]

void main() {
	uint tx = gl_LocalInvocationID.x, ty = gl_LocalInvocationID.y;
	uint lid = gl_LocalInvocationIndex;
	uint bm0 = gl_WorkGroupID.y * BM, bn0 = gl_WorkGroupID.x * BN;

	float acc[GEMM_TILED_MAX_TM * GEMM_TILED_MAX_TN];
	[[unroll]] for (uint i = 0; i < TM * TN; i++) {
		acc[i] = 0.0;
	}
	for (uint k0 = 0; k0 < p.K; k0 += BK) {
		for (uint e = lid; e < BM * BK; e += TX * TY) {
			// Consecutive invocations walk A's stored rows.
			uint m = TA ? e % BM : e / BK;
			uint k = TA ? e / BM : e % BK;
			float v = 0.0;
			if (bm0 + m < p.M && k0 + k < p.K) {
				v = opA(TA, bm0 + m, k0 + k);
			}
			As(k * AS + m) = v;
		}
		for (uint e = lid; e < BK * BN; e += TX * TY) {
			uint n = TB ? e / BK : e % BN;
			uint k = TB ? e % BK : e / BN;
			float v = 0.0;
			if (bn0 + n < p.N && k0 + k < p.K) {
				v = opB(TB, k0 + k, bn0 + n);
			}
			Bs(k * BN + n) = v;
		}
		barrier();
		[[unroll]] for (uint k = 0; k < BK; k++) {
			float a[GEMM_TILED_MAX_TM], b[GEMM_TILED_MAX_TN];
			[[unroll]] for (uint i = 0; i < TM; i++) {
				a[i] = As(k * AS + ty + i * TY);
			}
			[[unroll]] for (uint j = 0; j < TN; j++) {
				b[j] = Bs(k * BN + tx + j * TX);
			}
			[[unroll]] for (uint i = 0; i < TM; i++) {
				[[unroll]] for (uint j = 0; j < TN; j++) {
					acc[i * TN + j] = fma(a[i], b[j], acc[i * TN + j]);
				}
			}
		}
		barrier();
	}

	[[unroll]] for (uint i = 0; i < TM; i++) {
		uint row = bm0 + ty + i * TY;
		[[unroll]] for (uint j = 0; j < TN; j++) {
			uint col = bn0 + tx + j * TX;
			if (row < p.M && col < p.N) {
				uint idx = p.coff + row * p.ldc + col;
				float v = p.alpha * acc[i * TN + j];
				if (p.beta != 0.0) {
					v += p.beta * c1[idx];
				}
				c1[idx] = v;
			}
		}
	}
}
