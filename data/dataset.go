package data

import (
	"fmt"
	"slices"
)

// Split selects the training or test part of a standard dataset.
type Split string

// The two splits of MNIST, Fashion-MNIST and CIFAR-10.
const (
	Train Split = "train"
	Test  Split = "test"
)

// Dataset is a labelled image set held in memory.
//
// Images holds N samples of C×H×W float32 values, sample-major and planar
// (NCHW), so sample i is Images[i*C*H*W : (i+1)*C*H*W]. Loaders store pixel
// intensities scaled to [0, 1]; Normalize rewrites them in place to
// (x-mean)/std per channel and records the statistics in Mean and Std.
// Labels[i] is the class of sample i, an index into Classes.
type Dataset struct {
	Images     []float32
	Labels     []int32
	N, C, H, W int
	Classes    []string

	// Mean and Std are the per-channel statistics Normalize applied, or nil
	// while Images still hold raw [0, 1] intensities.
	Mean, Std []float32
}

// SampleSize is the number of float32 values in one image, C*H*W.
func (d *Dataset) SampleSize() int { return d.C * d.H * d.W }

// NumClasses is len(Classes).
func (d *Dataset) NumClasses() int { return len(d.Classes) }

// Image returns sample i's C×H×W values (a view, not a copy).
func (d *Dataset) Image(i int) []float32 {
	s := d.SampleSize()
	return d.Images[i*s : (i+1)*s : (i+1)*s]
}

// Validate checks that the shape fields, buffers and labels agree.
func (d *Dataset) Validate() error {
	switch {
	case d.N <= 0 || d.C <= 0 || d.H <= 0 || d.W <= 0:
		return fmt.Errorf("data: dataset shape %dx%dx%dx%d has a non-positive dimension", d.N, d.C, d.H, d.W)
	case len(d.Images) != d.N*d.SampleSize():
		return fmt.Errorf("data: dataset has %d image values, want N*C*H*W = %d", len(d.Images), d.N*d.SampleSize())
	case len(d.Labels) != d.N:
		return fmt.Errorf("data: dataset has %d labels, want N = %d", len(d.Labels), d.N)
	case len(d.Classes) == 0:
		return fmt.Errorf("data: dataset has no class names")
	case (d.Mean == nil) != (d.Std == nil) || (d.Mean != nil && (len(d.Mean) != d.C || len(d.Std) != d.C)):
		return fmt.Errorf("data: dataset normalization has %d means and %d stds for %d channels", len(d.Mean), len(d.Std), d.C)
	}
	k := int32(len(d.Classes))
	for i, l := range d.Labels {
		if l < 0 || l >= k {
			return fmt.Errorf("data: sample %d has label %d, want 0..%d", i, l, k-1)
		}
	}
	return nil
}

// Subset returns a new dataset holding copies of the given samples, in that
// order (indices may repeat). Classes and normalization carry over.
func (d *Dataset) Subset(indices []int) (*Dataset, error) {
	s := d.SampleSize()
	out := &Dataset{
		Images:  make([]float32, 0, len(indices)*s),
		Labels:  make([]int32, 0, len(indices)),
		N:       len(indices),
		C:       d.C,
		H:       d.H,
		W:       d.W,
		Classes: slices.Clone(d.Classes),
		Mean:    slices.Clone(d.Mean),
		Std:     slices.Clone(d.Std),
	}
	for _, i := range indices {
		if i < 0 || i >= d.N {
			return nil, fmt.Errorf("data: subset index %d out of range [0, %d)", i, d.N)
		}
		out.Images = append(out.Images, d.Image(i)...)
		out.Labels = append(out.Labels, d.Labels[i])
	}
	return out, nil
}

// BlackLevel returns, per channel, the value a raw black pixel (intensity 0)
// has in this dataset's current space: 0 before normalization, -mean/std
// after. Augment pads with it by default, matching pipelines that pad
// images before normalizing them.
func (d *Dataset) BlackLevel() []float32 {
	out := make([]float32, d.C)
	if d.Mean != nil {
		for c := range out {
			out[c] = -d.Mean[c] / d.Std[c]
		}
	}
	return out
}

// classNames returns "0".."k-1".
func classNames(k int) []string {
	out := make([]string, k)
	for i := range out {
		out[i] = fmt.Sprint(i)
	}
	return out
}
