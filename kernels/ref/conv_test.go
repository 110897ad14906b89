package ref

import (
	"fmt"
	"testing"
)

// convTable covers odd and even sizes, channel counts that are not multiples
// of 4 or 8, groups 1, 2, 8 and depthwise (with and without a channel
// multiplier), strides 1, 2 and 3, batch 1 and > 1, kernels 1, 3, 5, 7 and
// non-square, symmetric, asymmetric SAME and arbitrary explicit padding.
var convTable = []struct {
	name string
	s    Conv2DShape
}{
	{"1x1 on 1x1", Conv2DShape{N: 1, C: 1, H: 1, W: 1, O: 1, KH: 1, KW: 1, StrideH: 1, StrideW: 1, Groups: 1}},
	{"3x3 s1 pad1 7x9", Conv2DShape{N: 2, C: 3, H: 7, W: 9, O: 5, KH: 3, KW: 3, StrideH: 1, StrideW: 1,
		PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, Groups: 1}},
	{"stem 3x3 s2 SAME even", SameConv2DShape(2, 3, 16, 16, 16, 3, 2, 1)},
	{"3x3 s2 SAME odd 13x7 g2", SameConv2DShape(3, 6, 13, 7, 4, 3, 2, 2)},
	{"3x3 s2 SAME even 8x10 depthwise", SameConv2DShape(2, 8, 8, 10, 8, 3, 2, 8)},
	{"3x3 s1 SAME 9x9 g8", SameConv2DShape(1, 16, 9, 9, 24, 3, 1, 8)},
	{"3x3 s1 SAME 1x1 input", SameConv2DShape(2, 3, 1, 1, 2, 3, 1, 1)},
	{"3x3 s2 SAME 1x3 input", SameConv2DShape(1, 2, 1, 3, 3, 3, 2, 1)},
	{"1x1 s1 13x13", SameConv2DShape(2, 5, 13, 13, 7, 1, 1, 1)},
	{"1x1 s2 9x8", SameConv2DShape(2, 6, 9, 8, 10, 1, 2, 1)},
	{"7x7 s2 SAME 13x9", SameConv2DShape(2, 3, 13, 9, 4, 7, 2, 1)},
	{"5x5 s2 depthwise x2 6x7", SameConv2DShape(2, 4, 6, 7, 8, 5, 2, 4)},
	{"5x5 s1 on 3x3", SameConv2DShape(1, 2, 3, 3, 2, 5, 1, 1)},
	{"3x3 s3 12x12 g2", SameConv2DShape(2, 4, 12, 12, 4, 3, 3, 2)},
	{"3x1 s(2,1) explicit asym g3", Conv2DShape{N: 1, C: 3, H: 9, W: 13, O: 6, KH: 3, KW: 1, StrideH: 2, StrideW: 1,
		PadTop: 2, PadBottom: 0, PadLeft: 1, PadRight: 3, Groups: 3}},
	{"2x4 s(1,2) explicit asym", Conv2DShape{N: 3, C: 5, H: 6, W: 11, O: 3, KH: 2, KW: 4, StrideH: 1, StrideW: 2,
		PadTop: 0, PadBottom: 3, PadLeft: 2, PadRight: 0, Groups: 1}},
}

