package kernels

import (
	"fmt"
	"math/bits"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// Pooling: average pooling with explicit (TF "SAME" or ceil-mode) padding
// that divides by the count of valid elements, forward and backward
// (shader pool), and the global mean over H, W (shader pool_global; its
// backward is shader se's broadcast). Activations are NCHW. References:
// ref.AvgPool2D(Backward), ref.GlobalAvgPool(Backward).

// divMagic returns (m, s) with n/d == umulHi(n, m) >> s for every
// n < 2^31 (m == 0 stands for d == 1); include/ws_index.glsl's udiv
// applies it. With l = ceil(log2 d) and m = ceil(2^(31+l) / d) the
// rounding error e = m*d - 2^(31+l) < d <= 2^l, so n*e < 2^(31+l) and the
// quotient is exact (Granlund and Montgomery's round-up method).
func divMagic(d int) (m, s uint32) {
	if d <= 1 {
		return 0, 0
	}
	l := uint(bits.Len(uint(d - 1))) // ceil(log2 d)
	num := uint64(1) << (31 + l)
	return uint32((num + uint64(d) - 1) / uint64(d)), uint32(l - 1)
}

// maxIndex bounds the element indices one dispatch divides (divMagic).
const maxIndex = 1<<31 - 1

// poolChunks splits the planes of a float32 pool into dispatches whose
// inputs and outputs each fit one binding, at aligned offsets.
func (k *Kernels) poolChunks(op string, planes, inPer, outPer int) ([][2]int, error) {
	return k.poolChunksOf(op, planes, inPer, F32, outPer, F32)
}

// poolChunksOf is poolChunks for inputs stored as inType and outputs as outType.
func (k *Kernels) poolChunksOf(op string, planes, inPer int, inType DType, outPer int, outType DType) ([][2]int, error) {
	c, err := k.unitChunk(int64(inType.Size()*inPer), int64(outType.Size()*outPer))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	c = min(c, maxIndex/max(inPer, outPer))
	var out [][2]int
	for p0 := 0; p0 < planes; p0 += c {
		out = append(out, [2]int{p0, min(planes, p0+c)})
	}
	return out, nil
}

// AvgPool2D records y = the mean of each window's valid elements, for x
// [N, C, H, W] and y [N, C, s.OutH(), s.OutW()]. ref.AvgPoolSameShape(n,
// c, h, w, 2, 2) is NFNet's transition pool (timm's AvgPool2d(2, 2,
// ceil_mode=True, count_include_pad=False)).
func (k *Kernels) AvgPool2D(p *engine.Program, s ref.PoolShape, x, y engine.Span) error {
	return k.avgPool(p, F32, s, x, y, false)
}

// AvgPool2DOf is AvgPool2D with x and y stored as d.
func (k *Kernels) AvgPool2DOf(p *engine.Program, d DType, s ref.PoolShape, x, y engine.Span) error {
	return k.avgPool(p, d, s, x, y, false)
}

// AvgPool2DBackward records dx from dy for AvgPool2D of shape s: every
// input gets dy/count from each window that counted it. dx is
// overwritten.
func (k *Kernels) AvgPool2DBackward(p *engine.Program, s ref.PoolShape, dy, dx engine.Span) error {
	return k.avgPool(p, F32, s, dy, dx, true)
}

// AvgPool2DBackwardOf is AvgPool2DBackward with dy and dx stored as d.
func (k *Kernels) AvgPool2DBackwardOf(p *engine.Program, d DType, s ref.PoolShape, dy, dx engine.Span) error {
	return k.avgPool(p, d, s, dy, dx, true)
}

func (k *Kernels) avgPool(p *engine.Program, d DType, s ref.PoolShape, src, dst engine.Span, backward bool) error {
	op := "avgpool2d"
	if backward {
		op = "avgpool2d backward"
	}
	if err := k.checkDType(op, d); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	name := fmt.Sprintf("%s %dx%dx%dx%d k%dx%d s%dx%d pad(%d,%d,%d,%d)", op, s.N, s.C, s.H, s.W, s.KH, s.KW, s.StrideH, s.StrideW,
		s.PadTop, s.PadBottom, s.PadLeft, s.PadRight)
	if s.KH > 64 || s.KW > 64 || s.StrideH > 64 || s.StrideW > 64 {
		return fmt.Errorf("%s: windows and strides above 64 are not supported (they unroll)", name)
	}
	oh, ow := s.OutH(), s.OutW()
	inPer, outPer := s.H*s.W, oh*ow
	srcPer, dstPer := inPer, outPer
	rows, cols := oh, ow // the dst index is split into (plane, row, col)
	if backward {
		srcPer, dstPer = outPer, inPer
		rows, cols = s.H, s.W
	}
	planes := s.N * s.C
	if err := needElemsOf(name, "src", src, planes*srcPer, d); err != nil {
		return err
	}
	if err := needElemsOf(name, "dst", dst, planes*dstPer, d); err != nil {
		return err
	}
	chunks, err := k.poolChunksOf(name, planes, inPer, d, outPer, d)
	if err != nil {
		return err
	}
	if s.KH == 2 && s.KW == 2 && s.StrideH == 2 && s.StrideW == 2 && s.PadTop == 0 && s.PadLeft == 0 && s.W%4 == 0 && oh == ceilDiv(s.H, 2) {
		return k.pool2x2(p, d, name, s, chunks, src, dst, backward)
	}
	pipe, err := k.pipeline(d.variant("pool"), k.tune.ElementwiseLocal, uint32(s.KH), uint32(s.KW), uint32(s.StrideH), uint32(s.StrideW), flagU32(backward), flagU32(k.runs()))
	if err != nil {
		return err
	}
	mc, sc := divMagic(cols)
	mr, sr := divMagic(rows)
	eb := int64(d.Size())
	for _, c := range chunks {
		np := c[1] - c[0]
		total := np * dstPer
		groups := k.streamGroups(4*total, int(k.tune.ElementwiseMaxGroups)) // one invocation per element
		push := pushBuf(nil).i(total).i(s.H).i(s.W).i(oh).i(ow).i(s.PadTop).i(s.PadLeft).u(mc).u(sc).u(mr).u(sr)
		label := name
		if len(chunks) > 1 {
			label = fmt.Sprintf("%s planes [%d:%d]", name, c[0], c[1])
		}
		if err := k.dispatch(p, label, pipe, [3]uint32{uint32(groups), 1, 1}, push,
			src.Sub(eb*int64(c[0]*srcPer), eb*int64(np*srcPer)).Read(), dst.Sub(eb*int64(c[0]*dstPer), eb*int64(total)).Write()); err != nil {
			return err
		}
	}
	return nil
}

// pool2x2 records shader pool2x2, the fast path of NFNet's transition
// pool: every window starts inside the image and rows split into vec4s.
func (k *Kernels) pool2x2(p *engine.Program, d DType, name string, s ref.PoolShape, chunks [][2]int, src, dst engine.Span, backward bool) error {
	pipe, err := k.pipeline(d.variant("pool2x2"), k.tune.ElementwiseLocal, flagU32(backward), flagU32(k.runs()))
	if err != nil {
		return err
	}
	oh, w4 := s.OutH(), s.W/4
	inPer, outPer := s.H*s.W, oh*s.W/2
	srcPer, dstPer := inPer, outPer
	if backward {
		srcPer, dstPer = outPer, inPer
	}
	mw, sw := divMagic(w4)
	mo, so := divMagic(oh)
	eb := int64(d.Size())
	for _, c := range chunks {
		np := c[1] - c[0]
		pairs := np * oh * w4
		groups := k.streamGroups(4*pairs, int(k.tune.ElementwiseMaxGroups)) // one invocation per pair
		label := name
		if len(chunks) > 1 {
			label = fmt.Sprintf("%s planes [%d:%d]", name, c[0], c[1])
		}
		if err := k.dispatch(p, label, pipe, [3]uint32{uint32(groups), 1, 1}, pushBuf(nil).i(pairs).i(s.H).i(w4).i(oh).u(mw).u(sw).u(mo).u(so),
			src.Sub(eb*int64(c[0]*srcPer), eb*int64(np*srcPer)).Read(), dst.Sub(eb*int64(c[0]*dstPer), eb*int64(np*dstPer)).Write()); err != nil {
			return err
		}
	}
	return nil
}

// GlobalAvgPool records y[n, c] = mean over h, w of x[n, c, h, w].
func (k *Kernels) GlobalAvgPool(p *engine.Program, s ref.NCHWShape, x, y engine.Span) error {
	return k.GlobalAvgPoolOf(p, F32, s, x, y)
}

// GlobalAvgPoolOf is GlobalAvgPool with x stored as d (y, one value per
// plane, stays float32).
func (k *Kernels) GlobalAvgPoolOf(p *engine.Program, d DType, s ref.NCHWShape, x, y engine.Span) error {
	return k.planeReduce(p, "global avgpool", d, s, 0, 0, x, x, x, y)
}

// planeReduce records shader pool_global over the N*C planes of s, x
// and dy stored as d.
func (k *Kernels) planeReduce(p *engine.Program, op string, d DType, s ref.NCHWShape, mode uint32, gain float32, x, dy, z, out engine.Span) error {
	if err := k.checkDType(op, d); err != nil {
		return err
	}
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	name := fmt.Sprintf("%s %v", op, s)
	planes, hw := s.N*s.C, s.H*s.W
	act := []spanNeed{{"x", x, s.Len()}}
	need := []spanNeed{{"out", out, planes}}
	if mode == 1 {
		act = append(act, spanNeed{"dy", dy, s.Len()})
		need = append(need, spanNeed{"z", z, planes})
	}
	for _, a := range act {
		if err := needElemsOf(name, a.name, a.s, a.n, d); err != nil {
			return err
		}
	}
	for _, a := range need {
		if err := needElems(name, a.name, a.s, a.n); err != nil {
			return err
		}
	}
	eb := d.Size()
	chunks, err := k.poolChunksOf(name, planes, hw, d, 1, F32)
	if err != nil {
		return err
	}
	pipe, err := k.pipeline(d.variant("pool_global"), k.tune.ElementwiseLocal, mode)
	if err != nil {
		return err
	}
	for _, c := range chunks {
		np := c[1] - c[0]
		xs := x.Sub(int64(eb*c[0]*hw), int64(eb*np*hw)).Read()
		dys, zs := xs, xs
		if mode == 1 {
			dys = dy.Sub(int64(eb*c[0]*hw), int64(eb*np*hw)).Read()
			zs = z.Sub(int64(4*c[0]), int64(4*np)).Read()
		}
		groups := min(ceilDiv(np, int(k.tune.ElementwiseLocal)), int(k.tune.ElementwiseMaxGroups))
		label := name
		if len(chunks) > 1 {
			label = fmt.Sprintf("%s planes [%d:%d]", name, c[0], c[1])
		}
		if err := k.dispatch(p, label, pipe, [3]uint32{uint32(groups), 1, 1}, pushBuf(nil).i(np).i(hw).f(gain),
			xs, dys, zs, out.Sub(int64(4*c[0]), int64(4*np)).Write()); err != nil {
			return err
		}
	}
	return nil
}

// GlobalAvgPoolBackward records dx[n, c, h, w] = dy[n, c] / (H*W).
func (k *Kernels) GlobalAvgPoolBackward(p *engine.Program, s ref.NCHWShape, dy, dx engine.Span) error {
	return k.GlobalAvgPoolBackwardOf(p, F32, s, dy, dx)
}

// GlobalAvgPoolBackwardOf is GlobalAvgPoolBackward with dx stored as d
// (dy, one value per plane, stays float32).
func (k *Kernels) GlobalAvgPoolBackwardOf(p *engine.Program, d DType, s ref.NCHWShape, dy, dx engine.Span) error {
	return k.seBroadcast(p, "global avgpool backward", d, s, false, 0, engine.Span{}, engine.Span{}, dy, dx)
}

// unitChunk is how many units (planes) of the given byte sizes one
// dispatch binds: as many as fit maxStorageBufferRange for the largest, a
// multiple of what keeps every chunk's offset aligned for all.
func (k *Kernels) unitChunk(unitBytes ...int64) (int, error) {
	lim := int64(k.dev.Info().MaxStorageBufferRange)
	align := int64(max(k.dev.Info().MinStorageBufferOffsetAlignment, 4))
	step, big := int64(1), int64(1)
	for _, b := range unitBytes {
		st := align / gcd(b, align) // c units start aligned iff st divides c
		step = step / gcd(step, st) * st
		big = max(big, b)
	}
	c := lim / big / step * step
	if c == 0 {
		return 0, fmt.Errorf("units of %v bytes cannot be split into aligned bindings of at most %d bytes", unitBytes, lim)
	}
	return int(min(c, maxIndex)), nil
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
