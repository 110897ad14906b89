package ref

import "fmt"

// GEMMShape describes C = alpha*op(A)*op(B) + beta*C with row-major storage:
// op(A) is M x K, op(B) is K x N, C is M x N. With TransA, A is stored K x M
// and op(A) = A^T; with TransB, B is stored N x K and op(B) = B^T. LDA, LDB
// and LDC are the leading dimensions (the distance between consecutive stored
// rows, in elements); 0 means tightly packed (the stored row length).
type GEMMShape struct {
	M, N, K        int
	TransA, TransB bool
	LDA, LDB, LDC  int
}

// storedA returns the stored rows and columns of A.
func (s GEMMShape) storedA() (rows, cols int) {
	if s.TransA {
		return s.K, s.M
	}
	return s.M, s.K
}

// storedB returns the stored rows and columns of B.
func (s GEMMShape) storedB() (rows, cols int) {
	if s.TransB {
		return s.N, s.K
	}
	return s.K, s.N
}

func ldOr(ld, cols int) int {
	if ld == 0 {
		return cols
	}
	return ld
}

// Lda is the effective leading dimension of A.
func (s GEMMShape) Lda() int { _, c := s.storedA(); return ldOr(s.LDA, c) }

// Ldb is the effective leading dimension of B.
func (s GEMMShape) Ldb() int { _, c := s.storedB(); return ldOr(s.LDB, c) }

// Ldc is the effective leading dimension of C.
func (s GEMMShape) Ldc() int { return ldOr(s.LDC, s.N) }

// ALen, BLen and CLen are the minimum slice lengths: (rows-1)*ld + cols.
func (s GEMMShape) ALen() int { r, c := s.storedA(); return (r-1)*s.Lda() + c }

// BLen is the minimum length of B; see ALen.
func (s GEMMShape) BLen() int { r, c := s.storedB(); return (r-1)*s.Ldb() + c }

// CLen is the minimum length of C; see ALen.
func (s GEMMShape) CLen() int { return (s.M-1)*s.Ldc() + s.N }

// Validate rejects non-positive M, N, K and leading dimensions shorter than
// the stored rows (or negative).
func (s GEMMShape) Validate() error {
	_, ac := s.storedA()
	_, bc := s.storedB()
	switch {
	case s.M <= 0 || s.N <= 0 || s.K <= 0:
		return fmt.Errorf("gemm: M, N, K must be positive: %+v", s)
	case s.LDA < 0 || s.LDB < 0 || s.LDC < 0:
		return fmt.Errorf("gemm: leading dimensions must not be negative: %+v", s)
	case s.Lda() < ac:
		return fmt.Errorf("gemm: LDA %d < stored row length %d: %+v", s.Lda(), ac, s)
	case s.Ldb() < bc:
		return fmt.Errorf("gemm: LDB %d < stored row length %d: %+v", s.Ldb(), bc, s)
	case s.Ldc() < s.N:
		return fmt.Errorf("gemm: LDC %d < N %d: %+v", s.Ldc(), s.N, s)
	}
	return nil
}

// GEMM computes C = alpha*op(A)*op(B) + beta*C, the products summed in
// float64 and each C element rounded once. When beta == 0, C is not read (NaN
// or Inf in it does not propagate), as in BLAS. Slices may be longer than
// their minimum length; elements of C outside the M x N window are untouched.
func GEMM[T Float](s GEMMShape, alpha float64, a, b []T, beta float64, c []T) {
	mustValidate(s)
	if len(a) < s.ALen() || len(b) < s.BLen() || len(c) < s.CLen() {
		panic(fmt.Sprintf("gemm: slices too short: len(a)=%d (need %d), len(b)=%d (need %d), len(c)=%d (need %d)",
			len(a), s.ALen(), len(b), s.BLen(), len(c), s.CLen()))
	}
	lda, ldb, ldc := s.Lda(), s.Ldb(), s.Ldc()
	// Strides of op(A)[i,k] along i and k, and of op(B)[k,j] along k and j.
	ai, ak := lda, 1
	if s.TransA {
		ai, ak = 1, lda
	}
	bk, bj := ldb, 1
	if s.TransB {
		bk, bj = 1, ldb
	}
	for i := 0; i < s.M; i++ {
		for j := 0; j < s.N; j++ {
			sum := 0.0
			for k := 0; k < s.K; k++ {
				sum += float64(a[i*ai+k*ak]) * float64(b[k*bk+j*bj])
			}
			v := alpha * sum
			if beta != 0 {
				v += beta * float64(c[i*ldc+j])
			}
			c[i*ldc+j] = T(v)
		}
	}
}
