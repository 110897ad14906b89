package data

import (
	"math"
	"os"
	"testing"
)

// fashionDir is where Debian's dataset-fashion-mnist package installs the
// data set.
const fashionDir = "/usr/share/datasets/fashion-mnist"

func TestFashionMNISTReal(t *testing.T) {
	if _, err := os.Stat(fashionDir); err != nil {
		t.Skipf("real Fashion-MNIST not available (%v); install Debian's dataset-fashion-mnist", err)
	}
	if testing.Short() {
		t.Skip("loading 70,000 real images is skipped in -short mode")
	}
	for _, tc := range []struct {
		split    Split
		n        int
		perClass int
	}{
		{Train, 60000, 6000},
		{Test, 10000, 1000},
	} {
		t.Run(string(tc.split), func(t *testing.T) {
			d, err := LoadFashionMNIST(fashionDir, tc.split)
			if err != nil {
				t.Fatal(err)
			}
			if d.N != tc.n || d.C != 1 || d.H != 28 || d.W != 28 {
				t.Fatalf("shape %dx%dx%dx%d, want %dx1x28x28", d.N, d.C, d.H, d.W, tc.n)
			}
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			count := make([]int, 10)
			for _, l := range d.Labels {
				if l < 0 || l > 9 {
					t.Fatalf("label %d", l)
				}
				count[l]++
			}
			for k, c := range count {
				if c != tc.perClass {
					t.Fatalf("class %d (%s) has %d images, want %d", k, d.Classes[k], c, tc.perClass)
				}
			}
			if tc.split == Train {
				s := ComputeStats(d)
				want := FashionMNISTStats
				if math.Abs(float64(s.Mean[0]-want.Mean[0])) > 1e-3 || math.Abs(float64(s.Std[0]-want.Std[0])) > 1e-3 {
					t.Fatalf("stats %+v, published %+v", s, want)
				}
			}
		})
	}
}
