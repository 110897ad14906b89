package ref

import "fmt"

// Fill sets every element of x to v.
func Fill[T Float](x []T, v T) {
	for i := range x {
		x[i] = v
	}
}

// Copy copies src into dst, which must have the same length.
func Copy[T Float](dst, src []T) {
	checkLen("copy", "dst", len(dst), len(src))
	copy(dst, src)
}

// Scale computes x = alpha * x in place (the product in float64, rounded to T).
func Scale[T Float](alpha float64, x []T) {
	for i, v := range x {
		x[i] = T(alpha * float64(v))
	}
}

// Axpy computes y = alpha*x + y (in float64, rounded to T once).
func Axpy[T Float](alpha float64, x, y []T) {
	checkLen("axpy", "y", len(y), len(x))
	for i, v := range x {
		y[i] = T(alpha*float64(v) + float64(y[i]))
	}
}

// Mul computes the elementwise product z = x * y (a single multiplication in
// T). z may alias x or y.
func Mul[T Float](x, y, z []T) {
	checkLen("mul", "y", len(y), len(x))
	checkLen("mul", "z", len(z), len(x))
	for i := range x {
		z[i] = x[i] * y[i]
	}
}

// Sum returns the sum of x, accumulated in float64.
func Sum[T Float](x []T) float64 {
	s := 0.0
	for _, v := range x {
		s += float64(v)
	}
	return s
}

// Mean returns the mean of x (NaN for an empty x).
func Mean[T Float](x []T) float64 { return Sum(x) / float64(len(x)) }

// Dot returns sum(x*y), accumulated in float64.
func Dot[T Float](x, y []T) float64 {
	checkLen("dot", "y", len(y), len(x))
	s := 0.0
	for i := range x {
		s += float64(x[i]) * float64(y[i])
	}
	return s
}

// RowSumSquares computes out[r] = sum over c of x[r*cols+c]^2 for a
// row-major rows x cols matrix: the squared unit norms of adaptive gradient
// clipping (a conv weight OIHW is O rows of (C/Groups)*KH*KW, a linear
// weight Out rows of In).
func RowSumSquares[T Float](rows, cols int, x, out []T) {
	if rows <= 0 || cols <= 0 {
		panic(fmt.Sprintf("row sum of squares: rows %d and cols %d must be positive", rows, cols))
	}
	checkLen("row sum of squares", "x", len(x), rows*cols)
	checkLen("row sum of squares", "out", len(out), rows)
	for r := range out {
		s := 0.0
		for _, v := range x[r*cols : (r+1)*cols] {
			s += float64(v) * float64(v)
		}
		out[r] = T(s)
	}
}
