#version 450
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
// SGEMM for CPU devices (lavapipe): register blocking across a subgroup,
// no shared memory, no barriers. See include/gemm.glsl for the operation.
//
// On llvmpipe every invocation is one SIMD lane and every buffer load
// whose address is not a compile-time constant becomes a loop over the
// lanes (a bounds check and one scalar load per component), about ten
// instructions per float: loads, not arithmetic, bound the speed. So each
// loaded float is used as many times as possible:
//  - a subgroup of L lanes owns R = RG*L rows x 4*CQ*L columns of C; lane
//    l holds the column quads col0 + 4*(t*L + l) .. +3 (t < CQ) of all R
//    rows, R*CQ vec4 accumulators;
//  - op(B) is loaded as vec4 quads (4 floats per lane per loop turn), each
//    used by all R rows;
//  - op(A) is loaded spread over the lanes (each lane a different row, or
//    row quad when TA) and handed to all lanes by subgroupShuffle with a
//    constant lane index, which llvmpipe compiles to an extract and a
//    broadcast (subgroupBroadcast compiles to a loop and costs 5x more).
// K runs in steps of 4*KQ; loads are clamped into the matrices and values
// past K masked to 0, so any M, N, K works without a separate tail.
//
// VA/VB allow vec4 loads of A/B: the host sets them only when the leading
// dimension and offset are multiples of 4 and the binding covers the last
// partial quad. VC allows vec4 stores of C (same alignment rule).

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint L = 8;  // subgroup size (must equal gl_SubgroupSize)
layout(constant_id = 2) const uint RG = 8; // row groups of L rows per subgroup
layout(constant_id = 3) const uint CQ = 4; // column quads per lane
layout(constant_id = 4) const uint KQ = 1; // k quads per main-loop step
layout(constant_id = 5) const bool TA = false;
layout(constant_id = 6) const bool TB = false;
layout(constant_id = 7) const bool VA = true;
layout(constant_id = 8) const bool VB = true;
layout(constant_id = 9) const bool VC = true;

#include "gemm.glsl"
#include "limits.glsl"

const uint R = RG * L;

uint lane, row0, col0;

// The masks below zero the values of k >= K (the matrices may hold NaN or
// Inf there: a select, not a multiply). Addresses are clamped to the
// matrix, so loads stay in bounds; clamped rows and columns only feed
// outputs that are never stored.

// kmask is true for k0+c < K, c = 0..3.
bvec4 kmask(uint k0) {
	return lessThan(uvec4(k0) + uvec4(0, 1, 2, 3), uvec4(p.K));
}

// lastq is the start of the quad holding element n-1.
uint lastq(uint n) {
	return (n - 1u) & ~3u;
}

// loadA returns the A quad this lane holds for row group g and the k quad
// starting at k0 (a multiple of 4):
//   !TA: op(A)[row0 + g*L + lane][k0 .. k0+3]
//    TA: op(A)[row0 + g*L + 4*(lane/4) .. +3][k0 + lane%4]
vec4 loadA(uint g, uint k0) {
	vec4 v;
	if (!TA) {
		uint base = p.aoff + min(row0 + g * L + lane, p.M - 1u) * p.lda;
		if (VA) {
			v = a4[(base + min(k0, lastq(p.K))) >> 2];
		} else {
			[[unroll]] for (uint c = 0; c < 4u; c++) {
				v[c] = a1[base + min(k0 + c, p.K - 1u)];
			}
		}
		return mix(vec4(0.0), v, kmask(k0));
	}
	uint k = k0 + (lane & 3u);
	uint base = p.aoff + min(k, p.K - 1u) * p.lda;
	uint i = row0 + g * L + 4u * (lane >> 2);
	if (VA) {
		v = a4[(base + min(i, lastq(p.M))) >> 2];
	} else {
		[[unroll]] for (uint c = 0; c < 4u; c++) {
			v[c] = a1[base + min(i + c, p.M - 1u)];
		}
	}
	return mix(vec4(0.0), v, bvec4(k < p.K));
}

// loadB returns, for the lane's column quad t, c = col0 + 4*(t*L + lane):
//   !TB: op(B)[k0 + x][c .. c+3]
//    TB: op(B)[k0 .. k0+3][c + x]
vec4 loadB(uint k0, uint x, uint t) {
	uint c = col0 + 4u * (t * L + lane);
	vec4 v;
	if (!TB) {
		uint k = k0 + x;
		uint base = p.boff + min(k, p.K - 1u) * p.ldb;
		if (VB) {
			v = b4[(base + min(c, lastq(p.N))) >> 2];
		} else {
			[[unroll]] for (uint cc = 0; cc < 4u; cc++) {
				v[cc] = b1[base + min(c + cc, p.N - 1u)];
			}
		}
		return mix(vec4(0.0), v, bvec4(k < p.K));
	}
	uint base = p.boff + min(c + x, p.N - 1u) * p.ldb;
	if (VB) {
		v = b4[(base + min(k0, lastq(p.K))) >> 2];
	} else {
		[[unroll]] for (uint kk = 0; kk < 4u; kk++) {
			v[kk] = b1[base + min(k0 + kk, p.K - 1u)];
		}
	}
	return mix(vec4(0.0), v, kmask(k0));
}

