package data

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestComputeStatsAndNormalize(t *testing.T) {
	// Two samples of 2 channels × 1×2: channel 0 is {0, 1, 0, 1}
	// (mean .5, std .5), channel 1 is {.2, .2, .2, .2} (std 0).
	d := &Dataset{
		Images: []float32{0, 1, .2, .2, 0, 1, .2, .2},
		Labels: []int32{0, 1},
		N:      2, C: 2, H: 1, W: 2,
		Classes: classNames(2),
	}
	s := ComputeStats(d)
	if !near(float64(s.Mean[0]), .5, 1e-7) || !near(float64(s.Std[0]), .5, 1e-7) ||
		!near(float64(s.Mean[1]), .2, 1e-7) || !near(float64(s.Std[1]), 0, 1e-4) {
		t.Fatalf("stats %+v", s)
	}
	if err := d.Normalize(s); err == nil {
		t.Fatal("zero std accepted")
	}
	s.Std[1] = .1
	if err := d.Normalize(s); err != nil {
		t.Fatal(err)
	}
	want := []float32{-1, 1, 0, 0, -1, 1, 0, 0}
	for i, v := range d.Images {
		if !near(float64(v), float64(want[i]), 1e-6) {
			t.Fatalf("normalized %v, want %v", d.Images, want)
		}
	}
	if bl := d.BlackLevel(); !near(float64(bl[0]), -1, 1e-6) || !near(float64(bl[1]), -2, 1e-6) {
		t.Fatalf("black level %v", bl)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := d.Normalize(s); err == nil {
		t.Fatal("normalizing twice accepted")
	}
}

func TestNormalizeRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Stats
	}{
		{"channel count", CIFAR10Stats},
		{"negative std", Stats{Mean: []float32{0}, Std: []float32{-1}}},
		{"NaN mean", Stats{Mean: []float32{float32(math.NaN())}, Std: []float32{1}}},
		{"Inf std", Stats{Mean: []float32{0}, Std: []float32{float32(math.Inf(1))}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := synthetic(2, 1, 2, 2, 2)
			if err := d.Normalize(tc.s); err == nil {
				t.Fatal("accepted")
			}
			if d.Mean != nil {
				t.Fatal("recorded stats after refusing")
			}
		})
	}
}

func TestDatasetValidateAndSubset(t *testing.T) {
	d := synthetic(5, 1, 2, 2, 3)
	sub, err := d.Subset([]int{4, 0, 4})
	if err != nil {
		t.Fatal(err)
	}
	if sub.N != 3 || sub.Labels[0] != d.Labels[4] || sub.Image(2)[3] != d.Image(4)[3] || sub.Image(1)[0] != d.Image(0)[0] {
		t.Fatalf("subset %+v", sub)
	}
	sub.Images[0] = 42
	if d.Image(4)[0] == 42 {
		t.Fatal("subset aliases the dataset")
	}
	if _, err := d.Subset([]int{5}); err == nil {
		t.Fatal("out-of-range index accepted")
	}

	for _, tc := range []struct {
		name    string
		corrupt func(*Dataset)
	}{
		{"zero N", func(d *Dataset) { d.N = 0 }},
		{"short images", func(d *Dataset) { d.Images = d.Images[1:] }},
		{"short labels", func(d *Dataset) { d.Labels = d.Labels[1:] }},
		{"no classes", func(d *Dataset) { d.Classes = nil }},
		{"label too big", func(d *Dataset) { d.Labels[2] = 3 }},
		{"negative label", func(d *Dataset) { d.Labels[2] = -1 }},
		{"half normalized", func(d *Dataset) { d.Mean = []float32{0} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := synthetic(5, 1, 2, 2, 3)
			tc.corrupt(d)
			if err := d.Validate(); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