func TestSamePadding(t *testing.T) {
	cases := []struct{ in, k, s, before, after int }{
		{8, 3, 2, 0, 1}, {7, 3, 2, 1, 1}, {9, 3, 1, 1, 1}, {10, 3, 1, 1, 1},
		{1, 3, 2, 1, 1}, {2, 3, 2, 0, 1}, {4, 1, 2, 0, 0}, {5, 1, 2, 0, 0},
		{5, 2, 2, 0, 1}, {6, 2, 2, 0, 0}, {13, 7, 2, 3, 3}, {12, 7, 2, 2, 3},
		{224, 3, 2, 0, 1}, {3, 5, 1, 2, 2}, {12, 3, 3, 0, 0}, {13, 3, 3, 1, 1},
	}
	for _, c := range cases {
		b, a := SamePadding(c.in, c.k, c.s)
		if b != c.before || a != c.after {
			t.Errorf("SamePadding(%d, %d, %d) = (%d, %d), want (%d, %d)", c.in, c.k, c.s, b, a, c.before, c.after)
		}
	}
	// SAME output size is ceil(in/s).
	for in := 1; in <= 20; in++ {
		for k := 1; k <= 7; k++ {
			for s := 1; s <= 3; s++ {
				sh := SameConv2DShape(1, 1, in, in, 1, k, s, 1)
				if got, want := sh.OutH(), (in+s-1)/s; got != want || sh.OutW() != want {
					t.Errorf("SAME in %d k %d s %d: out %dx%d, want %d", in, k, s, got, sh.OutW(), want)
				}
			}
		}
	}
}

func TestConv2DMACs(t *testing.T) {
	// NFNet-F0 stem conv1 at 256 px: 3 -> 16, 3x3, stride 2, 128x128 output.
	s := SameConv2DShape(1, 3, 256, 256, 16, 3, 2, 1)
	if got, want := s.MACs(), int64(16*128*128*3*9); got != want {
		t.Errorf("stem MACs = %d, want %d", got, want)
	}
	// A grouped 3x3: 256 -> 256, group width 128, 16x16, batch 2.
	s = SameConv2DShape(2, 256, 16, 16, 256, 3, 1, 2)
	if got, want := s.MACs(), int64(2*256*16*16*128*9); got != want {
		t.Errorf("grouped MACs = %d, want %d", got, want)
	}
}

// im2col writes the patches of sample n, group g: col[(c*KH+kh)*KW+kw, oh*OutW+ow]
// = x[n, g*C/Groups+c, oh*StrideH-PadTop+kh, ow*StrideW-PadLeft+kw] (0 outside).
func im2col(s Conv2DShape, x []float64, n, g int) []float64 {
	cg, oh, ow := s.C/s.Groups, s.OutH(), s.OutW()
	col := make([]float64, cg*s.KH*s.KW*oh*ow)
	for c := 0; c < cg; c++ {
		for kh := 0; kh < s.KH; kh++ {
			for kw := 0; kw < s.KW; kw++ {
				row := (c*s.KH+kh)*s.KW + kw
				for i := 0; i < oh; i++ {
					for j := 0; j < ow; j++ {
						ih, iw := i*s.StrideH-s.PadTop+kh, j*s.StrideW-s.PadLeft+kw
						if ih >= 0 && ih < s.H && iw >= 0 && iw < s.W {
							col[row*oh*ow+i*ow+j] = x[((n*s.C+g*cg+c)*s.H+ih)*s.W+iw]
						}
					}
				}
			}
		}
	}
	return col
}

// col2imAdd is the adjoint of im2col: it adds col's entries back into dx.
func col2imAdd(s Conv2DShape, col, dx []float64, n, g int) {
	cg, oh, ow := s.C/s.Groups, s.OutH(), s.OutW()
	for c := 0; c < cg; c++ {
		for kh := 0; kh < s.KH; kh++ {
			for kw := 0; kw < s.KW; kw++ {
				row := (c*s.KH+kh)*s.KW + kw
				for i := 0; i < oh; i++ {
					for j := 0; j < ow; j++ {
						ih, iw := i*s.StrideH-s.PadTop+kh, j*s.StrideW-s.PadLeft+kw
						if ih >= 0 && ih < s.H && iw >= 0 && iw < s.W {
							dx[((n*s.C+g*cg+c)*s.H+ih)*s.W+iw] += col[row*oh*ow+i*ow+j]
						}
					}
				}
			}
		}
	}
}

