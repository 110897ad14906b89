// Backward-filter of a grouped convolution: dw[o, c, ky, kx] = sum over
// n, oy, ox of dy[n, o, oy, ox] * x[n, g*cg + c, oy*sh - ph + ky,
// ox*sw - pw + kx]. Each invocation owns TO output channels (one group)
// times TP filter entries and runs the reduction over the batch and
// output pixels itself: every dw element has exactly one writer, so no
// atomics. A reduction too long for one invocation (lavapipe's loop
// limit, a GPU's lane budget) runs as a chain of accumulating dispatches,
// or split over z: slice z reduces its own range of rows into its own
// copy of dw (at z*sliceStride in the output binding, a scratch), and
// sum_slices adds the copies in slice order: the chain's sums, in
// parallel.
//
// Filter entries are numbered r = (ky*kw + kx)*cg + c, consecutive across
// the lanes of a subgroup: the dy loads then depend only on the workgroup
// and the loop counters (uniform across the subgroup) and the x loads
// are the per-lane ones. Per output pixel an invocation does TO dy loads
// (TO/SG with SHUF), TP x loads and TO*TP FMAs. With stride 1 along x
// the row-window path (KWC > 0) takes whole filter rows instead.
//
// With SHUF the lanes load the TO dy values of a pixel together, one
// each, and subgroupShuffle hands them round (see conv_direct.glsl).
// Included by conv2d_filter.comp (SHUF 0) and conv2d_filter_shuf.comp.
//
// Bindings: 0 x, 1 dy, 2 dw (or the slices). Workgroups: x over entry
// blocks of WG*TP, y over (group, channel block of TO), z over slices.
#include "limits.glsl"

// Arrays are declared at their maxima (limits.glsl; the host checks TO,
// TP, KWC and NW against them), indexed up to the specialized sizes.
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TO = 8;  // output channels per invocation
layout(constant_id = 2) const uint TP = 4;  // filter entries per invocation
// KWC > 0 selects the row-window path (see main), for kernels KWC wide
// with stride 1 along x.
layout(constant_id = 3) const uint KWC = 0;
#if SHUF
layout(constant_id = 4) const uint SG = 8;  // subgroup size SHUF assumes
const uint NW = (TO + SG - 1) / SG;
#endif

// x and dy are activations (float16 in the _f16 variants,
// include/storage.glsl); dw and the sums are float.
layout(set = 0, binding = 0) readonly buffer X { ACT_T x[]; };
layout(set = 0, binding = 1) readonly buffer DY { ACT_T dy[]; };
layout(set = 0, binding = 2) buffer DW { float dw[]; };

layout(push_constant) uniform P {
	uint n, c, h, w;
	uint o, oh, ow;
	uint kh, kw, sh, sw, ph, pw;
	uint cg, og, blocks;
	uint entries; // cg * kh * kw, or with KWC > 0 the rows cg * kh
	// The dispatch reduces over the output rows (n, oy) numbered n*oh + oy
	// in [rowBegin, rowEnd) and stores the sum, or with accumulate != 0
	// adds it to dw: long reductions run as a chain of dispatches, since
	// lavapipe ends any invocation after 65535 loop iterations in all.
	uint rowBegin, rowEnd, accumulate;
	// Slice z takes rowsPer of those rows from rowBegin + z*rowsPer and
	// stores at z*sliceStride (0 with one slice).
	uint rowsPer, sliceStride;
} p;

// STORE_DW(i, v): dw[i] = v, or dw[i] += v in an accumulating dispatch
// (the invocation is the element's only writer), in the slice's copy.
#define STORE_DW(i, v)                              \
	{                                               \
		uint i_ = (i) + gl_WorkGroupID.z * p.sliceStride; \
		dw[i_] = p.accumulate != 0u ? dw[i_] + (v) : (v); \
	}

// LOAD_DY(at) then DY(t, at): dy of output channel t of the block at
// offset at of the sample's channel planes (shared by shuffles with SHUF).
#if SHUF
#define LOAD_DY(at)                                                        \
	float mine[CONV_MAX_NW];                                                        \
	[[unroll]] for (uint i = 0; i < NW; i++) mine[i] = LD(dy[myOff[i] + (at)]);
