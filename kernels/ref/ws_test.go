package ref

import (
	"math"
	"testing"
)

var wsTable = []WSShape{
	{O: 1, FanIn: 1}, {O: 4, FanIn: 1}, {O: 3, FanIn: 27}, {O: 5, FanIn: 9},
	{O: 7, FanIn: 49}, {O: 2, FanIn: 128}, {O: 6, FanIn: 13},
}

// wsInputs returns random weights scale*(randn + 0.3) (a nonzero mean, which
// WS removes) and gains 1 + 0.3*randn.
func wsInputs(seed uint64, s WSShape, scale float64) (w, gain []float64) {
	r := newRand(seed)
	w = randn(r, s.O*s.FanIn)
	for i := range w {
		w[i] = (w[i] + 0.3) * scale
	}
	gain = randn(r, s.O)
	for i := range gain {
		gain[i] = 1 + 0.3*gain[i]
	}
	return w, gain
}

// TestWSDeepMindClosedForm checks What = gain*(W-mu)/max(||W-mu||, 0.01),
// with and without the clamp active (tiny rows), to 1e-13.
func TestWSDeepMindClosedForm(t *testing.T) {
	for i, s := range wsTable {
		for _, scale := range []float64{1, 1e-4} {
			w, gain := wsInputs(uint64(300+i), s, scale)
			what := make([]float64, len(w))
			WSDeepMind(s, w, gain, what)
			want := make([]float64, len(w))
			for o := 0; o < s.O; o++ {
				row := w[o*s.FanIn : (o+1)*s.FanIn]
				mu := Mean(row)
				norm := 0.0
				for _, v := range row {
					norm += (v - mu) * (v - mu)
				}
				norm = math.Sqrt(norm)
				for j, v := range row {
					want[o*s.FanIn+j] = gain[o] * (v - mu) / math.Max(norm, 0.01)
				}
			}
			if d := maxRelDiff(what, want); d > 1e-13 && maxAbs(want) > 0 {
				t.Errorf("%+v scale %g: differs from closed form by %.3g", s, scale, d)
			}
			if scale == 1 && s.FanIn > 1 {
				// Unclamped rows have unit norm times gain.
				for o := 0; o < s.O; o++ {
					n := math.Sqrt(dot(what[o*s.FanIn:(o+1)*s.FanIn], what[o*s.FanIn:(o+1)*s.FanIn]))
					if math.Abs(n-math.Abs(gain[o])) > 1e-12 {
						t.Errorf("%+v row %d: norm %g, want |gain| %g", s, o, n, math.Abs(gain[o]))
					}
				}
			}
		}
	}
}

func maxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = max(m, math.Abs(v))
	}
	return m
}

// TestWSTimmClosedForm checks timm's formula against a hand-computed row and
// against the variance computed as E[W^2] - mu^2, and checks that
// DeepMind's unclamped form equals timm's with eps = 0 and gamma = 1.
func TestWSTimmClosedForm(t *testing.T) {
	// W = [1 2 3 4]: mu 2.5, biased var 1.25, n = 4.
	s := WSShape{O: 1, FanIn: 4}
	what := make([]float64, 4)
	WSTimm(s, []float64{1, 2, 3, 4}, []float64{1.5}, 1.7, TimmWSEps, what)
	for j, v := range []float64{1, 2, 3, 4} {
		want := (v - 2.5) / math.Sqrt(1.25+1e-5) * 1.5 * 1.7 / 2
		if math.Abs(what[j]-want) > 1e-15 {
			t.Errorf("timm [1 2 3 4][%d] = %.17g, want %.17g", j, what[j], want)
		}
	}
	for i, s := range wsTable {
		w, gain := wsInputs(uint64(400+i), s, 1)
		gamma, eps := 1.3, 1e-3
		what := make([]float64, len(w))
		WSTimm(s, w, gain, gamma, eps, what)
		want := make([]float64, len(w))
		for o := 0; o < s.O; o++ {
			row := w[o*s.FanIn : (o+1)*s.FanIn]
			mu := Mean(row)
			v := dot(row, row)/float64(s.FanIn) - mu*mu
			for j, x := range row {
				want[o*s.FanIn+j] = (x - mu) / math.Sqrt(v+eps) * gain[o] * gamma / math.Sqrt(float64(s.FanIn))
			}
		}
		if d := maxRelDiff(what, want); d > 1e-10 && maxAbs(want) > 0 {
			t.Errorf("%+v: timm differs from closed form by %.3g", s, d)
		}
		if s.FanIn == 1 {
			continue
		}
		dm, tm := make([]float64, len(w)), make([]float64, len(w))
		WSDeepMind(s, w, gain, dm)
		WSTimm(s, w, gain, 1, 0, tm)
		if d := maxRelDiff(tm, dm); d > 1e-13 {
			t.Errorf("%+v: timm(eps 0, gamma 1) differs from DeepMind by %.3g", s, d)
		}
	}
}

