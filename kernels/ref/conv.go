package ref

import "fmt"

// Conv2DShape describes a grouped 2-D convolution of an NCHW input
// x[N, C, H, W] with OIHW weights w[O, C/Groups, KH, KW] into
// y[N, O, OutH(), OutW()], with stride and explicit, possibly asymmetric,
// zero padding. Groups = 1 is a dense convolution, Groups = C = O depthwise.
type Conv2DShape struct {
	N, C, H, W                           int
	O, KH, KW                            int
	StrideH, StrideW                     int
	PadTop, PadBottom, PadLeft, PadRight int
	Groups                               int
}

// SamePadding returns TF "SAME" padding for one spatial dimension of size in,
// kernel k and stride s: total = max((ceil(in/s)-1)*s + k - in, 0), of which
// total/2 goes before (top/left) and the rest after (bottom/right). The
// output size is then ceil(in/s).
func SamePadding(in, k, s int) (before, after int) {
	total := (ceilDiv(in, s)-1)*s + k - in
	if total < 0 {
		total = 0
	}
	return total / 2, total - total/2
}

// SameConv2DShape is the shape of a square k x k convolution with stride s
// and TF "SAME" padding in both spatial dimensions.
func SameConv2DShape(n, c, h, w, o, k, s, groups int) Conv2DShape {
	pt, pb := SamePadding(h, k, s)
	pl, pr := SamePadding(w, k, s)
	return Conv2DShape{N: n, C: c, H: h, W: w, O: o, KH: k, KW: k,
		StrideH: s, StrideW: s, PadTop: pt, PadBottom: pb, PadLeft: pl, PadRight: pr,
		Groups: groups}
}

// OutH is floor((H + PadTop + PadBottom - KH) / StrideH) + 1.
func (s Conv2DShape) OutH() int { return floorDiv(s.H+s.PadTop+s.PadBottom-s.KH, s.StrideH) + 1 }

// OutW is floor((W + PadLeft + PadRight - KW) / StrideW) + 1.
func (s Conv2DShape) OutW() int { return floorDiv(s.W+s.PadLeft+s.PadRight-s.KW, s.StrideW) + 1 }

// MACs is the number of multiply-accumulates of the forward pass:
// N * O * OutH * OutW * (C/Groups) * KH * KW.
func (s Conv2DShape) MACs() int64 {
	return int64(s.N) * int64(s.O) * int64(s.OutH()) * int64(s.OutW()) *
		int64(s.C/s.Groups) * int64(s.KH) * int64(s.KW)
}

// XLen is the length of the input, N*C*H*W.
func (s Conv2DShape) XLen() int { return s.N * s.C * s.H * s.W }

// WLen is the length of the weights, O*(C/Groups)*KH*KW.
func (s Conv2DShape) WLen() int { return s.O * (s.C / s.Groups) * s.KH * s.KW }

// YLen is the length of the output, N*O*OutH*OutW.
func (s Conv2DShape) YLen() int { return s.N * s.O * s.OutH() * s.OutW() }

// Validate rejects non-positive sizes, strides or group counts, negative
// padding, channel counts not divisible by Groups, and shapes whose output
// would be empty.
func (s Conv2DShape) Validate() error {
	bad := func(why string) error { return fmt.Errorf("conv2d: %s: %+v", why, s) }
	switch {
	case s.N <= 0 || s.C <= 0 || s.H <= 0 || s.W <= 0:
		return bad("input sizes N, C, H, W must be positive")
	case s.O <= 0 || s.KH <= 0 || s.KW <= 0:
		return bad("output channels and kernel sizes must be positive")
	case s.StrideH <= 0 || s.StrideW <= 0:
		return bad("strides must be positive")
	case s.PadTop < 0 || s.PadBottom < 0 || s.PadLeft < 0 || s.PadRight < 0:
		return bad("padding must not be negative")
	case s.Groups <= 0:
		return bad("groups must be positive")
	case s.C%s.Groups != 0:
		return bad(fmt.Sprintf("input channels %d not divisible by groups %d", s.C, s.Groups))
	case s.O%s.Groups != 0:
		return bad(fmt.Sprintf("output channels %d not divisible by groups %d", s.O, s.Groups))
	case s.OutH() <= 0 || s.OutW() <= 0:
		return bad(fmt.Sprintf("output size %dx%d is empty", s.OutH(), s.OutW()))
	}
	return nil
}

