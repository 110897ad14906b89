package ref

import "testing"

func TestResidual(t *testing.T) {
	for i, s := range []NCHWShape{{1, 1, 1, 1}, {4, 3, 5, 7}, {3, 8, 2, 2}} {
		r := newRand(uint64(1100 + i))
		sc, h, rw := randn(r, s.Len()), randn(r, s.Len()), randn(r, s.Len())
		mask := make([]float64, s.N)
		for n := range mask {
			mask[n] = float64(n % 2) // dropped and kept samples; sample 0 dropped
		}
		if s.N == 1 {
			mask[0] = 1
		}
		for _, m := range [][]float64{nil, mask} {
			skip := []float64{0.37}
			out := make([]float64, s.Len())
			Residual(s, ResidualAlpha, skip[0], sc, h, m, out)
			per := s.C * s.H * s.W
			for j := range out {
				k := 1.0
				if m != nil {
					k = m[j/per]
				}
				if want := sc[j] + 0.2*0.37*k*h[j]; out[j] != want {
					t.Fatalf("%+v: out[%d] = %v, want %v", s, j, out[j], want)
				}
			}
			dsc, dh := make([]float64, s.Len()), make([]float64, s.Len())
			dskip := []float64{ResidualBackward(s, ResidualAlpha, skip[0], h, m, rw, dsc, dh)}
			loss := func() float64 { Residual(s, ResidualAlpha, skip[0], sc, h, m, out); return dot(out, rw) }
			checkGrad(t, "dshortcut", r, sc, dsc, loss, 40)
			checkGrad(t, "dh", r, h, dh, loss, 40)
			checkGrad(t, "dskip_gain", r, skip, dskip, loss, 0)
			if got := ResidualBackward(s, ResidualAlpha, skip[0], h, m, rw, nil, nil); got != dskip[0] {
				t.Errorf("nil outputs change dskip_gain: %v vs %v", got, dskip[0])
			}
		}
	}
	// skip_gain 0 (its initial value): out is the shortcut, dh is 0, but the
	// gain still gets a gradient.
	s := NCHWShape{1, 1, 1, 2}
	out, dh := make([]float32, 2), make([]float32, 2)
	Residual(s, 0.2, 0, []float32{1, 2}, []float32{5, 6}, nil, out)
	g := ResidualBackward(s, 0.2, 0, []float32{5, 6}, nil, []float32{1, 1}, nil, dh)
	if out[0] != 1 || out[1] != 2 || dh[0] != 0 || g != 0.2*11 {
		t.Errorf("skip_gain 0: out %v dh %v dskip %v", out, dh, g)
	}
}
