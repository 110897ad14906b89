package ref

import (
	"math"
	"testing"
)

func TestSEGate(t *testing.T) {
	for i, s := range []NCHWShape{{1, 1, 1, 1}, {2, 3, 5, 7}, {3, 8, 4, 4}, {2, 13, 1, 1}} {
		r := newRand(uint64(1000 + i))
		z, x, rw := randn(r, s.N*s.C), randn(r, s.Len()), randn(r, s.Len())
		for j := range z {
			z[j] *= 3
		}
		y := make([]float64, s.Len())
		SEGate(s, SEGain, z, x, y)
		hw := s.H * s.W
		for j := range y {
			want := 2 / (1 + math.Exp(-z[j/hw])) * x[j]
			if math.Abs(y[j]-want) > 1e-15*max(1, math.Abs(want)) {
				t.Fatalf("%+v: y[%d] = %v, want %v", s, j, y[j], want)
			}
		}
		dz, dx := make([]float64, len(z)), make([]float64, len(x))
		SEGateBackward(s, SEGain, z, x, rw, dz, dx)
		loss := func() float64 { SEGate(s, SEGain, z, x, y); return dot(y, rw) }
		checkGrad(t, "se dz", r, z, dz, loss, 0)
		checkGrad(t, "se dx", r, x, dx, loss, 40)
		// Either output may be skipped.
		dz2, dx2 := make([]float64, len(z)), make([]float64, len(x))
		SEGateBackward(s, SEGain, z, x, rw, dz2, nil)
		SEGateBackward(s, SEGain, z, x, rw, nil, dx2)
		if maxRelDiff(dz2, dz) != 0 || maxRelDiff(dx2, dx) != 0 {
			t.Errorf("%+v: nil outputs change the others", s)
		}
	}
	// Another gain scales everything linearly.
	s := NCHWShape{1, 2, 1, 2}
	y := make([]float32, 4)
	SEGate(s, 1, []float32{0, 0}, []float32{1, 2, 3, 4}, y)
	if y[0] != 0.5 || y[3] != 2 {
		t.Errorf("gain 1, z 0: %v", y)
	}
}