// TestWSGradients checks both backward passes (weights and gains) against
// central differences, for DeepMind's form unclamped, clamped (rows of
// scale 1e-4: n*var ~ 1e-8*n < 1e-4) and timm's.
func TestWSGradients(t *testing.T) {
	type variant struct {
		name    string
		scale   float64
		fwd     func(s WSShape, w, gain, what []float64)
		bwd     func(s WSShape, w, gain, dwhat, dw, dgain []float64)
		clamped bool
	}
	timmFwd := func(s WSShape, w, gain, what []float64) { WSTimm(s, w, gain, 1.7, TimmWSEps, what) }
	timmBwd := func(s WSShape, w, gain, dwhat, dw, dgain []float64) {
		WSTimmBackward(s, w, gain, 1.7, TimmWSEps, dwhat, dw, dgain)
	}
	variants := []variant{
		{"deepmind", 1, WSDeepMind[float64], WSDeepMindBackward[float64], false},
		{"deepmind clamped", 1e-4, WSDeepMind[float64], WSDeepMindBackward[float64], true},
		{"timm", 1, timmFwd, timmBwd, false},
		{"timm small", 1e-3, timmFwd, timmBwd, false},
	}
	for _, v := range variants {
		for i, s := range wsTable {
			r := newRand(uint64(500 + i))
			w, gain := wsInputs(uint64(600+i), s, v.scale)
			if v.clamped {
				for o := 0; o < s.O; o++ {
					_, ss := wsRowStats(w[o*s.FanIn : (o+1)*s.FanIn])
					if ss >= DeepMindWSMinNVar {
						t.Fatalf("%s %+v row %d not clamped: n*var %g", v.name, s, o, ss)
					}
				}
			}
			rw := randn(r, len(w))
			what := make([]float64, len(w))
			loss := func() float64 { v.fwd(s, w, gain, what); return dot(what, rw) }
			dw, dgain := make([]float64, len(w)), make([]float64, s.O)
			v.bwd(s, w, gain, rw, dw, dgain)
			checkGrad(t, v.name+" dW", r, w, dw, loss, 40)
			checkGrad(t, v.name+" dgain", r, gain, dgain, loss, 0)
			// dgain nil skips it and changes nothing else.
			dw2 := make([]float64, len(w))
			v.bwd(s, w, gain, rw, dw2, nil)
			if d := maxRelDiff(dw2, dw); d != 0 {
				t.Errorf("%s: nil dgain changed dW by %g", v.name, d)
			}
		}
	}
}

// TestWSFloat32 runs the float32 instantiations against float64.
func TestWSFloat32(t *testing.T) {
	s := WSShape{O: 5, FanIn: 27}
	w, gain := wsInputs(7, s, 1)
	dwhat := randn(newRand(8), len(w))
	want, got := make([]float64, len(w)), make([]float32, len(w))
	WSDeepMind(s, w, gain, want)
	WSDeepMind(s, f32(w), f32(gain), got)
	if d := maxRelDiff(toF64(got), want); d > 1e-6 {
		t.Errorf("deepmind float32 differs by %.3g", d)
	}
	WSTimm(s, w, gain, 1, TimmWSEps, want)
	WSTimm(s, f32(w), f32(gain), 1, TimmWSEps, got)
	if d := maxRelDiff(toF64(got), want); d > 1e-6 {
		t.Errorf("timm float32 differs by %.3g", d)
	}
	wantDW, wantDG := make([]float64, len(w)), make([]float64, s.O)
	gotDW, gotDG := make([]float32, len(w)), make([]float32, s.O)
	WSDeepMindBackward(s, w, gain, dwhat, wantDW, wantDG)
	WSDeepMindBackward(s, f32(w), f32(gain), f32(dwhat), gotDW, gotDG)
	if d := max(maxRelDiff(toF64(gotDW), wantDW), maxRelDiff(toF64(gotDG), wantDG)); d > 1e-5 {
		t.Errorf("deepmind backward float32 differs by %.3g", d)
	}
}

func TestWSShapeOf(t *testing.T) {
	got := WSShapeOf(SameConv2DShape(1, 256, 8, 8, 256, 3, 1, 2))
	if got != (WSShape{O: 256, FanIn: 128 * 9}) {
		t.Errorf("WSShapeOf = %+v", got)
	}
}
