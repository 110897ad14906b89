// Direct grouped convolution, register-blocked, for the forward pass and
// (MODE 1) backward-data, which is the same loop nest with the roles of
// input and output channels swapped and the position map inverted.
//
// Each invocation computes TO channels of the output (all in one group)
// at TP output pixels. The pixels of an invocation are WG apart and the
// lanes of a subgroup take consecutive pixels: input loads are then the
// only per-lane (gathered) loads, contiguous along a row, while the
// weight loads depend only on the workgroup and loop counters, so they
// are uniform across the subgroup (a cache broadcast on a GPU; lavapipe
// still loops over the lanes, hence SHUF below). Per reduction step an
// invocation does TP input loads, TO weight loads (ceil(TO/SG) with
// SHUF) and TO*TP FMAs.
//
// Loop order: taps (kh, kw) outside, reduction channels inside, so the
// padding test and the address of each pixel are computed once per tap
// and the innermost loop is loads and FMAs only. With KWC > 0 (stride 1
// along x) a lane takes TP consecutive pixels of a row instead and one
// window of src values serves all the taps of a kernel row.
//
// Included by conv2d_direct.comp (SHUF 0) and conv2d_direct_shuf.comp
// (SHUF 1, needs subgroup shuffles).
//
// Bindings: 0 src (x, or dy for MODE 1), 1 w (OIHW), 2 bias (read only
// when BIAS), 3 dst (y, or dx for MODE 1). Workgroups: x over blocks of
// WG lanes (TP pixels each), y over (group, channel block of TO), z over the
// stride phase classes of backward-data (1 forward) times the rows of x
// blocks beyond the device's grid width.

#include "limits.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TO = 8;    // output channels per invocation
layout(constant_id = 2) const uint TP = 4;    // output pixels per invocation
layout(constant_id = 3) const uint MODE = 0;  // 0 forward, 1 backward data
layout(constant_id = 4) const bool BIAS = false;
// KWC > 0 selects the row-segment path (see main), for kernels KWC wide
// whose src column steps by one per output column.
layout(constant_id = 5) const uint KWC = 0;
const uint NX = TP + KWC; // window entries (TP + KWC - 1 used)
// Arrays are declared at their maxima (limits.glsl; the host checks TO,
// TP, KWC and NW against them), indexed up to the specialized sizes.
const uint MAX_NX = CONV_MAX_TP + CONV_MAX_KWC;

#if SHUF
// The lanes of a subgroup (SG of them) load the TO weights of a step
// together, one each, and subgroupShuffle hands them round: ceil(TO/SG)
// per-lane loads per step instead of TO. Where every buffer load is a
// loop over the lanes, even at a uniform address (lavapipe), loads cost
// far more than FMAs and this halves the kernel's loads. Needs
// gl_SubgroupSize == SG and full subgroups (no inactive lanes).
layout(constant_id = 6) const uint SG = 8;
const uint NW = (TO + SG - 1) / SG;
#endif

