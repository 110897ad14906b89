package ref

import "fmt"

// LinearShape describes a fully connected layer y[N, Out] = x[N, In] W^T + b
// with PyTorch's weight layout W[Out, In] and bias b[Out].
type LinearShape struct {
	N, In, Out int
}

// Validate rejects non-positive sizes.
func (s LinearShape) Validate() error {
	if s.N <= 0 || s.In <= 0 || s.Out <= 0 {
		return fmt.Errorf("linear: N, In, Out must be positive: %+v", s)
	}
	return nil
}

// Linear computes y = x W^T + bias; bias may be nil.
func Linear[T Float](s LinearShape, x, w, bias, y []T) {
	mustValidate(s)
	checkLen("linear", "x", len(x), s.N*s.In)
	checkLen("linear", "w", len(w), s.Out*s.In)
	checkLen("linear", "y", len(y), s.N*s.Out)
	beta := 0.0
	if bias != nil {
		checkLen("linear", "bias", len(bias), s.Out)
		for n := 0; n < s.N; n++ {
			copy(y[n*s.Out:(n+1)*s.Out], bias)
		}
		beta = 1
	}
	GEMM(GEMMShape{M: s.N, N: s.Out, K: s.In, TransB: true}, 1, x, w, beta, y)
}

// LinearBackwardData computes dx = dy W.
func LinearBackwardData[T Float](s LinearShape, dy, w, dx []T) {
	mustValidate(s)
	checkLen("linear backward data", "dy", len(dy), s.N*s.Out)
	checkLen("linear backward data", "w", len(w), s.Out*s.In)
	checkLen("linear backward data", "dx", len(dx), s.N*s.In)
	GEMM(GEMMShape{M: s.N, N: s.In, K: s.Out}, 1, dy, w, 0, dx)
}

// LinearBackwardWeight computes dw = dy^T x.
func LinearBackwardWeight[T Float](s LinearShape, x, dy, dw []T) {
	mustValidate(s)
	checkLen("linear backward weight", "x", len(x), s.N*s.In)
	checkLen("linear backward weight", "dy", len(dy), s.N*s.Out)
	checkLen("linear backward weight", "dw", len(dw), s.Out*s.In)
	GEMM(GEMMShape{M: s.Out, N: s.In, K: s.N, TransA: true}, 1, dy, x, 0, dw)
}

// LinearBackwardBias computes db[o] = sum over n of dy[n, o].
func LinearBackwardBias[T Float](s LinearShape, dy, db []T) {
	mustValidate(s)
	checkLen("linear backward bias", "dy", len(dy), s.N*s.Out)
	checkLen("linear backward bias", "db", len(db), s.Out)
	for o := 0; o < s.Out; o++ {
		sum := 0.0
		for n := 0; n < s.N; n++ {
			sum += float64(dy[n*s.Out+o])
		}
		db[o] = T(sum)
	}
}
