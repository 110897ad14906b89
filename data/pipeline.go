package data

import (
	"fmt"
	"sync"
)

// Remainder says what happens to the last N mod BatchSize samples of an
// epoch.
type Remainder int

const (
	// DropLast skips them (for training; every batch is full and new, and
	// reshuffling lets them appear in other epochs).
	DropLast Remainder = iota
	// PadLast emits a final batch topped up with samples from the start of
	// the epoch's order, with Batch.Valid telling how many rows are new
	// (for evaluation, which must see every sample exactly once).
	PadLast
)

// Position addresses one batch: the step-th batch of the epoch-th epoch,
// both from 0.
type Position struct {
	Epoch, Step int
}

// Config describes a batch stream.
type Config struct {
	BatchSize int
	// Shuffle visits each epoch in Permutation(N, Seed, epoch) order;
	// otherwise in dataset order (evaluation).
	Shuffle bool
	// Seed determines shuffling, augmentation and mixing.
	Seed      uint64
	Remainder Remainder
	// Augment, when non-nil, crops and flips each sample.
	Augment *Augment
	// Mix, when non-nil, applies MixUp/CutMix and makes soft targets.
	Mix *Mix
	// LabelSmoothing ε in [0, 1) turns targets into (1-ε)·t + ε/K; any
	// ε > 0 makes batches carry Targets.
	LabelSmoothing float32
	// Workers > 1 prepares the samples of one batch on that many
	// goroutines. The output does not depend on it.
	Workers int

	// Loader only.

	// Prefetch is how many finished batches may wait in the loader's
	// channel; 0 means 2. The producer works on one more meanwhile.
	Prefetch int
	// Start is the first batch the loader emits; set it to resume.
	Start Position
	// Epochs > 0 ends the stream (io.EOF) when epoch Epochs would begin;
	// 0 streams forever.
	Epochs int
}

// Pipeline turns a Dataset and a Config into batches. Batch is a pure
// function of the Position: the epoch's order comes from (Seed, epoch),
// each sample's augmentation from a PCG stream seeded by (Seed, epoch,
// step, row) and the batch's mixing from (Seed, epoch, step). Resuming
// from any Position therefore reproduces an uninterrupted run exactly, and
// neither prefetching nor Workers changes a single value. A Pipeline is
// safe for concurrent use; the Dataset must not change while it is in use.
type Pipeline struct {
	ds    *Dataset
	st    *Stream // instead of ds: a streaming source
	cfg   Config
	shape // of the samples made

	steps int
	fill  []float32
	soft  bool

	mu         sync.Mutex
	orderEpoch int
	order      []int
}

// NewPipeline validates ds and cfg.
func NewPipeline(ds *Dataset, cfg Config) (*Pipeline, error) {
	if err := ds.Validate(); err != nil {
		return nil, err
	}
	p := &Pipeline{ds: ds, cfg: cfg, orderEpoch: -1, shape: shape{ds.N, ds.C, ds.H, ds.W, ds.NumClasses()}}
	if err := p.setup(); err != nil {
		return nil, err
	}
	if a := cfg.Augment; a != nil {
		if err := a.validate(ds.C, ds.H, ds.W); err != nil {
			return nil, err
		}
		p.fill = a.Fill
		if p.fill == nil {
			p.fill = ds.BlackLevel()
		}
	}
	return p, nil
}

// shape is what a pipeline makes: n samples of c×h×w, k classes.
type shape struct{ n, c, h, w, k int }

// setup checks the configuration against the shape.
func (p *Pipeline) setup() error {
	cfg := p.cfg
	switch {
	case cfg.BatchSize <= 0:
		return fmt.Errorf("data: batch size %d, want > 0", cfg.BatchSize)
	case cfg.Remainder != DropLast && cfg.Remainder != PadLast:
		return fmt.Errorf("data: unknown remainder policy %d", cfg.Remainder)
	case cfg.Remainder == DropLast && p.n < cfg.BatchSize:
		return fmt.Errorf("data: %d samples make no full batch of %d (use PadLast)", p.n, cfg.BatchSize)
	case !(cfg.LabelSmoothing >= 0 && cfg.LabelSmoothing < 1):
		return fmt.Errorf("data: label smoothing %v, want [0, 1)", cfg.LabelSmoothing)
	case cfg.Workers < 0 || cfg.Prefetch < 0 || cfg.Epochs < 0:
		return fmt.Errorf("data: negative workers (%d), prefetch (%d) or epochs (%d)", cfg.Workers, cfg.Prefetch, cfg.Epochs)
	}
	p.steps = p.n / cfg.BatchSize
	if cfg.Remainder == PadLast {
		p.steps = (p.n + cfg.BatchSize - 1) / cfg.BatchSize
	}
	if cfg.Mix != nil {
		if err := cfg.Mix.validate(); err != nil {
			return err
		}
	}
	p.soft = cfg.Mix != nil || cfg.LabelSmoothing > 0
	if err := p.check(cfg.Start); err != nil {
		return fmt.Errorf("data: start: %w", err)
	}
	return nil
}

