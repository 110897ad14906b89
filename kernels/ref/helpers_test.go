package ref

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// newRand returns a deterministic generator for one test.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x6e66766b)) }

// randn returns n standard normal float64 values.
func randn(r *rand.Rand, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = r.NormFloat64()
	}
	return x
}

// Finite differences: every backward is checked against central differences
// of the float64 forward, with step fdStep * min(1, std(param)) (so that
// tensors of tiny spread are probed at their own scale), on the scalar loss
// L = sum(out * r) for a fixed random r, so that dL/dout = r.
//
// Error measure for one probed element: |fd - analytic| / max(|analytic|,
// 1e-2 * max|analytic over the tensor|), which must be <= fdTol. The floor
// keeps elements whose true gradient is ~0 from dividing by ~0. The step
// balances truncation error (O(step^2), about 1e-7 for GELU) against the
// roundoff of long sums (the 1000-class losses); the measured worst case
// over all tests is 2e-7.
const (
	fdStep = 1e-4
	fdTol  = 1e-6
)

// checkGrad compares grad (the analytic dL/dparam) with central differences
// of loss, perturbing param in place, at up to probes indices (all of them if
// probes <= 0 or len(param) <= probes; otherwise the first, the last and
// random others).
func checkGrad(t *testing.T, name string, r *rand.Rand, param, grad []float64, loss func() float64, probes int) {
	t.Helper()
	if len(param) != len(grad) {
		t.Fatalf("%s: len(param) %d != len(grad) %d", name, len(param), len(grad))
	}
	idx := make([]int, 0, len(param))
	if probes <= 0 || len(param) <= probes {
		for i := range param {
			idx = append(idx, i)
		}
	} else {
		idx = append(idx, 0, len(param)-1)
		for len(idx) < probes {
			idx = append(idx, r.IntN(len(param)))
		}
	}
	gmax := 0.0
	for _, g := range grad {
		gmax = max(gmax, math.Abs(g))
	}
	floor := max(1e-2*gmax, 1e-300)
	mean, sq := 0.0, 0.0
	for _, p := range param {
		mean += p
	}
	mean /= float64(len(param))
	for _, p := range param {
		sq += (p - mean) * (p - mean)
	}
	h := fdStep
	if len(param) > 1 {
		h *= min(1, max(math.Sqrt(sq/float64(len(param))), 1e-6))
	}
	worst := 0.0
	for _, i := range idx {
		orig := param[i]
		param[i] = orig + h
		lp := loss()
		param[i] = orig - h
		lm := loss()
		param[i] = orig
		fd := (lp - lm) / (2 * h)
		e := math.Abs(fd-grad[i]) / max(math.Abs(grad[i]), floor)
		worst = max(worst, e)
		if e > fdTol {
			t.Errorf("%s[%d]: analytic %.12g, finite difference %.12g, rel err %.3g > %g", name, i, grad[i], fd, e, fdTol)
			return
		}
	}
	if gmax == 0 && len(grad) > 0 {
		t.Logf("%s: gradient identically zero", name)
	}
	if testing.Verbose() {
		t.Logf("%s: worst rel err %.3g over %d probes", name, worst, len(idx))
	}
}

// dot is sum(a*b) for the loss L = sum(out * r).
func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// maxRelDiff returns max |a-b| / max(max|b|, tiny): the difference relative
// to the largest reference value.
func maxRelDiff(a, b []float64) float64 {
	scale, diff := 0.0, 0.0
	for i := range b {
		scale = max(scale, math.Abs(b[i]))
		diff = max(diff, math.Abs(a[i]-b[i]))
	}
	return diff / max(scale, 1e-300)
}

// mustPanic runs f and fails unless it panics with a message containing want.
func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("no panic, want one containing %q", want)
			return
		}
		var msg string
		switch v := r.(type) {
		case error:
			msg = v.Error()
		case string:
			msg = v
		}
		if !strings.Contains(msg, want) {
			t.Errorf("panic %q does not contain %q", msg, want)
		}
	}()
	f()
}

func f32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}
