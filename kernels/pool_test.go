package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// TestDivMagic checks the multiply-high division against / for divisors
// up to 2^20 and the largest, at the edges and random n < 2^31.
func TestDivMagic(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	divs := []int{1, 2, 3, 5, 7, 9, 13, 36, 49, 64, 255, 256, 257, 2304, 65535, 65536, 1<<20 + 1, 1<<31 - 1}
	for i := 0; i < 200; i++ {
		divs = append(divs, 1+r.IntN(1<<20))
	}
	for _, d := range divs {
		m, s := divMagic(d)
		ns := []uint32{0, 1, uint32(d - 1), uint32(d), uint32(d + 1), maxIndex, maxIndex - 1, uint32(maxIndex / d * d), uint32(maxIndex/d*d - 1)}
		for i := 0; i < 2000; i++ {
			ns = append(ns, r.Uint32()>>1)
		}
		for _, n := range ns {
			got := n
			if m != 0 {
				got = uint32((uint64(n)*uint64(m))>>32) >> s
			}
			if got != n/uint32(d) {
				t.Fatalf("d %d (m %#x s %d): n %d -> %d, want %d", d, m, s, n, got, n/uint32(d))
			}
		}
	}
}

func TestAvgPool2D(t *testing.T) {
	d, k0 := testDevice(t)
	// The CPU tuning's streaming runs and the GPUs' interleaved lanes.
	for vname, k := range tuningVariants(d, k0) {
		t.Run(vname, func(t *testing.T) { testAvgPool2D(t, d, k) })
	}
}

func testAvgPool2D(t *testing.T, d *engine.Device, k *Kernels) {
	var shapes []ref.PoolShape
	for _, hw := range [][2]int{{1, 1}, {2, 2}, {3, 3}, {7, 7}, {8, 8}, {9, 13}, {13, 9}, {16, 17}, {9, 12}, {4, 4}, {13, 20}} {
		for _, nc := range [][2]int{{1, 1}, {3, 7}, {2, 13}} {
			shapes = append(shapes, ref.AvgPoolSameShape(nc[0], nc[1], hw[0], hw[1], 2, 2),
				ref.CeilModePoolShape(nc[0], nc[1], hw[0], hw[1], 2, 2))
		}
		// General windows: 3x3 stride 2 SAME, 3x3 stride 1 pad 1.
		shapes = append(shapes, ref.AvgPoolSameShape(2, 3, hw[0], hw[1], 3, 2),
			ref.PoolShape{N: 2, C: 3, H: hw[0], W: hw[1], KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1})
	}
	for _, dt := range storageTypes {
		up, down := storageIO(dt)
		for _, s := range shapes {
			t.Run(fmt.Sprintf("%v/%dx%dx%dx%d/k%d/s%d/pad%d%d%d%d", dt, s.N, s.C, s.H, s.W, s.KH, s.StrideH, s.PadTop, s.PadBottom, s.PadLeft, s.PadRight), func(t *testing.T) {
				testAvgPool2DOf(t, d, k, dt, s, up, down)
			})
		}
	}
}

// testAvgPool2DOf checks one shape in the variant storing dt (its inputs
// are dt values; the float16 store adds one rounding, storageTol).
func testAvgPool2DOf(t *testing.T, d *engine.Device, k *Kernels, dt DType, s ref.PoolShape,
	up func(*testing.T, *engine.Device, []float32) *engine.Buffer, down func(*testing.T, *engine.Buffer) []float32) {
	x := storageInputs(dt, randn(uint64(s.XLen()), s.XLen(), 1))
	dy := storageInputs(dt, randn(uint64(s.YLen())+9, s.YLen(), 1))
	bx, bdy := up(t, d, x), up(t, d, dy)
	by, bdx := up(t, d, nans(s.YLen())), up(t, d, nans(s.XLen()))
	runProgram(t, k, func(p *engine.Program) error {
		if err := k.AvgPool2DOf(p, dt, s, bx.Span(), by.Span()); err != nil {
			return err
		}
		return k.AvgPool2DBackwardOf(p, dt, s, bdy.Span(), bdx.Span())
	})
	y, dx := make([]float64, s.YLen()), make([]float64, s.XLen())
	ref.AvgPool2D(s, to64(x), y)
	ref.AvgPool2DBackward(s, to64(dy), dx)
	// At most KH*KW fp32 adds then one division: (KH*KW+1)
	// roundings of the sum of |terms| (<= KH*KW*max|x|), plus
	// the reference's float32 rounding; absolute, since sums of
	// opposite signs cancel.
	u := math.Pow(2, -24)
	kk := float64(s.KH * s.KW)
	yAtol, yRtol := storageTol(dt, (kk+2)*u*kk*maxAbs(x), u)
	assertClose(t, "y", down(t, by), to32(y), yAtol, yRtol)
	dxAtol, dxRtol := storageTol(dt, (kk+2)*u*kk*maxAbs(dy), u)
	assertClose(t, "dx", down(t, bdx), to32(dx), dxAtol, dxRtol)
}