// convGEMM computes forward, backward-data and backward-filter through
// im2col and GEMM, the second, independent formulation: per sample and
// group, Y_g = W_g * col, dcol = W_g^T * dY_g, dW_g += dY_g * col^T.
func convGEMM(s Conv2DShape, x, w, bias, dy []float64) (y, dx, dw []float64) {
	cg, og, p := s.C/s.Groups, s.O/s.Groups, s.OutH()*s.OutW()
	kk := cg * s.KH * s.KW
	y, dx, dw = make([]float64, s.YLen()), make([]float64, s.XLen()), make([]float64, s.WLen())
	for n := 0; n < s.N; n++ {
		for g := 0; g < s.Groups; g++ {
			col := im2col(s, x, n, g)
			wg := w[g*og*kk : (g+1)*og*kk]
			yg := y[(n*s.O+g*og)*p : (n*s.O+(g+1)*og)*p]
			dyg := dy[(n*s.O+g*og)*p : (n*s.O+(g+1)*og)*p]
			GEMM(GEMMShape{M: og, N: p, K: kk}, 1, wg, col, 0, yg)
			dcol := make([]float64, kk*p)
			GEMM(GEMMShape{M: kk, N: p, K: og, TransA: true}, 1, wg, dyg, 0, dcol)
			col2imAdd(s, dcol, dx, n, g)
			GEMM(GEMMShape{M: og, N: kk, K: p, TransB: true}, 1, dyg, col, 1, dw[g*og*kk:(g+1)*og*kk])
		}
	}
	for i := range y {
		y[i] += bias[(i/p)%s.O]
	}
	return y, dx, dw
}

// TestConv2DAgainstIm2col checks forward and both backward passes entrywise
// against the im2col + GEMM formulation, in float64 to 1e-12 (relative to
// the largest value) and in float32 to 1e-5.
func TestConv2DAgainstIm2col(t *testing.T) {
	for ti, tc := range convTable {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			r := newRand(uint64(100 + ti))
			x, w, b, dy := randn(r, s.XLen()), randn(r, s.WLen()), randn(r, s.O), randn(r, s.YLen())
			wantY, wantDX, wantDW := convGEMM(s, x, w, b, dy)

			y, dx, dw, db := make([]float64, s.YLen()), make([]float64, s.XLen()), make([]float64, s.WLen()), make([]float64, s.O)
			Conv2D(s, x, w, b, y)
			Conv2DBackwardData(s, dy, w, dx)
			Conv2DBackwardFilter(s, x, dy, dw)
			Conv2DBackwardBias(s, dy, db)
			wantDB := make([]float64, s.O)
			p := s.OutH() * s.OutW()
			for i, v := range dy {
				wantDB[(i/p)%s.O] += v
			}
			for _, c := range []struct {
				name      string
				got, want []float64
			}{{"y", y, wantY}, {"dx", dx, wantDX}, {"dw", dw, wantDW}, {"db", db, wantDB}} {
				if d := maxRelDiff(c.got, c.want); d > 1e-12 {
					t.Errorf("float64 %s differs from im2col+GEMM by %.3g", c.name, d)
				}
			}

			y32, dx32, dw32 := make([]float32, s.YLen()), make([]float32, s.XLen()), make([]float32, s.WLen())
			Conv2D(s, f32(x), f32(w), f32(b), y32)
			Conv2DBackwardData(s, f32(dy), f32(w), dx32)
			Conv2DBackwardFilter(s, f32(x), f32(dy), dw32)
			for _, c := range []struct {
				name string
				got  []float32
				want []float64
			}{{"y", y32, wantY}, {"dx", dx32, wantDX}, {"dw", dw32, wantDW}} {
				if d := maxRelDiff(toF64(c.got), c.want); d > 1e-5 {
					t.Errorf("float32 %s differs from float64 im2col+GEMM by %.3g", c.name, d)
				}
			}

			// No bias: same as bias 0.
			y0, want0 := make([]float64, s.YLen()), make([]float64, s.YLen())
			Conv2D(s, x, w, nil, y0)
			Conv2D(s, x, w, make([]float64, s.O), want0)
			if d := maxRelDiff(y0, want0); d != 0 {
				t.Errorf("nil bias differs from zero bias by %g", d)
			}
		})
	}
}