#define DY(t, at) subgroupShuffle(mine[(t) / SG], (t) % SG)
#else
#define LOAD_DY(at)
#define DY(t, at) LD(dy[dyOff[t] + (at)])
#endif

void main() {
	const uint g = gl_WorkGroupID.y / p.blocks;
	const uint ob = (gl_WorkGroupID.y % p.blocks) * TO;
	const uint hw = p.h * p.w, ohw = p.oh * p.ow;
	const uint kk = p.kh * p.kw;

	// dy offset of each output channel in sample 0; channels past the
	// group's end repeat the last one.
	uint dyOff[CONV_MAX_TO];
	[[unroll]] for (uint t = 0; t < TO; t++) {
		dyOff[t] = (g * p.og + min(ob + t, p.og - 1u)) * ohw;
	}

#if SHUF
	uint myOff[CONV_MAX_NW];
	[[unroll]] for (uint i = 0; i < NW; i++) {
		myOff[i] = (g * p.og + min(ob + gl_SubgroupInvocationID + i * SG, p.og - 1u)) * ohw;
	}
#endif

	const uint first = gl_WorkGroupID.x * gl_WorkGroupSize.x * TP + gl_LocalInvocationID.x;
	// This slice's rows.
	const uint rowBegin = p.rowBegin + gl_WorkGroupID.z * p.rowsPer;
	const uint rowEnd = min(rowBegin + p.rowsPer, p.rowEnd);
	if (KWC == 0) {
		// Entries of this invocation; past the end they repeat the last one
		// (computed, never stored).
		uint cOff[CONV_MAX_TP];  // x offset of the entry's channel in sample 0
		int ky[CONV_MAX_TP], kx[CONV_MAX_TP];
		[[unroll]] for (uint j = 0; j < TP; j++) {
			uint r = min(first + j * gl_WorkGroupSize.x, p.entries - 1u);
			uint tap = r / p.cg;
			cOff[j] = (g * p.cg + r % p.cg) * hw;
			ky[j] = int(tap / p.kw) - int(p.ph);
			kx[j] = int(tap % p.kw) - int(p.pw);
		}
		float acc[CONV_MAX_TO][CONV_MAX_TP];
		[[unroll]] for (uint t = 0; t < TO; t++) {
			[[unroll]] for (uint j = 0; j < TP; j++) acc[t][j] = 0.0;
		}

		for (uint rw = rowBegin; rw < rowEnd; rw++) {
			const uint nn = rw / p.oh, oy = rw % p.oh;
			const uint xs = nn * p.c * hw, ys = nn * p.o * ohw;
			{
				// Row of each entry: its input row and whether it is inside.
				uint row[CONV_MAX_TP];
				bool rowOk[CONV_MAX_TP];
				[[unroll]] for (uint j = 0; j < TP; j++) {
					int iy = int(oy * p.sh) + ky[j];
					rowOk[j] = uint(iy) < p.h;
					row[j] = xs + cOff[j] + (rowOk[j] ? uint(iy) * p.w : 0u);
				}
				const uint yrow = ys + oy * p.ow;
				for (uint ox = 0; ox < p.ow; ox++) {
					float xv[CONV_MAX_TP];
					[[unroll]] for (uint j = 0; j < TP; j++) {
						int ix = int(ox * p.sw) + kx[j];
						bool ok = rowOk[j] && uint(ix) < p.w;
						float v = LD(x[ok ? row[j] + uint(ix) : 0u]);
						xv[j] = ok ? v : 0.0;
					}
					LOAD_DY(yrow + ox)
					[[unroll]] for (uint t = 0; t < TO; t++) {
						float d = DY(t, yrow + ox);
						[[unroll]] for (uint j = 0; j < TP; j++) acc[t][j] = fma(d, xv[j], acc[t][j]);
					}
				}
			}
		}

		[[unroll]] for (uint j = 0; j < TP; j++) {
			uint r = first + j * gl_WorkGroupSize.x;
			if (r >= p.entries) break;
			uint tap = r / p.cg, c = r % p.cg;
			[[unroll]] for (uint t = 0; t < TO; t++) {
				if (ob + t < p.og) STORE_DW(((g * p.og + ob + t) * p.cg + c) * kk + tap, acc[t][j])
			}
		}
		return;
	}

	// Row-window path (KWC > 0, stride 1 along x): a lane owns all KWC
	// taps of TP filter rows (ky, c), numbered ky*cg + c. Along an output
	// row the taps of a filter row read a window of KWC consecutive x
	// values that slides by one per output pixel: one new load per row
	// and pixel serves KWC taps (TP loads per pixel instead of TP*KWC).
	uint cOff[CONV_MAX_TP];  // x offset of the row's channel in sample 0
	int ky[CONV_MAX_TP];
	[[unroll]] for (uint j = 0; j < TP; j++) {
		uint rr = min(first + j * gl_WorkGroupSize.x, p.entries - 1u);
		cOff[j] = (g * p.cg + rr % p.cg) * hw;
		ky[j] = int(rr / p.cg) - int(p.ph);
	}
	float acc[CONV_MAX_TO][CONV_MAX_TP][CONV_MAX_KWC + 1u];
	[[unroll]] for (uint t = 0; t < TO; t++) {
		[[unroll]] for (uint j = 0; j < TP; j++) {
			[[unroll]] for (uint k = 0; k <= KWC; k++) acc[t][j][k] = 0.0;
		}
	}
	for (uint rw = rowBegin; rw < rowEnd; rw++) {
		const uint nn = rw / p.oh, oy = rw % p.oh;
		const uint xs = nn * p.c * hw, ys = nn * p.o * ohw;
		{
			uint row[CONV_MAX_TP];
			bool rowOk[CONV_MAX_TP];
			float xw[CONV_MAX_TP][CONV_MAX_KWC + 1u];
			[[unroll]] for (uint j = 0; j < TP; j++) {
				int iy = int(oy * p.sh) + ky[j];
				rowOk[j] = uint(iy) < p.h;
				row[j] = xs + cOff[j] + (rowOk[j] ? uint(iy) * p.w : 0u);
				// The window of pixel 0, but for its last column.
				[[unroll]] for (uint k = 0; k < KWC - 1u; k++) {
					int ix = int(k) - int(p.pw);
					bool ok = rowOk[j] && uint(ix) < p.w;
					float v = LD(x[ok ? row[j] + uint(ix) : 0u]);
					xw[j][k] = ok ? v : 0.0;
				}
			}
			const uint yrow = ys + oy * p.ow;
			for (uint ox = 0; ox < p.ow; ox++) {
				const int ix = int(ox + KWC - 1u) - int(p.pw);
				[[unroll]] for (uint j = 0; j < TP; j++) {
					bool ok = rowOk[j] && uint(ix) < p.w;
					float v = LD(x[ok ? row[j] + uint(ix) : 0u]);
					xw[j][KWC - 1u] = ok ? v : 0.0;
				}
				LOAD_DY(yrow + ox)
				[[unroll]] for (uint t = 0; t < TO; t++) {
					float d = DY(t, yrow + ox);
					[[unroll]] for (uint j = 0; j < TP; j++) {
						[[unroll]] for (uint k = 0; k < KWC; k++) acc[t][j][k] = fma(d, xw[j][k], acc[t][j][k]);
					}
				}
				[[unroll]] for (uint j = 0; j < TP; j++) {
					[[unroll]] for (uint k = 0; k < KWC - 1u; k++) xw[j][k] = xw[j][k + 1u];
				}
			}
		}
	}
	[[unroll]] for (uint j = 0; j < TP; j++) {
		uint rr = first + j * gl_WorkGroupSize.x;
		if (rr >= p.entries) break;
		uint c = rr % p.cg, tap0 = (rr / p.cg) * p.kw;
		[[unroll]] for (uint t = 0; t < TO; t++) {
			if (ob + t >= p.og) break;
			uint base = ((g * p.og + ob + t) * p.cg + c) * kk + tap0;
			[[unroll]] for (uint k = 0; k < KWC; k++) STORE_DW(base + k, acc[t][j][k])
		}
	}
}