func maxAbs(v []float32) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, math.Abs(float64(x)))
	}
	return m
}

func TestGlobalAvgPool(t *testing.T) {
	d, k0 := testDevice(t)
	// The CPU tuning's streaming runs and the GPUs' interleaved lanes.
	for vname, k := range tuningVariants(d, k0) {
		t.Run(vname, func(t *testing.T) { testGlobalAvgPool(t, d, k) })
	}
}

// testGlobalAvgPool runs both storage variants: the float16 one reads x
// and writes dx as float16 (the per-plane mean and its gradient stay
// float32), so only dx gains the float16 store's rounding.
func testGlobalAvgPool(t *testing.T, d *engine.Device, k *Kernels) {
	for _, dt := range storageTypes {
		up, down := storageIO(dt)
		for _, s := range nchwShapes {
			t.Run(fmt.Sprintf("%v/%dx%dx%dx%d", dt, s.N, s.C, s.H, s.W), func(t *testing.T) {
				x := storageInputs(dt, randn(uint64(s.Len()), s.Len(), 1))
				dy := randn(uint64(s.Len())+1, s.N*s.C, 1)
				bx, bdy := up(t, d, x), upload(t, d, dy)
				by, bdx := upload(t, d, nans(s.N*s.C)), up(t, d, nans(s.Len()))
				runProgram(t, k, func(p *engine.Program) error {
					if err := k.GlobalAvgPoolOf(p, dt, s, bx.Span(), by.Span()); err != nil {
						return err
					}
					return k.GlobalAvgPoolBackwardOf(p, dt, s, bdy.Span(), bdx.Span())
				})
				y, dx := make([]float64, s.N*s.C), make([]float64, s.Len())
				ref.GlobalAvgPool(s, to64(x), y)
				ref.GlobalAvgPoolBackward(s, to64(dy), dx)
				// A sequential fp32 sum of HW/4 vec4 terms, then 3 adds and
				// a division: (HW/4 + 5) roundings of max|x| (the mean of
				// terms of either sign has no relative bound). dx = dy*(1/HW):
				// two roundings plus the reference's.
				u := math.Pow(2, -24)
				hw := float64(s.H * s.W)
				assertClose(t, "mean", download(t, by), to32(y), (hw/4+5)*u*maxAbs(x), u)
				dxAtol, dxRtol := storageTol(dt, 0, 3*u)
				assertClose(t, "mean backward", down(t, bdx), to32(dx), dxAtol, dxRtol)
			})
		}
	}
}

func TestPoolRejectsBadShapes(t *testing.T) {
	d, k := testDevice(t)
	a, b := upload(t, d, make([]float32, 16)), upload(t, d, make([]float32, 3))
	p := d.NewProgram("bad", engine.ProgramOptions{})
	defer p.Close()
	for name, err := range map[string]error{
		"zero N":          k.AvgPool2D(p, ref.AvgPoolSameShape(0, 1, 4, 4, 2, 2), a.Span(), a.Span()),
		"negative pad":    k.AvgPool2D(p, ref.PoolShape{N: 1, C: 1, H: 4, W: 4, KH: 2, KW: 2, StrideH: 2, StrideW: 2, PadTop: -1}, a.Span(), a.Span()),
		"pad >= kernel":   k.AvgPool2D(p, ref.PoolShape{N: 1, C: 1, H: 4, W: 4, KH: 2, KW: 2, StrideH: 2, StrideW: 2, PadTop: 2}, a.Span(), a.Span()),
		"y too small":     k.AvgPool2D(p, ref.AvgPoolSameShape(1, 1, 4, 4, 2, 2), a.Span(), b.Span()),
		"dx too small":    k.AvgPool2DBackward(p, ref.AvgPoolSameShape(1, 1, 4, 4, 2, 2), a.Span(), b.Span()),
		"zero stride":     k.AvgPool2D(p, ref.PoolShape{N: 1, C: 1, H: 4, W: 4, KH: 2, KW: 2}, a.Span(), a.Span()),
		"global x small":  k.GlobalAvgPool(p, ref.NCHWShape{N: 1, C: 2, H: 3, W: 3}, a.Span(), b.Span()),
		"global y small":  k.GlobalAvgPool(p, ref.NCHWShape{N: 2, C: 2, H: 2, W: 2}, a.Span(), b.Span()),
		"global bwd zero": k.GlobalAvgPoolBackward(p, ref.NCHWShape{N: 1, C: 1, H: 0, W: 2}, b.Span(), a.Span()),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if p.Len() != 0 {
		t.Errorf("%d dispatches recorded from rejected calls", p.Len())
	}
}
