// Backward-filter of a grouped convolution: dw[o, c, ky, kx] = sum over
// n, oy, ox of dy[n, o, oy, ox] * x[n, g*cg + c, oy*sh - ph + ky,
// ox*sw - pw + kx]. Each invocation owns TO output channels (one group)
// times TP filter entries and runs the whole reduction over the batch
// and output pixels itself: every dw element has exactly one writer, so
// no atomics and no second pass.
//
// Filter entries are numbered r = (ky*kw + kx)*cg + c, consecutive across
// the lanes of a subgroup: the dy loads then depend only on the workgroup
// and the loop counters (uniform: one broadcast load serves all lanes)
// and the x loads are the per-lane ones. Per output pixel an invocation
// does TO dy loads, TP x loads and TO*TP FMAs.
//
// With SHUF the lanes load the TO dy values of a pixel together, one
// each, and subgroupShuffle hands them round (see conv_direct.glsl).
// Included by conv2d_filter.comp (SHUF 0) and conv2d_filter_shuf.comp.
//
// Bindings: 0 x, 1 dy, 2 dw. Workgroups: x over entry blocks of WG*TP,
// y over (group, channel block of TO).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TO = 8;  // output channels per invocation
layout(constant_id = 2) const uint TP = 4;  // filter entries per invocation
#if SHUF
layout(constant_id = 3) const uint SG = 8;  // subgroup size SHUF assumes
const uint NW = (TO + SG - 1) / SG;
#endif

layout(set = 0, binding = 0) readonly buffer X { float x[]; };
layout(set = 0, binding = 1) readonly buffer DY { float dy[]; };
layout(set = 0, binding = 2) writeonly buffer DW { float dw[]; };

layout(push_constant) uniform P {
	uint n, c, h, w;
	uint o, oh, ow;
	uint kh, kw, sh, sw, ph, pw;
	uint cg, og, blocks;
	uint entries; // cg * kh * kw
} p;

void main() {
	const uint g = gl_WorkGroupID.y / p.blocks;
	const uint ob = (gl_WorkGroupID.y % p.blocks) * TO;
	const uint hw = p.h * p.w, ohw = p.oh * p.ow;
	const uint kk = p.kh * p.kw;

	// Entries of this invocation; past the end they repeat the last one
	// (computed, never stored).
	const uint first = gl_WorkGroupID.x * gl_WorkGroupSize.x * TP + gl_LocalInvocationID.x;
	uint cOff[TP];  // x offset of the entry's channel in sample 0
	int ky[TP], kx[TP];
	[[unroll]] for (uint j = 0; j < TP; j++) {
		uint r = min(first + j * gl_WorkGroupSize.x, p.entries - 1u);
		uint tap = r / p.cg;
		cOff[j] = (g * p.cg + r % p.cg) * hw;
		ky[j] = int(tap / p.kw) - int(p.ph);
		kx[j] = int(tap % p.kw) - int(p.pw);
	}
	// dy offset of each output channel in sample 0; channels past the
	// group's end repeat the last one.
	uint dyOff[TO];
	[[unroll]] for (uint t = 0; t < TO; t++) {
		dyOff[t] = (g * p.og + min(ob + t, p.og - 1u)) * ohw;
	}

#if SHUF
	uint myOff[NW];
	[[unroll]] for (uint i = 0; i < NW; i++) {
		myOff[i] = (g * p.og + min(ob + gl_SubgroupInvocationID + i * SG, p.og - 1u)) * ohw;
	}
#endif

	float acc[TO][TP];
	[[unroll]] for (uint t = 0; t < TO; t++) {
		[[unroll]] for (uint j = 0; j < TP; j++) acc[t][j] = 0.0;
	}

	for (uint nn = 0; nn < p.n; nn++) {
		const uint xs = nn * p.c * hw, ys = nn * p.o * ohw;
		for (uint oy = 0; oy < p.oh; oy++) {
			// Row of each entry: its input row and whether it is inside.
			uint row[TP];
			bool rowOk[TP];
			[[unroll]] for (uint j = 0; j < TP; j++) {
				int iy = int(oy * p.sh) + ky[j];
				rowOk[j] = uint(iy) < p.h;
				row[j] = xs + cOff[j] + (rowOk[j] ? uint(iy) * p.w : 0u);
			}
			const uint yrow = ys + oy * p.ow;
			for (uint ox = 0; ox < p.ow; ox++) {
				float xv[TP];
				[[unroll]] for (uint j = 0; j < TP; j++) {
					int ix = int(ox * p.sw) + kx[j];
					bool ok = rowOk[j] && uint(ix) < p.w;
					float v = x[ok ? row[j] + uint(ix) : 0u];
					xv[j] = ok ? v : 0.0;
				}
#if SHUF
				float mine[NW];
				[[unroll]] for (uint i = 0; i < NW; i++) mine[i] = dy[myOff[i] + yrow + ox];
#endif
				[[unroll]] for (uint t = 0; t < TO; t++) {
#if SHUF
					float d = subgroupShuffle(mine[t / SG], t % SG);
#else
					float d = dy[dyOff[t] + yrow + ox];
#endif
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
			if (ob + t < p.og) dw[((g * p.og + ob + t) * p.cg + c) * kk + tap] = acc[t][j];
		}
	}
}
