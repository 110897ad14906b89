package kernels

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// convShape builds a shape with explicit padding (top, bottom, left, right).
func convShape(n, c, h, w, o, kh, kw, stride, groups int, pad [4]int) Conv2DShape {
	return Conv2DShape{N: n, C: c, H: h, W: w, O: o, KH: kh, KW: kw, StrideH: stride, StrideW: stride,
		PadTop: pad[0], PadBottom: pad[1], PadLeft: pad[2], PadRight: pad[3], Groups: groups}
}

// convCases is the conformance table, run for every pass: odd and even
// spatial sizes, channel counts that are not multiples of the tiles (8
// channels, 4-8 pixels or taps per invocation, 32-64 invocations),
// groups 1/2/8/depthwise, stride 1 and 2 (and 2x1), kernels 1x1, 3x3,
// 1x3, 5x5, 7x7,
// symmetric, SAME-asymmetric and oversized padding, batch 1 and more,
// and grids of several workgroups along both axes.
var convCases = []struct {
	name string
	s    Conv2DShape
}{
	{"1x1/single", convShape(1, 1, 1, 1, 1, 1, 1, 1, 1, [4]int{})},
	{"1x1/odd", convShape(1, 3, 7, 9, 5, 1, 1, 1, 1, [4]int{})},
	{"1x1/tiles", convShape(3, 37, 9, 9, 19, 1, 1, 1, 1, [4]int{})},
	{"1x1/stride2", convShape(2, 9, 9, 13, 7, 1, 1, 2, 1, [4]int{})},
	{"3x3/dense", convShape(2, 7, 9, 13, 9, 3, 3, 1, 1, [4]int{1, 1, 1, 1})},
	{"3x3/channels20", convShape(2, 20, 5, 5, 20, 3, 3, 1, 1, [4]int{1, 1, 1, 1})},
	{"3x3/valid", convShape(1, 4, 7, 7, 13, 3, 3, 1, 1, [4]int{})},
	{"3x3/pad2", convShape(1, 3, 3, 3, 11, 3, 3, 1, 1, [4]int{2, 2, 2, 2})},
	{"3x3/stride2-same-even", ref.SameConv2DShape(3, 8, 8, 10, 12, 3, 2, 1)},
	{"3x3/stride2-same-odd", ref.SameConv2DShape(2, 5, 13, 9, 6, 3, 2, 1)},
	{"3x3/stride2-1x1-image", convShape(2, 3, 1, 1, 4, 3, 3, 2, 1, [4]int{1, 1, 1, 1})},
	{"3x3/groups2", convShape(2, 6, 13, 7, 10, 3, 3, 1, 2, [4]int{1, 1, 1, 1})},
	{"3x3/groups8-stride2", ref.SameConv2DShape(2, 16, 9, 9, 24, 3, 2, 8)},
	{"3x3/groups8-big", convShape(4, 64, 16, 16, 136, 3, 3, 1, 8, [4]int{1, 1, 1, 1})},
	{"3x3/depthwise", convShape(2, 13, 7, 9, 13, 3, 3, 1, 13, [4]int{1, 1, 1, 1})},
	{"3x3/depthwise-stride2", ref.SameConv2DShape(1, 8, 8, 8, 8, 3, 2, 8)},
	{"3x3/depthwise-multiplier", convShape(2, 4, 9, 7, 12, 3, 3, 1, 4, [4]int{1, 1, 1, 1})},
	{"3x3/stride2x1", Conv2DShape{N: 2, C: 4, H: 9, W: 7, O: 6, KH: 3, KW: 3, StrideH: 2, StrideW: 1,
		PadTop: 1, PadBottom: 1, PadLeft: 1, PadRight: 1, Groups: 2}},
	{"1x3/asymmetric", convShape(2, 5, 7, 8, 3, 1, 3, 1, 1, [4]int{0, 0, 2, 0})},
	{"7x7/stem-stride2", convShape(2, 3, 13, 13, 17, 7, 7, 2, 1, [4]int{3, 3, 3, 3})},
	{"5x5/same-even", ref.SameConv2DShape(1, 6, 10, 10, 9, 5, 1, 3)},
	// Beyond lavapipe's 65535 loop iterations per invocation: the
	// backward-filter reduction (rows x (OW+1)), the bias reduction
	// (N*plane/64) and the forward's channels run as accumulating chains.
	{"3x3/loop-limit-filter", convShape(3, 2, 160, 160, 2, 3, 3, 1, 1, [4]int{1, 1, 1, 1})},
	{"3x3/loop-limit-filter-stride2", ref.SameConv2DShape(3, 2, 320, 320, 2, 3, 2, 1)},
	{"1x1/loop-limit-bias", convShape(2, 1, 1500, 1500, 1, 1, 1, 1, 1, [4]int{})},
	{"1x1/loop-limit-channels", convShape(2, 70000, 1, 1, 3, 1, 1, 1, 1, [4]int{})},
	// More pixel blocks than lavapipe's 65535 workgroups along x: they
	// wrap into grid rows along z.
	{"1x1/grid-wrap", convShape(1, 1, 2900, 2900, 1, 1, 1, 1, 1, [4]int{})},
	{"3x3/batch-big", convShape(9, 16, 13, 13, 33, 3, 3, 1, 1, [4]int{1, 1, 1, 1})},
}

