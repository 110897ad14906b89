package data

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

func TestPermutation(t *testing.T) {
	for _, n := range []int{0, 1, 2, 7, 1000} {
		p := Permutation(n, 7, 3)
		s := slices.Sorted(slices.Values(p))
		for i, v := range s {
			if v != i {
				t.Fatalf("n=%d: not a permutation: %v", n, p)
			}
		}
		if !slices.Equal(p, Permutation(n, 7, 3)) {
			t.Fatalf("n=%d: not deterministic", n)
		}
	}
	a, b, c := Permutation(1000, 7, 3), Permutation(1000, 7, 4), Permutation(1000, 8, 3)
	if slices.Equal(a, b) || slices.Equal(a, c) {
		t.Fatal("epoch or seed does not change the order")
	}
}

// TestPermutationGolden pins the sequence: it depends only on PCG's
// specified output and this package's code, so it must not change with Go
// releases (a change would break resuming old checkpoints).
func TestPermutationGolden(t *testing.T) {
	got := fmt.Sprint(Permutation(10, 1, 0), Permutation(10, 1, 1))
	const want = "[1 2 8 4 3 5 7 0 6 9] [0 9 7 8 1 3 4 2 5 6]"
	if got != want {
		t.Fatalf("Permutation golden values changed:\n got %s\nwant %s", got, want)
	}
}

func TestPermutationUniform(t *testing.T) {
	// All 24 orders of 4 items over 24,000 epochs: 1000 each expected;
	// chi-square with 23 degrees of freedom, p = 0.001 critical value 49.7.
	count := map[string]int{}
	const epochs = 24000
	for e := range epochs {
		count[fmt.Sprint(Permutation(4, 5, e))]++
	}
	if len(count) != 24 {
		t.Fatalf("%d distinct orders, want 24", len(count))
	}
	chi := 0.0
	for _, c := range count {
		d := float64(c) - 1000
		chi += d * d / 1000
	}
	if chi > 49.7 {
		t.Fatalf("chi-square %.1f: orders not uniform: %v", chi, count)
	}
}

func TestRNGDistributions(t *testing.T) {
	var r rng
	r.seedAt(1, 2, 3, 4, 5)
	const n = 40000
	hits := make([]int, 6)
	for range n {
		hits[r.intn(6)]++
	}
	for i, h := range hits {
		if math.Abs(float64(h)-n/6) > 5*math.Sqrt(n/6) {
			t.Fatalf("intn(6) bucket %d has %d of %d", i, h, n)
		}
	}
	for _, a := range []float64{0.2, 1, 4} {
		var sum, sq float64
		for range n {
			x := r.beta(a)
			if x < 0 || x > 1 {
				t.Fatalf("beta(%v) = %v", a, x)
			}
			sum += x
			sq += x * x
		}
		mean := sum / n
		v := sq/n - mean*mean
		if wantV := 1 / (4 * (2*a + 1)); math.Abs(mean-.5) > .01 || math.Abs(v-wantV) > .05*wantV {
			t.Fatalf("beta(%v): mean %.4f var %.4f, want .5 and %.4f", a, mean, v, wantV)
		}
	}
}
