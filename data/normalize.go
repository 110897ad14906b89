package data

import (
	"fmt"
	"math"
	"slices"
)

// Stats are per-channel means and standard deviations.
type Stats struct {
	Mean, Std []float32
}

// Published training-set statistics of the raw [0, 1] intensities. They are
// shared values: copy before modifying.
var (
	MNISTStats        = Stats{Mean: []float32{0.1307}, Std: []float32{0.3081}}
	FashionMNISTStats = Stats{Mean: []float32{0.2860}, Std: []float32{0.3530}}
	CIFAR10Stats      = Stats{
		Mean: []float32{0.4914, 0.4822, 0.4465},
		Std:  []float32{0.2470, 0.2435, 0.2616},
	}
)

// ComputeStats returns the per-channel mean and population standard
// deviation over all pixels of all samples of d, accumulated in float64.
func ComputeStats(d *Dataset) Stats {
	hw := d.H * d.W
	sum := make([]float64, d.C)
	sq := make([]float64, d.C)
	for i := range d.N {
		img := d.Image(i)
		for c := range d.C {
			var s, q float64
			for _, v := range img[c*hw : (c+1)*hw] {
				s += float64(v)
				q += float64(v) * float64(v)
			}
			sum[c] += s
			sq[c] += q
		}
	}
	n := float64(d.N * hw)
	st := Stats{Mean: make([]float32, d.C), Std: make([]float32, d.C)}
	for c := range d.C {
		m := sum[c] / n
		st.Mean[c] = float32(m)
		st.Std[c] = float32(math.Sqrt(max(sq[c]/n-m*m, 0)))
	}
	return st
}

// Normalize rewrites d.Images in place to (x-mean)/std per channel and
// records s in d.Mean and d.Std. It refuses a dataset that is already
// normalized, a channel count mismatch and non-positive or non-finite
// statistics. Normalize the test split with the training split's Stats.
func (d *Dataset) Normalize(s Stats) error {
	if d.Mean != nil {
		return fmt.Errorf("data: dataset is already normalized (mean %v, std %v)", d.Mean, d.Std)
	}
	if len(s.Mean) != d.C || len(s.Std) != d.C {
		return fmt.Errorf("data: normalization has %d means and %d stds for %d channels", len(s.Mean), len(s.Std), d.C)
	}
	for c := range d.C {
		m, sd := float64(s.Mean[c]), float64(s.Std[c])
		if math.IsNaN(m) || math.IsInf(m, 0) || !(sd > 0) || math.IsInf(sd, 0) {
			return fmt.Errorf("data: channel %d normalization mean %v std %v is not usable", c, m, sd)
		}
	}
	hw := d.H * d.W
	for i := range d.N {
		img := d.Image(i)
		for c := range d.C {
			m, inv := s.Mean[c], 1/s.Std[c]
			plane := img[c*hw : (c+1)*hw]
			for j, v := range plane {
				plane[j] = (v - m) * inv
			}
		}
	}
	d.Mean, d.Std = slices.Clone(s.Mean), slices.Clone(s.Std)
	return nil
}