// TestConv2DGradients checks every backward against central differences of
// the float64 forward, on L = sum(Conv2D(x, w, b) * r).
func TestConv2DGradients(t *testing.T) {
	for ti, tc := range convTable {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			r := newRand(uint64(200 + ti))
			x, w, b, rw := randn(r, s.XLen()), randn(r, s.WLen()), randn(r, s.O), randn(r, s.YLen())
			y := make([]float64, s.YLen())
			loss := func() float64 { Conv2D(s, x, w, b, y); return dot(y, rw) }
			dx, dw, db := make([]float64, s.XLen()), make([]float64, s.WLen()), make([]float64, s.O)
			Conv2DBackwardData(s, rw, w, dx)
			Conv2DBackwardFilter(s, x, rw, dw)
			Conv2DBackwardBias(s, rw, db)
			checkGrad(t, "dx", r, x, dx, loss, 40)
			checkGrad(t, "dw", r, w, dw, loss, 40)
			checkGrad(t, "db", r, b, db, loss, 40)
		})
	}
}

func TestConv2DKnownValues(t *testing.T) {
	// 1 channel 3x3 input 1..9, 2x2 all-ones kernel, stride 2, SAME (0,1):
	// windows [1 2;4 5], [3 .;6 .], [7 8;. .], [9]: sums 12, 9, 15, 9, plus bias 0.5.
	s := SameConv2DShape(1, 1, 3, 3, 1, 2, 2, 1)
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	y := make([]float64, 4)
	Conv2D(s, x, []float64{1, 1, 1, 1}, []float64{0.5}, y)
	if fmt.Sprint(y) != "[12.5 9.5 15.5 9.5]" {
		t.Errorf("y = %v", y)
	}
	// Depthwise: each channel uses only its own filter.
	s = Conv2DShape{N: 1, C: 2, H: 1, W: 2, O: 2, KH: 1, KW: 1, StrideH: 1, StrideW: 1, Groups: 2}
	y = make([]float64, 4)
	Conv2D(s, []float64{1, 2, 3, 4}, []float64{10, 100}, nil, y)
	if fmt.Sprint(y) != "[10 20 300 400]" {
		t.Errorf("depthwise y = %v", y)
	}
}

func TestConv2DPanics(t *testing.T) {
	s := SameConv2DShape(1, 2, 3, 3, 2, 3, 1, 1)
	mustPanic(t, "conv2d: len(w) = 3, want 36", func() {
		Conv2D(s, make([]float32, s.XLen()), make([]float32, 3), nil, make([]float32, s.YLen()))
	})
	mustPanic(t, "conv2d: len(bias) = 1, want 2", func() {
		Conv2D(s, make([]float32, s.XLen()), make([]float32, s.WLen()), make([]float32, 1), make([]float32, s.YLen()))
	})
	bad := s
	bad.Groups = 4
	mustPanic(t, "not divisible by groups", func() {
		Conv2DBackwardData(bad, make([]float32, 1), make([]float32, 1), make([]float32, 1))
	})
}

// BenchmarkConv2DForward is the size the package promises to handle quickly:
// 32x64x32x32 input, 64 output channels, 3x3, stride 1, SAME.
func BenchmarkConv2DForward(b *testing.B) {
	s := SameConv2DShape(32, 64, 32, 32, 64, 3, 1, 1)
	r := newRand(1)
	x, w, bias := f32(randn(r, s.XLen())), f32(randn(r, s.WLen())), f32(randn(r, s.O))
	y := make([]float32, s.YLen())
	for b.Loop() {
		Conv2D(s, x, w, bias, y)
	}
}

func BenchmarkConv2DBackwardFilter(b *testing.B) {
	s := SameConv2DShape(32, 64, 32, 32, 64, 3, 1, 1)
	r := newRand(1)
	x, dy := f32(randn(r, s.XLen())), f32(randn(r, s.YLen()))
	dw := make([]float32, s.WLen())
	for b.Loop() {
		Conv2DBackwardFilter(s, x, dy, dw)
	}
}
