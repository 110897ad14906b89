#version 450
// Average pooling over KH x KW windows with strides SH, SW (specialization
// constants, so the window loops unroll and stride divisions are shifts)
// and explicit padding, dividing by the count of valid (unpadded)
// elements: TF "SAME" and PyTorch ceil_mode with count_include_pad=False.
// x is [P, H, W], y [P, OH, OW] with P = N*C planes.
//
//	BACKWARD 0: one invocation per output: y = mean of its window
//	BACKWARD 1: one invocation per input: dx = sum over the windows that
//	            count it of dy / count (a gather: no atomics, each dx
//	            written once)
//
// Bindings: 0 x or dy, 1 y or dx; the f16 variant stores both as
// float16 (the sums in float32).
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int KH = 2;
layout(constant_id = 2) const int KW = 2;
layout(constant_id = 3) const int SH = 2;
layout(constant_id = 4) const int SW = 2;
layout(constant_id = 5) const uint BACKWARD = 0;
// RUNS 1: FOR_EACH_RUN (CPU devices), 0: FOR_EACH_STRIDE (GPUs).
layout(constant_id = 6) const uint RUNS = 0;
#include "ws_index.glsl"
#include "storage.glsl"
// nfvk:variant f16 ACT_F16
// nfvk:variant bf16 ACT_BF16
layout(set = 0, binding = 0) readonly buffer X { ACT_T x[]; };
layout(set = 0, binding = 1) writeonly buffer Y { ACT_T y[]; };
layout(push_constant) uniform P {
	uint total; // outputs (forward) or inputs (backward) of this dispatch
	int H, W, OH, OW;
	int pad_top, pad_left;
	uint m_cols, s_cols; // divide by the row length (OW forward, W backward)
	uint m_rows, s_rows; // divide by the plane height (OH forward, H backward)
} p;

// count of valid rows/columns of output window o along one axis
int valid(int o, int stride, int pad, int k, int n) {
	int s = o * stride - pad;
	return min(s + k, n) - max(s, 0);
}

void one(uint e) {
	uint r = udiv(e, p.m_cols, p.s_cols);
	uint pl = udiv(r, p.m_rows, p.s_rows);
	if (BACKWARD == 0u) {
		int j = int(e - r * uint(p.OW));
		int i = int(r - pl * uint(p.OH));
		int h0 = i * SH - p.pad_top, w0 = j * SW - p.pad_left;
		uint base = pl * uint(p.H * p.W);
		float s = 0.0;
		for (int dh = 0; dh < KH; dh++) {
			int h = h0 + dh;
			if (h < 0 || h >= p.H) continue;
			for (int dw = 0; dw < KW; dw++) {
				int w = w0 + dw;
				if (w >= 0 && w < p.W) s += LD(x[base + uint(h * p.W + w)]);
			}
		}
		int cnt = (min(h0 + KH, p.H) - max(h0, 0)) * (min(w0 + KW, p.W) - max(w0, 0));
		y[e] = ST(s / float(cnt));
	} else {
		int w = int(e - r * uint(p.W));
		int h = int(r - pl * uint(p.H));
		// outputs i with i*SH - pad <= h < i*SH - pad + KH
		int hp = h + p.pad_top, wp = w + p.pad_left;
		int i0 = max(0, (hp - KH + SH) / SH), i1 = min(p.OH - 1, hp / SH);
		int j0 = max(0, (wp - KW + SW) / SW), j1 = min(p.OW - 1, wp / SW);
		uint base = pl * uint(p.OH * p.OW);
		float s = 0.0;
		for (int i = i0; i <= i1; i++) {
			int ch = valid(i, SH, p.pad_top, KH, p.H);
			for (int j = j0; j <= j1; j++) {
				s += LD(x[base + uint(i * p.OW + j)]) / float(ch * valid(j, SW, p.pad_left, KW, p.W));
			}
		}
		y[e] = ST(s);
	}
}

void main() {
	if (RUNS == 1u) {
		FOR_EACH_RUN(p.total, { one(e); })
	} else {
		FOR_EACH_STRIDE(p.total, { one(e); })
	}
}
