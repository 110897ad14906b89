package ref

import (
	"fmt"
	"testing"
)

var poolTable = []struct {
	name string
	s    PoolShape
}{
	{"2x2 s2 SAME even 8x10", AvgPoolSameShape(2, 3, 8, 10, 2, 2)},
	{"2x2 s2 SAME odd 7x9", AvgPoolSameShape(3, 5, 7, 9, 2, 2)},
	{"2x2 s2 SAME 1x1", AvgPoolSameShape(1, 2, 1, 1, 2, 2)},
	{"2x2 s2 SAME 13x1", AvgPoolSameShape(2, 1, 13, 1, 2, 2)},
	{"3x3 s2 SAME 9x8", AvgPoolSameShape(2, 3, 9, 8, 3, 2)},
	{"3x3 s1 SAME 7x7", AvgPoolSameShape(1, 4, 7, 7, 3, 1)},
	{"3x3 s2 ceil 10x11", CeilModePoolShape(2, 2, 10, 11, 3, 2)},
	{"explicit asym 2x3", PoolShape{N: 2, C: 3, H: 6, W: 7, KH: 2, KW: 3, StrideH: 1, StrideW: 2,
		PadTop: 1, PadBottom: 0, PadLeft: 0, PadRight: 2}},
}

// poolBrute computes the pool by asking, for every output and every input
// position, whether the input lies in the output's window.
func poolBrute(s PoolShape, x []float64) []float64 {
	oh, ow := s.OutH(), s.OutW()
	y := make([]float64, s.YLen())
	for p := 0; p < s.N*s.C; p++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				sum, count := 0.0, 0
				for h := 0; h < s.H; h++ {
					for w := 0; w < s.W; w++ {
						if h >= i*s.StrideH-s.PadTop && h < i*s.StrideH-s.PadTop+s.KH &&
							w >= j*s.StrideW-s.PadLeft && w < j*s.StrideW-s.PadLeft+s.KW {
							sum += x[(p*s.H+h)*s.W+w]
							count++
						}
					}
				}
				y[(p*oh+i)*ow+j] = sum / float64(count)
			}
		}
	}
	return y
}

func TestAvgPool2D(t *testing.T) {
	for ti, tc := range poolTable {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.s
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			r := newRand(uint64(700 + ti))
			x, rw := randn(r, s.XLen()), randn(r, s.YLen())
			y := make([]float64, s.YLen())
			AvgPool2D(s, x, y)
			if d := maxRelDiff(y, poolBrute(s, x)); d > 1e-14 {
				t.Errorf("differs from brute force by %.3g", d)
			}
			y32 := make([]float32, s.YLen())
			AvgPool2D(s, f32(x), y32)
			if d := maxRelDiff(toF64(y32), y); d > 1e-6 {
				t.Errorf("float32 differs by %.3g", d)
			}
			dx := make([]float64, s.XLen())
			AvgPool2DBackward(s, rw, dx)
			checkGrad(t, "dx", r, x, dx, func() float64 { AvgPool2D(s, x, y); return dot(y, rw) }, 0)
		})
	}
}

// TestAvgPoolTimmCeilMode checks that the SAME 2x2/2 pool is timm's
// AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False): output
// ceil(H/2), PyTorch's ceil-mode size rule, and the values of a 3x3 example.
func TestAvgPoolTimmCeilMode(t *testing.T) {
	for h := 1; h <= 20; h++ {
		same, ceil := AvgPoolSameShape(1, 1, h, h, 2, 2), CeilModePoolShape(1, 1, h, h, 2, 2)
		if same != ceil {
			t.Errorf("H=%d: SAME %+v != ceil mode %+v", h, same, ceil)
		}
		if same.OutH() != (h+1)/2 {
			t.Errorf("H=%d: out %d, want %d", h, same.OutH(), (h+1)/2)
		}
		for k := 1; k <= 4; k++ {
			for st := 1; st <= 3; st++ {
				// PyTorch: out = floor((H - k + s - 1)/s) + 1, minus one if
				// the last window starts at or past the input's end.
				want := floorDiv(h-k+st-1, st) + 1
				if (want-1)*st >= h {
					want--
				}
				if got, _ := ceilModeSize(h, k, st); got != want {
					t.Errorf("ceil mode H=%d k=%d s=%d: %d, want %d", h, k, st, got, want)
				}
				if s := CeilModePoolShape(1, 1, h, h, k, st); want > 0 && s.OutH() != want {
					t.Errorf("CeilModePoolShape H=%d k=%d s=%d: OutH %d, want %d", h, k, st, s.OutH(), want)
				}
			}
		}
	}
	s := AvgPoolSameShape(1, 1, 3, 3, 2, 2)
	y := make([]float64, 4)
	AvgPool2D(s, []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}, y)
	if fmt.Sprint(y) != "[3 4.5 7.5 9]" {
		t.Errorf("3x3 SAME pool = %v, want [3 4.5 7.5 9]", y)
	}
	dx := make([]float64, 9)
	AvgPool2DBackward(s, []float64{4, 2, 2, 1}, dx)
	if fmt.Sprint(dx) != "[1 1 1 1 1 1 1 1 1]" {
		t.Errorf("3x3 SAME pool backward = %v", dx)
	}
}

func TestGlobalAvgPool(t *testing.T) {
	for i, s := range []NCHWShape{{1, 1, 1, 1}, {2, 3, 7, 9}, {3, 5, 4, 4}} {
		r := newRand(uint64(800 + i))
		x, rw := randn(r, s.Len()), randn(r, s.N*s.C)
		y := make([]float64, s.N*s.C)
		GlobalAvgPool(s, x, y)
		for p := range y {
			if want := Mean(x[p*s.H*s.W : (p+1)*s.H*s.W]); y[p] != want {
				t.Errorf("%+v: y[%d] = %v, want %v", s, p, y[p], want)
			}
		}
		// Equal to a pool whose single window is the whole image.
		ps := PoolShape{N: s.N, C: s.C, H: s.H, W: s.W, KH: s.H, KW: s.W, StrideH: 1, StrideW: 1}
		y2 := make([]float64, s.N*s.C)
		AvgPool2D(ps, x, y2)
		if d := maxRelDiff(y2, y); d > 1e-15 {
			t.Errorf("%+v: differs from full-window pool by %g", s, d)
		}
		dx := make([]float64, s.Len())
		GlobalAvgPoolBackward(s, rw, dx)
		checkGrad(t, "global pool dx", r, x, dx, func() float64 { GlobalAvgPool(s, x, y); return dot(y, rw) }, 0)
	}
}