// validRange returns the outputs [lo, hi) along one spatial dimension whose
// tap at kernel offset k reads an input position i = out*stride - pad + k
// inside [0, in).
func validRange(outN, stride, pad, k, in int) (lo, hi int) {
	lo = max(0, ceilDiv(pad-k, stride))
	hi = min(outN, ceilDiv(in+pad-k, stride))
	return lo, max(lo, hi)
}

// taps visits the taps of output channel o of sample n. For each (c, kh,
// kw) it calls f once with the index wi of w[o, c, kh, kw] and the block of
// outputs that tap reads an in-image input for: rows output rows of count
// outputs each. yi is the index of the first output, y[n, o, oh0, ow0], and
// xi the index of the input it reads, x[n, g*C/Groups+c, ih0, iw0]; output
// yi + r*OutW + j reads input xi + r*StrideH*W + j*StrideW, for r in
// [0, rows) and j in [0, count). Taps that fall into the zero padding are
// skipped.
func (s Conv2DShape) taps(n, o int, f func(wi, xi, yi, rows, count int)) {
	cg, og := s.C/s.Groups, s.O/s.Groups
	oh, ow := s.OutH(), s.OutW()
	g := o / og
	yPlane := (n*s.O + o) * oh * ow
	for c := 0; c < cg; c++ {
		xPlane := (n*s.C + g*cg + c) * s.H * s.W
		for kh := 0; kh < s.KH; kh++ {
			hLo, hHi := validRange(oh, s.StrideH, s.PadTop, kh, s.H)
			for kw := 0; kw < s.KW; kw++ {
				wLo, wHi := validRange(ow, s.StrideW, s.PadLeft, kw, s.W)
				if hLo == hHi || wLo == wHi {
					continue
				}
				wi := ((o*cg+c)*s.KH+kh)*s.KW + kw
				ih := hLo*s.StrideH - s.PadTop + kh
				iw := wLo*s.StrideW - s.PadLeft + kw
				f(wi, xPlane+ih*s.W+iw, yPlane+hLo*ow+wLo, hHi-hLo, wHi-wLo)
			}
		}
	}
}

// Conv2D computes y[n,o,oh,ow] = bias[o] + sum over c in o's group, kh, kw of
// w[o,c,kh,kw] * x[n, g*C/Groups+c, oh*StrideH-PadTop+kh, ow*StrideW-PadLeft+kw],
// with zeros outside the image. bias may be nil (no bias).
func Conv2D[T Float](s Conv2DShape, x, w, bias, y []T) {
	mustValidate(s)
	checkLen("conv2d", "x", len(x), s.XLen())
	checkLen("conv2d", "w", len(w), s.WLen())
	checkLen("conv2d", "y", len(y), s.YLen())
	acc := make([]float64, s.YLen())
	if bias != nil {
		checkLen("conv2d", "bias", len(bias), s.O)
		plane := s.OutH() * s.OutW()
		for i := range acc {
			acc[i] = float64(bias[(i/plane)%s.O])
		}
	}
	xf, wf := toF64(x), toF64(w)
	xRow, yRow, sw := s.StrideH*s.W, s.OutW(), s.StrideW
	// Every (n, o) pair writes only its own output plane.
	parallelFor(s.N*s.O, func(p int) {
		s.taps(p/s.O, p%s.O, func(wi, xi, yi, rows, count int) {
			wv := wf[wi]
			for r := 0; r < rows; r++ {
				ys := acc[yi+r*yRow : yi+r*yRow+count]
				x0 := xi + r*xRow
				if sw == 1 {
					xs := xf[x0 : x0+count]
					for j := range ys {
						ys[j] += wv * xs[j]
					}
					continue
				}
				for j := range ys {
					ys[j] += wv * xf[x0+j*sw]
				}
			}
		})
	})
	storeT(y, acc)
}