// StepsPerEpoch is the number of batches in one epoch.
func (p *Pipeline) StepsPerEpoch() int { return p.steps }

// Next returns the position after pos.
func (p *Pipeline) Next(pos Position) Position {
	if pos.Step+1 < p.steps {
		return Position{pos.Epoch, pos.Step + 1}
	}
	return Position{pos.Epoch + 1, 0}
}

// PositionAt converts a count of batches already consumed since the start
// of training into the Position of the next one.
func (p *Pipeline) PositionAt(global int) Position {
	return Position{global / p.steps, global % p.steps}
}

func (p *Pipeline) check(pos Position) error {
	if pos.Epoch < 0 || pos.Step < 0 || pos.Step >= p.steps {
		return fmt.Errorf("position %+v out of range (%d steps per epoch)", pos, p.steps)
	}
	return nil
}

// epochOrder returns the epoch's sample order, nil for dataset order.
func (p *Pipeline) epochOrder(epoch int) []int {
	if !p.cfg.Shuffle {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.orderEpoch != epoch {
		p.order, p.orderEpoch = Permutation(p.n, p.cfg.Seed, epoch), epoch
	}
	return p.order // never written after creation
}

// Batch builds the batch at pos into dst, reusing its buffers, or into a
// new Batch when dst is nil, and returns it.
func (p *Pipeline) Batch(pos Position, dst *Batch) (*Batch, error) {
	if err := p.check(pos); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	b := dst
	if b == nil {
		b = new(Batch)
	}
	bs := p.cfg.BatchSize
	s := p.c * p.h * p.w
	k := p.k
	var targets []float32
	if p.soft {
		targets = grow(b.Targets, bs*k)
	}
	*b = Batch{
		Images:  grow(b.Images, bs*s),
		Labels:  grow(b.Labels, bs),
		Targets: targets,
		Indices: grow(b.Indices, bs),
		N:       bs,
		C:       p.c,
		H:       p.h,
		W:       p.w,
		K:       k,
		Pos:     pos,
		stage:   b.stage,
		partner: b.partner,
	}
	start := pos.Step * bs
	b.Valid = min(bs, p.n-start)
	order := p.epochOrder(pos.Epoch)
	for i := range bs {
		idx := (start + i) % p.n
		if order != nil {
			idx = order[idx]
		}
		b.Indices[i] = idx
		b.Labels[i] = p.label(idx)
	}

	out := b.Images
	if p.cfg.Mix != nil {
		b.stage = grow(b.stage, bs*s)
		b.partner = grow(b.partner, bs)
		out = b.stage
	}
	if err := p.allSamples(out, b, pos); err != nil {
		return nil, err
	}

	switch {
	case p.cfg.Mix != nil:
		var r rng
		r.seedAt(p.cfg.Seed, streamBatch, uint64(pos.Epoch), uint64(pos.Step), 0)
		p.cfg.Mix.apply(b, &r)
	case p.soft:
		setAll(b.Targets, 0)
		for i, l := range b.Labels {
			b.Targets[i*b.K+int(l)] = 1
		}
	}
	if p.soft {
		smooth(b.Targets, b.K, p.cfg.LabelSmoothing)
	}
	return b, nil
}

// allSamples writes every row of the batch into out, on Workers
// goroutines; the first error (in row order) wins.
func (p *Pipeline) allSamples(out []float32, b *Batch, pos Position) error {
	bs := b.N
	w := max(min(p.cfg.Workers, bs), 1)
	errs := make([]error, w)
	if w == 1 {
		errs[0] = p.samples(out, b, pos, 0, bs)
	} else {
		var wg sync.WaitGroup
		for k := range w {
			wg.Go(func() { errs[k] = p.samples(out, b, pos, k*bs/w, (k+1)*bs/w) })
		}
		wg.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// label is sample idx's class.
func (p *Pipeline) label(idx int) int32 {
	if p.st != nil {
		return p.st.src.Label(idx)
	}
	return p.ds.Labels[idx]
}

// samples writes rows [lo, hi) of the batch, augmented, into out.
func (p *Pipeline) samples(out []float32, b *Batch, pos Position, lo, hi int) error {
	if p.st != nil {
		return p.st.samples(out, b, p.cfg.Seed, pos, lo, hi)
	}
	ds := p.ds
	s := ds.SampleSize()
	var r rng
	for i := lo; i < hi; i++ {
		src, dst := ds.Image(b.Indices[i]), out[i*s:(i+1)*s]
		if a := p.cfg.Augment; a != nil {
			r.seedAt(p.cfg.Seed, streamSample, uint64(pos.Epoch), uint64(pos.Step), uint64(i))
			Warp(dst, src, ds.C, ds.H, ds.W, a.draw(&r, ds.W), p.fill)
		} else {
			copy(dst, src)
		}
	}
	return nil
}
