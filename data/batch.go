package data

import "slices"

// Batch is one training step's input, as a Pipeline or Loader produces it.
//
// Images holds N samples NCHW. Labels always holds each row's hard label
// (for a mixed row, that of its base sample), e.g. for accuracy. Targets is
// nil when the configuration produces hard labels only; with Mix or label
// smoothing it holds an N×K row-major matrix of target distributions (each
// row sums to 1), and the loss should use it instead of Labels.
// SoftTargets gives the loss one form to consume either way.
//
// With the PadLast remainder policy the last batch of an epoch is filled up
// to N rows by wrapping around to the start of the epoch's order; only the
// first Valid rows are new samples, and evaluation should count just
// those. Valid == N otherwise.
type Batch struct {
	Images        []float32
	Labels        []int32
	Targets       []float32
	Indices       []int // dataset index of each row (its base sample when mixed)
	N, C, H, W, K int
	Valid         int
	Pos           Position // the (epoch, step) this batch is
	// With Mix: row i shows Lam[i] of sample i and 1-Lam[i] of row
	// Partner[i] (by area with CutMix); nil otherwise.
	Lam     []float32
	Partner []int

	stage   []float32 // unmixed samples, when mixing
	partner []int     // mixing partners
}

// SoftTargets returns the N×K target distributions: b.Targets when the
// batch has them, else one-hot rows of b.Labels written into dst (grown if
// too short). The result aliases b.Targets or dst.
func (b *Batch) SoftTargets(dst []float32) []float32 {
	if b.Targets != nil {
		return b.Targets
	}
	dst = grow(dst, b.N*b.K)
	setAll(dst, 0)
	for i, l := range b.Labels {
		dst[i*b.K+int(l)] = 1
	}
	return dst
}

// Clone returns a deep copy of b, e.g. to keep it past Recycle.
func (b *Batch) Clone() *Batch {
	c := *b
	c.Images = append([]float32(nil), b.Images...)
	c.Labels = append([]int32(nil), b.Labels...)
	c.Indices = append([]int(nil), b.Indices...)
	if b.Targets != nil {
		c.Targets = append([]float32(nil), b.Targets...)
	}
	c.Lam, c.Partner = slices.Clone(b.Lam), slices.Clone(b.Partner)
	c.stage, c.partner = nil, nil
	return &c
}

// grow returns s resliced to n, reallocating when its capacity is short.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