// Conv2DBackwardData computes dx = dL/dx from dy = dL/dy: the transposed
// convolution, dx[n, c, ih, iw] = sum of w[o,c',kh,kw] * dy[n,o,oh,ow] over
// every tap that read x[n, c, ih, iw] in Conv2D.
func Conv2DBackwardData[T Float](s Conv2DShape, dy, w, dx []T) {
	mustValidate(s)
	checkLen("conv2d backward data", "dy", len(dy), s.YLen())
	checkLen("conv2d backward data", "w", len(w), s.WLen())
	checkLen("conv2d backward data", "dx", len(dx), s.XLen())
	acc := make([]float64, s.XLen())
	dyf, wf := toF64(dy), toF64(w)
	xRow, yRow, sw := s.StrideH*s.W, s.OutW(), s.StrideW
	// Sample n writes only dx[n]; its output channels run in order.
	parallelFor(s.N, func(n int) {
		for o := 0; o < s.O; o++ {
			s.taps(n, o, func(wi, xi, yi, rows, count int) {
				wv := wf[wi]
				for r := 0; r < rows; r++ {
					ds := dyf[yi+r*yRow : yi+r*yRow+count]
					x0 := xi + r*xRow
					if sw == 1 {
						xs := acc[x0 : x0+count]
						for j := range ds {
							xs[j] += wv * ds[j]
						}
						continue
					}
					for j := range ds {
						acc[x0+j*sw] += wv * ds[j]
					}
				}
			})
		}
	})
	storeT(dx, acc)
}

// Conv2DBackwardFilter computes dw = dL/dw from the input x and dy = dL/dy:
// dw[o,c,kh,kw] = sum over n, oh, ow of dy[n,o,oh,ow] * x[n, g*C/Groups+c,
// oh*StrideH-PadTop+kh, ow*StrideW-PadLeft+kw].
func Conv2DBackwardFilter[T Float](s Conv2DShape, x, dy, dw []T) {
	mustValidate(s)
	checkLen("conv2d backward filter", "x", len(x), s.XLen())
	checkLen("conv2d backward filter", "dy", len(dy), s.YLen())
	checkLen("conv2d backward filter", "dw", len(dw), s.WLen())
	acc := make([]float64, s.WLen())
	xf, dyf := toF64(x), toF64(dy)
	xRow, yRow, sw := s.StrideH*s.W, s.OutW(), s.StrideW
	// Output channel o writes only dw[o]; its samples run in order.
	parallelFor(s.O, func(o int) {
		for n := 0; n < s.N; n++ {
			s.taps(n, o, func(wi, xi, yi, rows, count int) {
				sum := 0.0
				for r := 0; r < rows; r++ {
					ds := dyf[yi+r*yRow : yi+r*yRow+count]
					x0 := xi + r*xRow
					if sw == 1 {
						sum += dot64(ds, xf[x0:x0+count])
						continue
					}
					for j := range ds {
						sum += ds[j] * xf[x0+j*sw]
					}
				}
				acc[wi] += sum
			})
		}
	})
	storeT(dw, acc)
}

// Conv2DBackwardBias computes db[o] = sum over n, oh, ow of dy[n,o,oh,ow].
func Conv2DBackwardBias[T Float](s Conv2DShape, dy, db []T) {
	mustValidate(s)
	checkLen("conv2d backward bias", "dy", len(dy), s.YLen())
	checkLen("conv2d backward bias", "db", len(db), s.O)
	plane := s.OutH() * s.OutW()
	for o := 0; o < s.O; o++ {
		sum := 0.0
		for n := 0; n < s.N; n++ {
			for _, v := range dy[(n*s.O+o)*plane : (n*s.O+o+1)*plane] {
				sum += float64(v)
			}
		}
		db[o] = T(sum)
	}
}

// dot64 returns sum(a[i]*b[i]) over len(a) <= len(b) elements, with four
// partial sums so that the adds do not wait on each other.
func dot64(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}
