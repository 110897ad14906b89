package ref

import "fmt"

// PoolShape describes average pooling of x[N, C, H, W] with a KH x KW window,
// stride and explicit, possibly asymmetric, padding, into
// y[N, C, OutH(), OutW()]. Padded positions are not counted: every output is
// the sum of the window's valid (in-image) elements divided by their count,
// as PyTorch's count_include_pad=False.
type PoolShape struct {
	N, C, H, W                           int
	KH, KW                               int
	StrideH, StrideW                     int
	PadTop, PadBottom, PadLeft, PadRight int
}

// AvgPoolSameShape is the shape of a k x k average pool with stride s and TF
// "SAME" padding (SamePadding). For k = s = 2 (NFNet's transition shortcut)
// this is exactly timm's AvgPool2d(2, 2, ceil_mode=True,
// count_include_pad=False): output ceil(H/2), an odd last row/column
// averaged over its single valid element pair.
func AvgPoolSameShape(n, c, h, w, k, s int) PoolShape {
	pt, pb := SamePadding(h, k, s)
	pl, pr := SamePadding(w, k, s)
	return PoolShape{N: n, C: c, H: h, W: w, KH: k, KW: k, StrideH: s, StrideW: s,
		PadTop: pt, PadBottom: pb, PadLeft: pl, PadRight: pr}
}

// ceilModeSize returns PyTorch's ceil_mode output size of an unpadded pool
// and the padding after that it implies.
func ceilModeSize(in, k, s int) (out, after int) {
	out = ceilDiv(in-k, s) + 1
	if (out-1)*s >= in { // the last window must start inside the input
		out--
	}
	return out, max(0, (out-1)*s+k-in)
}

// CeilModePoolShape is the shape of PyTorch's AvgPool2d(k, s, padding=0,
// ceil_mode=True, count_include_pad=False): windows that run off the bottom
// or right edge are kept and averaged over their valid elements.
func CeilModePoolShape(n, c, h, w, k, s int) PoolShape {
	_, pb := ceilModeSize(h, k, s)
	_, pr := ceilModeSize(w, k, s)
	return PoolShape{N: n, C: c, H: h, W: w, KH: k, KW: k, StrideH: s, StrideW: s,
		PadBottom: pb, PadRight: pr}
}

// OutH is floor((H + PadTop + PadBottom - KH) / StrideH) + 1.
func (s PoolShape) OutH() int { return floorDiv(s.H+s.PadTop+s.PadBottom-s.KH, s.StrideH) + 1 }

// OutW is floor((W + PadLeft + PadRight - KW) / StrideW) + 1.
func (s PoolShape) OutW() int { return floorDiv(s.W+s.PadLeft+s.PadRight-s.KW, s.StrideW) + 1 }

// XLen is N*C*H*W.
func (s PoolShape) XLen() int { return s.N * s.C * s.H * s.W }

// YLen is N*C*OutH*OutW.
func (s PoolShape) YLen() int { return s.N * s.C * s.OutH() * s.OutW() }

// Validate rejects non-positive sizes or strides, negative padding, an
// empty output, and padding of a whole kernel size or more on any side
// (which would make a window with no valid element).
func (s PoolShape) Validate() error {
	bad := func(why string) error { return fmt.Errorf("avgpool2d: %s: %+v", why, s) }
	switch {
	case s.N <= 0 || s.C <= 0 || s.H <= 0 || s.W <= 0:
		return bad("input sizes N, C, H, W must be positive")
	case s.KH <= 0 || s.KW <= 0:
		return bad("kernel sizes must be positive")
	case s.StrideH <= 0 || s.StrideW <= 0:
		return bad("strides must be positive")
	case s.PadTop < 0 || s.PadBottom < 0 || s.PadLeft < 0 || s.PadRight < 0:
		return bad("padding must not be negative")
	case s.PadTop >= s.KH || s.PadBottom >= s.KH || s.PadLeft >= s.KW || s.PadRight >= s.KW:
		return bad("padding must be smaller than the kernel")
	case s.OutH() <= 0 || s.OutW() <= 0:
		return bad(fmt.Sprintf("output size %dx%d is empty", s.OutH(), s.OutW()))
	}
	return nil
}

