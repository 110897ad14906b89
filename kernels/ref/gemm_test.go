package ref

import (
	"math"
	"testing"
)

// dense returns op(X) as an explicit rows x cols matrix (row-major, packed),
// reading X stored with leading dimension ld, transposed or not.
func dense(x []float64, rows, cols, ld int, trans bool) [][]float64 {
	m := make([][]float64, rows)
	for i := range m {
		m[i] = make([]float64, cols)
		for j := range m[i] {
			if trans {
				m[i][j] = x[j*ld+i]
			} else {
				m[i][j] = x[i*ld+j]
			}
		}
	}
	return m
}

// TestGEMM compares every transpose combination, with packed and padded
// leading dimensions, beta 0 (C not read: NaN there must not leak) and beta
// != 0, against products of explicitly transposed dense matrices.
func TestGEMM(t *testing.T) {
	sizes := [][3]int{{1, 1, 1}, {3, 5, 7}, {13, 9, 8}, {1, 17, 4}, {6, 1, 11}}
	for si, mnk := range sizes {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, pad := range []int{0, 3} {
					for _, beta := range []float64{0, -0.5} {
						m, n, k := mnk[0], mnk[1], mnk[2]
						s := GEMMShape{M: m, N: n, K: k, TransA: ta, TransB: tb}
						ar, ac := s.storedA()
						br, bc := s.storedB()
						if pad > 0 {
							s.LDA, s.LDB, s.LDC = ac+pad, bc+pad+1, n+pad+2
						}
						r := newRand(uint64(1200 + si))
						a := randn(r, (ar-1)*s.Lda()+ac+pad)
						b := randn(r, (br-1)*s.Ldb()+bc+pad)
						c := randn(r, s.CLen()+pad)
						c0 := append([]float64(nil), c...)
						if beta == 0 {
							for i := 0; i < m; i++ {
								for j := 0; j < n; j++ {
									c[i*s.Ldc()+j] = math.NaN()
								}
							}
						}
						GEMM(s, 1.5, a, b, beta, c)
						A := dense(a, m, k, s.Lda(), ta)
						B := dense(b, k, n, s.Ldb(), tb)
						inside := make([]bool, len(c))
						for i := 0; i < m; i++ {
							for j := 0; j < n; j++ {
								sum := 0.0
								for l := 0; l < k; l++ {
									sum += A[i][l] * B[l][j]
								}
								want := 1.5*sum + beta*c0[i*s.Ldc()+j]
								got := c[i*s.Ldc()+j]
								inside[i*s.Ldc()+j] = true
								if math.Abs(got-want) > 1e-13*max(1, math.Abs(want)) {
									t.Fatalf("%+v beta %v: C[%d,%d] = %v, want %v", s, beta, i, j, got, want)
								}
							}
						}
						for i := range c {
							if !inside[i] && c[i] != c0[i] {
								t.Fatalf("%+v: element %d outside the M x N window changed", s, i)
							}
						}
					}
				}
			}
		}
	}
}

// TestGEMMFloat32 checks that float32 results are the float64 products
// rounded once.
func TestGEMMFloat32(t *testing.T) {
	s := GEMMShape{M: 7, N: 5, K: 33, TransA: true}
	r := newRand(1300)
	a, b := f32(randn(r, s.ALen())), f32(randn(r, s.BLen()))
	c32, c64 := make([]float32, s.CLen()), make([]float64, s.CLen())
	GEMM(s, 1, a, b, 0, c32)
	GEMM(s, 1, toF64(a), toF64(b), 0, c64)
	for i := range c32 {
		if c32[i] != float32(c64[i]) {
			t.Errorf("C[%d] = %v, want %v", i, c32[i], float32(c64[i]))
		}
	}
	mustPanic(t, "gemm: slices too short", func() { GEMM(s, 1, a[:3], b, 0, c32) })
}

func TestLinear(t *testing.T) {
	for i, s := range []LinearShape{{1, 1, 1}, {4, 7, 3}, {3, 16, 10}, {5, 2, 9}} {
		r := newRand(uint64(1400 + i))
		x, w, b, rw := randn(r, s.N*s.In), randn(r, s.Out*s.In), randn(r, s.Out), randn(r, s.N*s.Out)
		y := make([]float64, s.N*s.Out)
		Linear(s, x, w, b, y)
		for n := 0; n < s.N; n++ {
			for o := 0; o < s.Out; o++ {
				want := b[o] + dot(x[n*s.In:(n+1)*s.In], w[o*s.In:(o+1)*s.In])
				if math.Abs(y[n*s.Out+o]-want) > 1e-13*max(1, math.Abs(want)) {
					t.Fatalf("%+v: y[%d,%d] = %v, want %v", s, n, o, y[n*s.Out+o], want)
				}
			}
		}
		// A linear layer is a 1x1 convolution on a 1x1 image.
		cs := Conv2DShape{N: s.N, C: s.In, H: 1, W: 1, O: s.Out, KH: 1, KW: 1, StrideH: 1, StrideW: 1, Groups: 1}
		yc := make([]float64, s.N*s.Out)
		Conv2D(cs, x, w, b, yc)
		if d := maxRelDiff(yc, y); d > 1e-14 {
			t.Errorf("%+v: differs from the 1x1 conv by %g", s, d)
		}
		dx, dw, db := make([]float64, len(x)), make([]float64, len(w)), make([]float64, len(b))
		LinearBackwardData(s, rw, w, dx)
		LinearBackwardWeight(s, x, rw, dw)
		LinearBackwardBias(s, rw, db)
		loss := func() float64 { Linear(s, x, w, b, y); return dot(y, rw) }
		checkGrad(t, "linear dx", r, x, dx, loss, 0)
		checkGrad(t, "linear dw", r, w, dw, loss, 0)
		checkGrad(t, "linear db", r, b, db, loss, 0)
		y2 := make([]float64, len(y))
		Linear(s, x, w, b, y)
		Linear(s, x, w, nil, y2)
		for j := range y2 {
			if math.Abs(y2[j]+b[j%s.Out]-y[j]) > 1e-13*max(1, math.Abs(y[j])) {
				t.Fatalf("%+v: nil bias off at %d", s, j)
			}
		}
	}
}