// AVAL is op(A)[row0 + i][k0 + 4*q + kk] in every lane, from aq.
#define AVAL(q, i, kk)                                                                    \
	(TA ? subgroupShuffle(aq[(q) * RG + (i) / L][(i) & 3u], (kk) + 4u * (((i) % L) >> 2)) \
	    : subgroupShuffle(aq[(q) * RG + (i) / L][kk], (i) % L))

// BVAL is op(B)[k0 + 4*q + kk][c .. c+3] of the lane's column quad t, from bq.
#define BVAL(q, kk, t)                                                                   \
	(TB ? vec4(bq[((q) * 4u + 0u) * CQ + (t)][kk], bq[((q) * 4u + 1u) * CQ + (t)][kk], \
	           bq[((q) * 4u + 2u) * CQ + (t)][kk], bq[((q) * 4u + 3u) * CQ + (t)][kk]) \
	    : bq[((q) * 4u + (kk)) * CQ + (t)])

// Accumulators leave through shared memory: each lane stores its own and
// reads them back in a loop that is not unrolled, so the bounds-checked
// stores to C are a handful of code sites instead of R*CQ of them
// (llvmpipe compiles every memory access site into a loop over the lanes,
// and the compile time grows with their number). No lane reads another's
// values, so no barrier is needed.
// Declared at its maximum (limits.glsl), like the register arrays below:
// the host keeps WG*R*CQ, R*CQ, RG, CQ and KQ within them.
shared vec4 cs[GEMM_SG_SHARED];

void main() {
	lane = gl_SubgroupInvocationID;
	row0 = (gl_WorkGroupID.y * gl_NumSubgroups + gl_SubgroupID) * R;
	col0 = gl_WorkGroupID.x * (4u * CQ * L);

	vec4 acc[GEMM_SG_MAX_ACC];
	[[unroll]] for (uint i = 0; i < R * CQ; i++) {
		acc[i] = vec4(0.0);
	}
	for (uint k0 = 0; k0 < p.K; k0 += 4u * KQ) {
		vec4 aq[GEMM_SG_MAX_KQ * GEMM_SG_MAX_RG];
		vec4 bq[GEMM_SG_MAX_KQ * 4u * GEMM_SG_MAX_CQ];
		[[unroll]] for (uint q = 0; q < KQ; q++) {
			[[unroll]] for (uint g = 0; g < RG; g++) {
				aq[q * RG + g] = loadA(g, k0 + 4u * q);
			}
			[[unroll]] for (uint x = 0; x < 4u; x++) {
				[[unroll]] for (uint t = 0; t < CQ; t++) {
					bq[(q * 4u + x) * CQ + t] = loadB(k0 + 4u * q, x, t);
				}
			}
		}
		[[unroll]] for (uint i = 0; i < R; i++) {
			float av[GEMM_SG_MAX_KQ * 4u];
			[[unroll]] for (uint q = 0; q < KQ; q++) {
				[[unroll]] for (uint kk = 0; kk < 4u; kk++) {
					av[q * 4u + kk] = AVAL(q, i, kk);
				}
			}
			[[unroll]] for (uint t = 0; t < CQ; t++) {
				vec4 s = acc[i * CQ + t];
				[[unroll]] for (uint q = 0; q < KQ; q++) {
					[[unroll]] for (uint kk = 0; kk < 4u; kk++) {
						s = fma(vec4(av[q * 4u + kk]), BVAL(q, kk, t), s);
					}
				}
				acc[i * CQ + t] = s;
			}
		}
	}

	uint cbase = gl_LocalInvocationIndex * (R * CQ);
	[[unroll]] for (uint j = 0; j < R * CQ; j++) {
		cs[cbase + j] = acc[j];
	}
	[[dont_unroll]] for (uint j = 0; j < R * CQ; j++) {
		uint row = row0 + j / CQ;
		uint c = col0 + 4u * ((j % CQ) * L + lane);
		if (row >= p.M) {
			break;
		}
		uint rbase = p.coff + row * p.ldc;
		vec4 v = p.alpha * cs[cbase + j];
		if (VC && c + 3u < p.N) {
			uint idx = (rbase + c) >> 2;
			if (p.beta != 0.0) {
				v += p.beta * c4[idx];
			}
			c4[idx] = v;
		} else {
			[[unroll]] for (uint cc = 0; cc < 4u; cc++) {
				if (c + cc < p.N) {
					float w = v[cc];
					if (p.beta != 0.0) {
						w += p.beta * c1[rbase + c + cc];
					}
					c1[rbase + c + cc] = w;
				}
			}
		}
	}
}
