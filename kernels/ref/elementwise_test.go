package ref

import (
	"math"
	"testing"
)

func TestElementwise(t *testing.T) {
	x := []float32{1, -2, 3, 0.5}
	y := []float32{10, 20, 30, 40}
	Axpy(2, x, y)
	if y[0] != 12 || y[1] != 16 || y[2] != 36 || y[3] != 41 {
		t.Errorf("axpy: %v", y)
	}
	Scale(-0.5, y)
	if y[0] != -6 || y[3] != -20.5 {
		t.Errorf("scale: %v", y)
	}
	z := make([]float32, 4)
	Copy(z, x)
	if z[1] != -2 {
		t.Errorf("copy: %v", z)
	}
	Fill(z, 7)
	if Sum(z) != 28 || Mean(z) != 7 {
		t.Errorf("fill/sum/mean: %v", z)
	}
	Mul(x, x, z)
	if z[1] != 4 || z[3] != 0.25 {
		t.Errorf("mul: %v", z)
	}
	if d := Dot(x, x); d != 1+4+9+0.25 {
		t.Errorf("dot: %v", d)
	}
	// Sums accumulate in float64: 2^24 ones then 1s would stall in float32.
	ones := make([]float32, 1<<24+4)
	Fill(ones, 1)
	if s := Sum(ones); s != 1<<24+4 {
		t.Errorf("float32 sum %v, want %v", s, 1<<24+4)
	}
	mustPanic(t, "axpy: len(y)", func() { Axpy(1, x, z[:2]) })
	mustPanic(t, "copy: len(dst)", func() { Copy(z[:1], x) })
}

func TestRowSumSquares(t *testing.T) {
	r := newRand(1600)
	x := randn(r, 5*13)
	out := make([]float64, 5)
	RowSumSquares(5, 13, x, out)
	for i := range out {
		row := x[i*13 : (i+1)*13]
		if want := dot(row, row); math.Abs(out[i]-want) > 1e-14*want {
			t.Errorf("row %d: %v, want %v", i, out[i], want)
		}
	}
	mustPanic(t, "row sum of squares: rows 0 and cols 3", func() { RowSumSquares(0, 3, x[:0], out[:0]) })
	mustPanic(t, "row sum of squares: len(x)", func() { RowSumSquares(2, 3, x[:5], out[:2]) })
}