// src, dst and the (standardized) weights are activations: float16 in
// the _f16 variants (include/storage.glsl); bias and the sums are float.
layout(set = 0, binding = 0) readonly buffer Src { ACT_T src[]; };
layout(set = 0, binding = 1) readonly buffer Wt { ACT_T w[]; };
layout(set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(set = 0, binding = 3) buffer Dst { ACT_T dst[]; };

// Sizes are of this pass: src [N, CIN, HIN, WIN] -> dst [N, COUT, HOUT,
// WOUT]. kh/kw, stride and padding are the forward convolution's.
// cgIn: reduction channels per group; cgOut: dst channels per group;
// blocks = ceil(cgOut/TO); sIn, sOut: weight strides of one reduction
// channel and one dst channel.
layout(push_constant) uniform P {
	uint n, cin, hin, win;
	uint cout, hout, wout;
	uint kh, kw, sh, sw, ph, pw;
	uint cgIn, cgOut, blocks;
	uint sIn, sOut;
	// This dispatch reduces over the channels [cBegin, cEnd) of each group
	// and stores the sum (plus bias), or with accumulate != 0 adds it to
	// dst: long reductions run as a chain of dispatches, since lavapipe
	// ends any invocation after 65535 loop iterations in all.
	uint cBegin, cEnd, accumulate;
} p;

// STORE_DST(i, v): dst[i] = v, or dst[i] += v when accumulating (the
// invocation is the element's only writer).
#define STORE_DST(i, v)                                      \
	{                                                        \
		uint i_ = (i);                                       \
		dst[i_] = ST(p.accumulate != 0u ? LD(dst[i_]) + (v) : (v)); \
	}

// ACCUMULATE(WI, X): acc[t][j] += weight(t, WI) * X(j) over the block,
// weight(t, WI) = w[wo[t] + WI] (shared by shuffles with SHUF).
#if SHUF
#define ACCUMULATE(WI, X)                                                        \
	{                                                                            \
		float mine[CONV_MAX_NW];                                                          \
		[[unroll]] for (uint i = 0; i < NW; i++) mine[i] = LD(w[myWo[i] + (WI)]);    \
		[[unroll]] for (uint t = 0; t < TO; t++) {                               \
			float wv = subgroupShuffle(mine[t / SG], t % SG);                    \
			[[unroll]] for (uint j = 0; j < TP; j++) acc[t][j] = fma(wv, X, acc[t][j]); \
		}                                                                        \
	}
#else
#define ACCUMULATE(WI, X)                                                        \
	{                                                                            \
		[[unroll]] for (uint t = 0; t < TO; t++) {                               \
			float wv = LD(w[wo[t] + (WI)]);                                        \
			[[unroll]] for (uint j = 0; j < TP; j++) acc[t][j] = fma(wv, X, acc[t][j]); \
		}                                                                        \
	}
#endif

void main() {
	const uint g = gl_WorkGroupID.y / p.blocks;
	const uint ob = (gl_WorkGroupID.y % p.blocks) * TO;
	const uint hwIn = p.hin * p.win, hwOut = p.hout * p.wout;
	const uint kk = p.kh * p.kw;

	// Reduction channels of group g start here in src, for sample 0.
	const uint srcGroup = g * p.cgIn * hwIn;
	// Weights of group g: the first dst channel of the block, tap 0.
	const uint wGroup = g * p.cgIn * p.cgOut * kk;

	// Backward-data runs one stride phase class (py, px) per z slice: the
	// dx pixels oy = py + my*sh, ox = px + mx*sw, which only the taps ky =
	// (py + ph) mod sh + i*sh (same for kx) reach. Each class loops over
	// its own taps only, instead of testing all of them for divisibility.
	// The forward pass is the single class with unit steps.
	const uint csh = MODE == 1 ? p.sh : 1u, csw = MODE == 1 ? p.sw : 1u;
	// z also carries the x blocks beyond the device's grid width: block
	// xb = x + (z / classes) * width.
	const uint cls = gl_WorkGroupID.z % (csh * csw);
	const uint xb = gl_WorkGroupID.x + (gl_WorkGroupID.z / (csh * csw)) * gl_NumWorkGroups.x;
	const uint py = cls / csw, px = cls % csw;
	const uint hc = (p.hout - min(py, p.hout) + csh - 1u) / csh;
	const uint wc = (p.wout - min(px, p.wout) + csw - 1u) / csw;
	const uint pixels = p.n * hc * wc;
	if (pixels == 0u) return; // uniform: a class with no pixels

	// Weight offsets of the TO dst channels; channels past the group's
	// end repeat the last one (computed, never stored).
	uint wo[CONV_MAX_TO];
	[[unroll]] for (uint t = 0; t < TO; t++) {
		wo[t] = wGroup + min(ob + t, p.cgOut - 1u) * p.sOut;
	}

#if SHUF
	uint myWo[CONV_MAX_NW];
	[[unroll]] for (uint i = 0; i < NW; i++) {
		myWo[i] = wGroup + min(ob + gl_SubgroupInvocationID + i * SG, p.cgOut - 1u) * p.sOut;
	}
#endif

	float acc[CONV_MAX_TO][CONV_MAX_TP];
	[[unroll]] for (uint t = 0; t < TO; t++) {
		float b0 = BIAS && p.accumulate == 0u ? bias[g * p.cgOut + min(ob + t, p.cgOut - 1u)] : 0.0;
		[[unroll]] for (uint j = 0; j < TP; j++) acc[t][j] = b0;
	}

	if (KWC == 0) {
		// Pixel path: each lane takes TP pixels WG apart, consecutive
		// across lanes, and loads one src value per pixel and tap.
		// Pixel coordinates of this invocation. Pixels past the end are
		// clamped (computed, never stored) so every load stays in bounds.
		uint sBase[CONV_MAX_TP];  // src offset of the sample's group
		int oy[CONV_MAX_TP], ox[CONV_MAX_TP];
		const uint first = xb * gl_WorkGroupSize.x * TP + gl_LocalInvocationID.x;
		[[unroll]] for (uint j = 0; j < TP; j++) {
			uint q = min(first + j * gl_WorkGroupSize.x, pixels - 1u);
			uint nn = q / (hc * wc), r = q % (hc * wc);
			oy[j] = int(py + (r / wc) * csh);
			ox[j] = int(px + (r % wc) * csw);
			sBase[j] = nn * p.cin * hwIn + srcGroup;
		}

		const uint ky0 = MODE == 1 ? (py + p.ph) % csh : 0u;
		const uint kx0 = MODE == 1 ? (px + p.pw) % csw : 0u;
		for (uint ky = ky0; ky < p.kh; ky += csh) {
			for (uint kx = kx0; kx < p.kw; kx += csw) {
				uint off[CONV_MAX_TP];
				bool ok[CONV_MAX_TP];
				[[unroll]] for (uint j = 0; j < TP; j++) {
					int iy, ix;
					if (MODE == 0) {
						iy = oy[j] * int(p.sh) - int(p.ph) + int(ky);
						ix = ox[j] * int(p.sw) - int(p.pw) + int(kx);
					} else {
						// dx position oy reads dy at (oy + pad - k) / stride; the
						// class makes the division exact. Negative numerators
						// stay negative (rejected below).
						iy = (oy[j] + int(p.ph) - int(ky)) / int(p.sh);
						ix = (ox[j] + int(p.pw) - int(kx)) / int(p.sw);
						iy = oy[j] + int(p.ph) < int(ky) ? -1 : iy;
						ix = ox[j] + int(p.pw) < int(kx) ? -1 : ix;
					}
					ok[j] = uint(iy) < p.hin && uint(ix) < p.win;
					off[j] = ok[j] ? sBase[j] + uint(iy) * p.win + uint(ix) : 0u;
				}
				const uint tap = ky * p.kw + kx;
				for (uint c = p.cBegin; c < p.cEnd; c++) {
					float xv[CONV_MAX_TP];
					[[unroll]] for (uint j = 0; j < TP; j++) {
						float v = LD(src[off[j] + c * hwIn]);
						xv[j] = ok[j] ? v : 0.0;
					}
					ACCUMULATE(c * p.sIn + tap, xv[j])
				}
			}
		}

		[[unroll]] for (uint j = 0; j < TP; j++) {
			uint q = first + j * gl_WorkGroupSize.x;
			if (q >= pixels) break;
			uint nn = q / (hc * wc);
			uint base = (nn * p.cout + g * p.cgOut) * hwOut + uint(oy[j]) * p.wout + uint(ox[j]);
			[[unroll]] for (uint t = 0; t < TO; t++) {
				if (ob + t < p.cgOut) STORE_DST(base + (ob + t) * hwOut, acc[t][j])
			}
		}
		return;
	}

	// Row-segment path (KWC > 0): each lane takes TP consecutive pixels of
	// one output row. Along a row the src column steps by one per pixel
	// (forward stride 1, or backward-data with stride 1 along x), so the
	// KWC taps of the TP pixels read only TP + KWC - 1 src values: one
	// window load serves up to KWC taps. Per (channel, kernel row) that
	// is TP + KWC - 1 loads instead of TP * KWC.
	const uint segs = (wc + TP - 1u) / TP;
	const uint items = p.n * hc * segs;
	const uint lane = xb * gl_WorkGroupSize.x + gl_LocalInvocationID.x;
	const uint item = min(lane, items - 1u);
	const uint nn = item / (hc * segs), r = item % (hc * segs);
	const int oyv = int(py + (r / segs) * csh);
	const uint m0 = (r % segs) * TP;
	const uint sb = nn * p.cin * hwIn + srcGroup;
	// src column of window entry 0: forward, the first pixel's tap 0;
	// backward-data, its tap KWC-1 (the window runs the other way).
	const int bx = MODE == 0 ? int(m0) - int(p.pw) : int(m0) + int(p.pw) - int(KWC - 1u);
	bool okx[MAX_NX];
	uint colx[MAX_NX];
	[[unroll]] for (uint e = 0; e < NX; e++) {
		int ix = bx + int(e);
		okx[e] = uint(ix) < p.win;
		colx[e] = okx[e] ? uint(ix) : 0u;
	}
	const uint ky0 = MODE == 1 ? (py + p.ph) % csh : 0u;
	for (uint ky = ky0; ky < p.kh; ky += csh) {
		int iy = MODE == 0 ? oyv * int(p.sh) - int(p.ph) + int(ky)
		                   : (oyv + int(p.ph) < int(ky) ? -1 : (oyv + int(p.ph) - int(ky)) / int(p.sh));
		const bool rowOk = uint(iy) < p.hin;
		const uint rb = sb + (rowOk ? uint(iy) * p.win : 0u);
		bool ok[MAX_NX];
		[[unroll]] for (uint e = 0; e < NX; e++) ok[e] = rowOk && okx[e];
		for (uint c = p.cBegin; c < p.cEnd; c++) {
			float xw[MAX_NX];
			[[unroll]] for (uint e = 0; e < NX - 1u; e++) {
				float v = LD(src[rb + c * hwIn + colx[e]]);
				xw[e] = ok[e] ? v : 0.0;
			}
			xw[NX - 1] = 0.0;
			[[unroll]] for (uint kx = 0; kx < KWC; kx++) {
				ACCUMULATE(c * p.sIn + ky * p.kw + kx, xw[j + (MODE == 0 ? kx : KWC - 1u - kx)])
			}
		}
	}
	[[unroll]] for (uint j = 0; j < TP; j++) {
		if (lane >= items || m0 + j >= wc) break;
		uint base = (nn * p.cout + g * p.cgOut) * hwOut + uint(oyv) * p.wout + m0 + j;
		[[unroll]] for (uint t = 0; t < TO; t++) {
			if (ob + t < p.cgOut) STORE_DST(base + (ob + t) * hwOut, acc[t][j])
		}
	}
}
