package data

import (
	"fmt"
	"sync"
)

// Transform is how a streaming pipeline turns an encoded image into a
// model input of Size×Size RGB.
//
// Training (Train set): an Inception random-resized crop (area 8-100%,
// aspect 3/4-4/3) resized to Size, a horizontal flip with probability
// 1/2 when HFlip is set, then RandAugment on the 8-bit result.
// Evaluation: the image resized so its short side is Size+EvalBorder and
// its centre Size×Size kept (computed as one crop and one resize).
// JPEGs decode at the largest DCT scale that keeps the crop at least
// Size pixels wide (libjpeg-turbo builds). Resizing is antialiased
// bilinear. The 8-bit values become intensities in [0, 1], normalised by
// Mean and Std when given.
type Transform struct {
	Size        int
	Train       bool
	HFlip       bool
	RandAugment RandAugment
	// Mean and Std of the [0, 1] intensities per channel (3 each), or nil.
	Mean, Std []float32
	// MaxPixels caps the pixels a header may declare (0: DefaultMaxPixels).
	MaxPixels int
}

// Stream is a Source with its Transform: what NewStreamPipeline makes
// batches of.
type Stream struct {
	src  Source
	t    Transform
	pool sync.Pool // *streamScratch
}

// streamScratch is one goroutine's buffers, reused across samples.
type streamScratch struct {
	buf           []byte
	dec, out, tmp RGB8
	rs            resampler
}

// NewStream checks t and pairs it with src.
func NewStream(src Source, t Transform) (*Stream, error) {
	switch {
	case src == nil || src.Len() == 0:
		return nil, fmt.Errorf("data: stream: no samples")
	case t.Size <= 0 || t.Size > 4096:
		return nil, fmt.Errorf("data: stream: size %d, want 1-4096", t.Size)
	case (t.Mean == nil) != (t.Std == nil) || (t.Mean != nil && (len(t.Mean) != 3 || len(t.Std) != 3)):
		return nil, fmt.Errorf("data: stream: %d means and %d stds, want 3 each or none", len(t.Mean), len(t.Std))
	case !t.Train && (t.HFlip || t.RandAugment.Enabled()):
		return nil, fmt.Errorf("data: stream: flips and RandAugment are for training transforms")
	}
	if err := t.RandAugment.validate(); err != nil {
		return nil, err
	}
	if t.MaxPixels <= 0 {
		t.MaxPixels = DefaultMaxPixels
	}
	for c := range t.Std {
		if !(t.Std[c] > 0) {
			return nil, fmt.Errorf("data: stream: std[%d] = %v, want > 0", c, t.Std[c])
		}
	}
	return &Stream{src: src, t: t}, nil
}

// Source is the stream's source.
func (s *Stream) Source() Source { return s.src }

// Transform is the stream's transform.
func (s *Stream) Transform() Transform { return s.t }

// Image8 makes sample i's 8-bit image as the transform would with the
// random stream r (nil for evaluation): decode, crop, resize, flip,
// RandAugment.
func (s *Stream) image8(i int, r *rng, sc *streamScratch) (*RGB8, error) {
	var err error
	name := s.src.Name(i)
	if sc.buf, err = s.src.Read(i, sc.buf); err != nil {
		return nil, err
	}
	w, h, _, err := imageHeader(sc.buf, name, s.t.MaxPixels)
	if err != nil {
		return nil, err
	}
	var c CropRect
	flip := false
	if s.t.Train {
		c = randomResizedCrop(w, h, r)
		flip = s.t.HFlip && r.coin()
	} else {
		c = evalCrop(w, h, s.t.Size)
	}
	if _, _, err := decodeImage8(sc.buf, name, s.t.MaxPixels, dctDenom(c, s.t.Size), &sc.dec); err != nil {
		return nil, err
	}
	// The decoder may have scaled the image down: map the crop onto it.
	fx, fy := float64(sc.dec.W)/float64(w), float64(sc.dec.H)/float64(h)
	c = CropRect{c.X * fx, c.Y * fy, c.W * fx, c.H * fy}
	sc.rs.resize(&sc.out, &sc.dec, c, s.t.Size, flip)
	if s.t.Train && s.t.RandAugment.Enabled() {
		s.t.RandAugment.apply(&sc.out, &sc.tmp, r)
	}
	return &sc.out, nil
}

// samples writes rows [lo, hi) of b (indices already set) into out.
func (s *Stream) samples(out []float32, b *Batch, seed uint64, pos Position, lo, hi int) error {
	sc, _ := s.pool.Get().(*streamScratch)
	if sc == nil {
		sc = new(streamScratch)
	}
	defer s.pool.Put(sc)
	n := 3 * s.t.Size * s.t.Size
	var r rng
	for i := lo; i < hi; i++ {
		r.seedAt(seed, streamSample, uint64(pos.Epoch), uint64(pos.Step), uint64(i))
		m, err := s.image8(b.Indices[i], &r, sc)
		if err != nil {
			return err
		}
		s.planar(out[i*n:(i+1)*n], m)
	}
	return nil
}

// planar writes m as normalised planar float32 values.
func (s *Stream) planar(dst []float32, m *RGB8) {
	hw := m.W * m.H
	for c := range 3 {
		scale, shift := float32(1), float32(0)
		if s.t.Mean != nil {
			scale, shift = 1/s.t.Std[c], -s.t.Mean[c]/s.t.Std[c]
		}
		plane := dst[c*hw : (c+1)*hw]
		for i := range plane {
			plane[i] = unit[m.Pix[3*i+c]]*scale + shift
		}
	}
}

// NewStreamPipeline makes batches of a stream: cfg as for NewPipeline,
// except that augmentation is the stream's Transform (cfg.Augment must be
// nil). The pipeline stays a pure function of (Seed, Position): each
// sample's crop, flip and RandAugment draw from its own stream.
func NewStreamPipeline(st *Stream, cfg Config) (*Pipeline, error) {
	if st == nil {
		return nil, fmt.Errorf("data: stream pipeline: no stream")
	}
	if cfg.Augment != nil {
		return nil, fmt.Errorf("data: stream pipeline: Config.Augment is for in-memory datasets; the stream's Transform augments")
	}
	sz := st.t.Size
	p := &Pipeline{st: st, cfg: cfg, orderEpoch: -1, shape: shape{st.src.Len(), 3, sz, sz, len(st.src.Classes())}}
	if err := p.setup(); err != nil {
		return nil, err
	}
	return p, nil
}

// Shape is the batches' sample shape (channels, height, width) and class
// count.
func (p *Pipeline) Shape() (c, h, w, k int) { return p.c, p.h, p.w, p.k }

// Len is the number of samples an epoch visits.
func (p *Pipeline) Len() int { return p.n }