// window returns the valid input range [lo, hi) of output position out.
func window(out, stride, pad, k, in int) (lo, hi int) {
	start := out*stride - pad
	return max(start, 0), min(start+k, in)
}

// AvgPool2D computes y = the mean of each window's valid elements.
func AvgPool2D[T Float](s PoolShape, x, y []T) {
	mustValidate(s)
	checkLen("avgpool2d", "x", len(x), s.XLen())
	checkLen("avgpool2d", "y", len(y), s.YLen())
	oh, ow := s.OutH(), s.OutW()
	for p := 0; p < s.N*s.C; p++ {
		xp, yp := x[p*s.H*s.W:(p+1)*s.H*s.W], y[p*oh*ow:(p+1)*oh*ow]
		for i := 0; i < oh; i++ {
			h0, h1 := window(i, s.StrideH, s.PadTop, s.KH, s.H)
			for j := 0; j < ow; j++ {
				w0, w1 := window(j, s.StrideW, s.PadLeft, s.KW, s.W)
				sum := 0.0
				for h := h0; h < h1; h++ {
					for w := w0; w < w1; w++ {
						sum += float64(xp[h*s.W+w])
					}
				}
				yp[i*ow+j] = T(sum / float64((h1-h0)*(w1-w0)))
			}
		}
	}
}

// AvgPool2DBackward computes dx: every input gets dy/count from each window
// that counted it.
func AvgPool2DBackward[T Float](s PoolShape, dy, dx []T) {
	mustValidate(s)
	checkLen("avgpool2d backward", "dy", len(dy), s.YLen())
	checkLen("avgpool2d backward", "dx", len(dx), s.XLen())
	oh, ow := s.OutH(), s.OutW()
	acc := make([]float64, s.H*s.W)
	for p := 0; p < s.N*s.C; p++ {
		clear(acc)
		dyp := dy[p*oh*ow : (p+1)*oh*ow]
		for i := 0; i < oh; i++ {
			h0, h1 := window(i, s.StrideH, s.PadTop, s.KH, s.H)
			for j := 0; j < ow; j++ {
				w0, w1 := window(j, s.StrideW, s.PadLeft, s.KW, s.W)
				g := float64(dyp[i*ow+j]) / float64((h1-h0)*(w1-w0))
				for h := h0; h < h1; h++ {
					for w := w0; w < w1; w++ {
						acc[h*s.W+w] += g
					}
				}
			}
		}
		storeT(dx[p*s.H*s.W:(p+1)*s.H*s.W], acc)
	}
}

// GlobalAvgPool computes y[n, c] = mean over h, w of x[n, c, h, w].
func GlobalAvgPool[T Float](s NCHWShape, x, y []T) {
	mustValidateOp("global avgpool", s)
	checkLen("global avgpool", "x", len(x), s.Len())
	checkLen("global avgpool", "y", len(y), s.N*s.C)
	hw := s.H * s.W
	for p := range y {
		sum := 0.0
		for _, v := range x[p*hw : (p+1)*hw] {
			sum += float64(v)
		}
		y[p] = T(sum / float64(hw))
	}
}

// GlobalAvgPoolBackward computes dx[n, c, h, w] = dy[n, c] / (H*W).
func GlobalAvgPoolBackward[T Float](s NCHWShape, dy, dx []T) {
	mustValidateOp("global avgpool backward", s)
	checkLen("global avgpool backward", "dy", len(dy), s.N*s.C)
	checkLen("global avgpool backward", "dx", len(dx), s.Len())
	hw := s.H * s.W
	for p, g := range dy {
		v := T(float64(g) / float64(hw))
		for i := range dx[p*hw : (p+1)*hw] {
			dx[p*hw+i] = v
		}
	}
}
