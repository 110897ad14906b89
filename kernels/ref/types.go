package ref

import "fmt"

// Float is the element type of every kernel: float32 to compare against the
// GPU, float64 for finite-difference checks.
type Float interface {
	~float32 | ~float64
}

// NCHWShape is the shape of a contiguous NCHW activation tensor.
type NCHWShape struct {
	N, C, H, W int
}

// Validate reports a non-positive size.
func (s NCHWShape) Validate() error {
	if s.N <= 0 || s.C <= 0 || s.H <= 0 || s.W <= 0 {
		return fmt.Errorf("nchw shape: all sizes must be positive: %+v", s)
	}
	return nil
}

// Len is N*C*H*W.
func (s NCHWShape) Len() int { return s.N * s.C * s.H * s.W }

// mustValidate panics with the shape's validation error, if any.
func mustValidate(v interface{ Validate() error }) {
	if err := v.Validate(); err != nil {
		panic(err)
	}
}

// mustValidateOp panics with the shape's validation error prefixed by op, for
// shape types shared by several ops.
func mustValidateOp(op string, v interface{ Validate() error }) {
	if err := v.Validate(); err != nil {
		panic(fmt.Errorf("%s: %w", op, err))
	}
}

// checkLen panics unless a slice has exactly the length the shape needs.
func checkLen(op, name string, got, want int) {
	if got != want {
		panic(fmt.Sprintf("%s: len(%s) = %d, want %d", op, name, got, want))
	}
}

// toF64 returns a float64 copy of x.
func toF64[T Float](x []T) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// storeT rounds src into dst.
func storeT[T Float](dst []T, src []float64) {
	for i, v := range src {
		dst[i] = T(v)
	}
}

// floorDiv is floor(a/b) for b > 0.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// ceilDiv is ceil(a/b) for b > 0.
func ceilDiv(a, b int) int { return -floorDiv(-a, b) }