func absAll(v []float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(math.Abs(float64(x)))
	}
	return out
}

// gamma is Higham's gamma_n = n*u/(1-n*u), u = 2^-24: a float32 sum of n
// products, fused or not and in any order, is within gamma_n * (sum of
// their absolute values) of the exact sum.
func gamma(n int) float64 {
	nu := float64(n) * 0x1p-24
	return nu / (1 - nu)
}

// assertBound fails where |got-want| exceeds gamma(terms)*absSum plus one
// float32 rounding of want (the reference sums in float64 and rounds
// once), i.e. the worst-case error of fp32 accumulation over the terms.
func assertBound(t *testing.T, what string, got, want, absSum []float32, terms int) {
	t.Helper()
	g := gamma(terms)
	bad := 0
	for i := range want {
		gv, wv := float64(got[i]), float64(want[i])
		tol := g*float64(absSum[i]) + 0x1p-24*math.Abs(wv)
		if !(math.Abs(gv-wv) <= tol) {
			if bad < 5 {
				t.Errorf("%s[%d] = %v, want %v (bound %g over %d terms)", what, i, gv, wv, tol, terms)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d elements out of bound", what, bad, len(want))
	}
}

// assertBoundStored is assertBound for an output stored as d (float16 or
// bfloat16) by a chain of stores dispatches (0: a float32 output). Each
// store rounds a partial sum, whose magnitude is at most the sum of
// absolute terms, to d: at most d's unit roundoff of it (2^-11 for
// float16, 2^-8 for bfloat16, plus half the subnormal spacing), on top of
// the float32 accumulation bound. The inputs are d values the reference
// sums exactly, so their rounding costs nothing here.
func assertBoundStored(t *testing.T, what string, d DType, got, want, absSum []float32, terms, stores int) {
	t.Helper()
	if stores == 0 || d == F32 {
		assertBound(t, what, got, want, absSum, terms)
		return
	}
	unit, subHalf := storeRounding(d)
	g := gamma(terms)
	bad := 0
	for i := range want {
		gv, wv, a := float64(got[i]), float64(want[i]), float64(absSum[i])
		tol := g*a + 0x1p-24*math.Abs(wv) + float64(stores)*(unit*a*(1+g)+subHalf)
		if !(math.Abs(gv-wv) <= tol) {
			if bad < 5 {
				t.Errorf("%s[%d] = %v, want %v (%v bound %g over %d terms, %d stores)", what, i, gv, wv, d, tol, terms, stores)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d elements out of bound", what, bad, len(want))
	}
}

// TestConv2D runs every case of the table through all four passes in one
// program and checks each against the CPU reference, with the tiles of
// the device's class and with those of GPUs (no subgroup shuffles,
// smaller blocks, reductions chained within the lane budget), so that
// both code paths run here on lavapipe. The tolerance of
// every element is the worst-case fp32 accumulation error over its
// fan-in (see assertBound): the absolute sums come from the reference run
// on |inputs|, so the bound scales with the terms actually summed.
func TestConv2D(t *testing.T) {
	d, kdev := testDevice(t)
	kgpu := New(d)
	kgpu.tune.Class, kgpu.tune.LaneBudget = "generic", LaneBudgetGPU
	for _, dt := range storageTypes {
		for _, k := range []*Kernels{kdev, kgpu} {
			t.Run(fmt.Sprintf("%v/%s", dt, k.tune.Class), func(t *testing.T) { testConv2D(t, d, k, dt) })
		}
	}
}

// testConv2D runs the table with activations (x, w, y, dy, dx) stored as
// dt; bias, dw and db are float32 parameters and gradients.
func testConv2D(t *testing.T, d *engine.Device, k *Kernels, dt DType) {
	up, down := storageIO(dt)
	for i, c := range convCases {
		s := c.s
		t.Run(c.name, func(t *testing.T) {
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			seed := uint64(10 * i)
			x, w := storageInputs(dt, randn(seed, s.XLen(), 1)), storageInputs(dt, randn(seed+1, s.WLen(), 1))
			bias, dy := randn(seed+2, s.O, 1), storageInputs(dt, randn(seed+3, s.YLen(), 1))
			bx, bw, bb, bdy := up(t, d, x), up(t, d, w), upload(t, d, bias), up(t, d, dy)
			by, by0 := up(t, d, nans(s.YLen())), up(t, d, nans(s.YLen()))
			bdx, bdw, bdb := up(t, d, nans(s.XLen())), upload(t, d, nans(s.WLen())), upload(t, d, nans(s.O))
			runProgram(t, k, func(p *engine.Program) error {
				if err := k.Conv2DOf(p, dt, s, bx.Span(), bw.Span(), bb.Span(), by.Span()); err != nil {
					return err
				}
				if err := k.Conv2DOf(p, dt, s, bx.Span(), bw.Span(), engine.Span{}, by0.Span()); err != nil {
					return err
				}
				if err := k.Conv2DBackwardDataOf(p, dt, s, bdy.Span(), bw.Span(), bdx.Span()); err != nil {
					return err
				}
				if err := k.Conv2DBackwardFilterSplitOf(p, dt, s, bx.Span(), bdy.Span(), bdw.Span(), engine.Span{}); err != nil {
					return err
				}
				return k.Conv2DBackwardBiasOf(p, dt, s, bdy.Span(), bdb.Span())
			})
			// Stored outputs round once per dispatch of their chain.
			stores := func(pass convPass, bias bool) int {
				if dt == F32 {
					return 0
				}
				steps, err := k.convPlan(s, pass, bias)
				if err != nil {
					t.Fatal(err)
				}
				return len(steps)
			}
			ax, aw, ab, ady := absAll(x), absAll(w), absAll(bias), absAll(dy)
			cg, og := s.C/s.Groups, s.O/s.Groups

			want, sum := make([]float32, s.YLen()), make([]float32, s.YLen())
			ref.Conv2D(s, x, w, bias, want)
			ref.Conv2D(s, ax, aw, ab, sum)
			assertBoundStored(t, "y", dt, down(t, by), want, sum, cg*s.KH*s.KW+1, stores(convForward, true))
			ref.Conv2D(s, x, w, nil, want)
			ref.Conv2D(s, ax, aw, nil, sum)
			assertBoundStored(t, "y (no bias)", dt, down(t, by0), want, sum, cg*s.KH*s.KW, stores(convForward, false))

			want, sum = make([]float32, s.XLen()), make([]float32, s.XLen())
			ref.Conv2DBackwardData(s, dy, w, want)
			ref.Conv2DBackwardData(s, ady, aw, sum)
			assertBoundStored(t, "dx", dt, down(t, bdx), want, sum, og*s.KH*s.KW, stores(convBackwardData, false))

			want, sum = make([]float32, s.WLen()), make([]float32, s.WLen())
			ref.Conv2DBackwardFilter(s, x, dy, want)
			ref.Conv2DBackwardFilter(s, ax, ady, sum)
			assertBound(t, "dw", download(t, bdw), want, sum, s.N*s.OutH()*s.OutW())

			want, sum = make([]float32, s.O), make([]float32, s.O)
			ref.Conv2DBackwardBias(s, dy, want)
			ref.Conv2DBackwardBias(s, ady, sum)
			assertBound(t, "db", download(t, bdb), want, sum, s.N*s.OutH()*s.OutW())
		})
	}
}

// TestConv2DRejects checks that bad shapes and short spans fail with an
// error naming the op and the shape, and that nothing is recorded.
func TestConv2DRejects(t *testing.T) {
	d, k := testDevice(t)
	good := convShape(2, 8, 5, 5, 8, 3, 3, 1, 2, [4]int{1, 1, 1, 1})
	big := upload(t, d, make([]float32, 4096))
	big2 := upload(t, d, make([]float32, 4096))
	small := upload(t, d, make([]float32, 7))
	span, out := big.Span(), big2.Span()
	mod := func(f func(s *Conv2DShape)) Conv2DShape { s := good; f(&s); return s }
	cases := []struct {
		name string
		s    Conv2DShape
		x    engine.Span
		want string
	}{
		{"groups-not-dividing-C", mod(func(s *Conv2DShape) { s.C = 9; s.Groups = 2 }), span, "not divisible"},
		{"groups-not-dividing-O", mod(func(s *Conv2DShape) { s.O = 7 }), span, "not divisible"},
		{"zero-batch", mod(func(s *Conv2DShape) { s.N = 0 }), span, "positive"},
		{"zero-kernel", mod(func(s *Conv2DShape) { s.KW = 0 }), span, "positive"},
		{"zero-stride", mod(func(s *Conv2DShape) { s.StrideH = 0 }), span, "strides"},
		{"zero-groups", mod(func(s *Conv2DShape) { s.Groups = 0 }), span, "groups"},
		{"negative-pad", mod(func(s *Conv2DShape) { s.PadLeft = -1 }), span, "padding"},
		{"empty-output", mod(func(s *Conv2DShape) { s.KH = 9 }), span, "empty"},
		{"span-too-small", good, small.Span(), "holds 7 elements"},
		{"no-buffer", good, engine.Span{}, "no buffer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := d.NewProgram(t.Name(), engine.ProgramOptions{})
			defer p.Close()
			// Every pass gets the bad shape, or the bad span in each slot
			// (a zero span in the bias slot means no bias: not an error).
			calls := []func() error{
				func() error { return k.Conv2D(p, c.s, c.x, span, engine.Span{}, out) },
				func() error { return k.Conv2D(p, c.s, span, c.x, span, out) },
				func() error { return k.Conv2D(p, c.s, span, span, span, c.x) },
				func() error { return k.Conv2DBackwardData(p, c.s, c.x, span, out) },
				func() error { return k.Conv2DBackwardData(p, c.s, span, c.x, out) },
				func() error { return k.Conv2DBackwardData(p, c.s, span, span, c.x) },
				func() error { return k.Conv2DBackwardFilter(p, c.s, c.x, span, out) },
				func() error { return k.Conv2DBackwardFilter(p, c.s, span, c.x, out) },
				func() error { return k.Conv2DBackwardFilter(p, c.s, span, span, c.x) },
				func() error { return k.Conv2DBackwardBias(p, c.s, c.x, out) },
				func() error { return k.Conv2DBackwardBias(p, c.s, span, c.x) },
			}
			if c.x.Buf != nil {
				calls = append(calls, func() error { return k.Conv2D(p, c.s, span, span, c.x, out) })
			}
			for i, call := range calls {
				err := call()
				if err == nil {
					t.Errorf("call %d: no error", i)
					continue
				}
				msg := err.Error()
				if !strings.Contains(msg, "conv2d") || !strings.Contains(msg, c.want) || !strings.Contains(msg, fmt.Sprintf("%+v", c.s)) {
					t.Errorf("call %d: error %q does not name the op, the shape and %q", i, msg, c.want)
				}
			}
			if p.Len() != 0 {
				t.Errorf("%d dispatches recorded", p.Len())
			}
		})
	}
}

// TestConv2DRejectsAliasing checks that an output overlapping an input
// (the kernels would read what they overwrite) is rejected.
func TestConv2DRejectsAliasing(t *testing.T) {
	d, k := testDevice(t)
	s := convShape(2, 8, 5, 5, 8, 3, 3, 1, 2, [4]int{1, 1, 1, 1})
	buf := upload(t, d, make([]float32, 4096))
	in, over := buf.Span(), buf.Span().Sub(64, 4096*4-64)
	p := d.NewProgram(t.Name(), engine.ProgramOptions{})
	defer p.Close()
	for i, err := range []error{
		k.Conv2D(p, s, in, in, engine.Span{}, over),
		k.Conv2DBackwardData(p, s, in, in, over),
		k.Conv2DBackwardFilter(p, s, in, in, over),
		k.Conv2DBackwardBias(p, s, in, over),
	} {
		if err == nil || !strings.Contains(err.Error(), "overlaps") {
			t.Errorf("pass %d: error %v, want an overlap named", i, err)
		}
	}
	if p.Len() != 0 {
		t.Errorf("%d dispatches recorded", p.Len())
	}
}

// TestConv2DLoopLimit checks that on a device with a per-invocation loop
// limit (lavapipe) a kernel whose own tap loops exceed it is rejected,
// not run into silently wrong results, and that nothing is recorded.
func TestConv2DLoopLimit(t *testing.T) {
	d, k := testDevice(t)
	if convLoopLimit(d.Info()) == 0 {
		t.Skip("the device has no loop limit")
	}
	s := convShape(1, 1, 256, 256, 1, 256, 256, 1, 1, [4]int{})
	buf, out := upload(t, d, make([]float32, s.XLen())), upload(t, d, make([]float32, 1))
	p := d.NewProgram(t.Name(), engine.ProgramOptions{})
	defer p.Close()
	err := k.Conv2D(p, s, buf.Span(), buf.Span(), engine.Span{}, out.Span())
	if err == nil || !strings.Contains(err.Error(), "loop iterations") || !strings.Contains(err.Error(), "conv2d") {
		t.Errorf("256x256 kernel: error %v, want the loop limit named", err)
	}
	if p.Len() != 0 {
		t.Errorf("%d dispatches recorded", p.Len())
	}
}
