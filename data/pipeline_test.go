package data

import (
	"reflect"
	"slices"
	"testing"
)

func TestPipelineEpochCoverage(t *testing.T) {
	for _, tc := range []struct {
		name      string
		n, bs     int
		rem       Remainder
		shuffle   bool
		steps     int
		lastValid int
	}{
		{"drop last", 10, 3, DropLast, true, 3, 3},
		{"drop last exact", 12, 3, DropLast, true, 4, 3},
		{"pad last", 10, 4, PadLast, true, 3, 2},
		{"pad last sequential", 10, 4, PadLast, false, 3, 2},
		{"pad batch larger than dataset", 3, 8, PadLast, true, 1, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := synthetic(tc.n, 1, 2, 2, 2)
			p, err := NewPipeline(d, Config{BatchSize: tc.bs, Remainder: tc.rem, Shuffle: tc.shuffle, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if p.StepsPerEpoch() != tc.steps {
				t.Fatalf("%d steps, want %d", p.StepsPerEpoch(), tc.steps)
			}
			for epoch := range 3 {
				var valid, all []int
				for step := range tc.steps {
					b, err := p.Batch(Position{epoch, step}, nil)
					if err != nil {
						t.Fatal(err)
					}
					if b.N != tc.bs || len(b.Images) != tc.bs*4 || len(b.Labels) != tc.bs {
						t.Fatalf("batch of %d rows, %d values", b.N, len(b.Images))
					}
					want := tc.bs
					if step == tc.steps-1 {
						want = tc.lastValid
					}
					if b.Valid != want {
						t.Fatalf("step %d valid %d, want %d", step, b.Valid, want)
					}
					for i, idx := range b.Indices {
						if b.Labels[i] != d.Labels[idx] || !slices.Equal(b.Images[i*4:(i+1)*4], d.Image(idx)) {
							t.Fatalf("row %d does not hold sample %d", i, idx)
						}
					}
					valid = append(valid, b.Indices[:b.Valid]...)
					all = append(all, b.Indices...)
				}
				// The valid rows are distinct samples; with PadLast they are all of them.
				if s := slices.Compact(slices.Sorted(slices.Values(valid))); len(s) != len(valid) {
					t.Fatalf("epoch %d repeats samples: %v", epoch, valid)
				}
				if tc.rem == PadLast && len(valid) != tc.n {
					t.Fatalf("epoch %d covers %d of %d samples", epoch, len(valid), tc.n)
				}
				if tc.rem == PadLast {
					// Padding wraps around to the epoch's first samples.
					for i := len(valid); i < len(all); i++ {
						if all[i] != all[(i)%tc.n] {
							t.Fatalf("padding %v does not wrap around", all)
						}
					}
				}
				if !tc.shuffle && !slices.Equal(valid, seq(tc.n)) {
					t.Fatalf("sequential order %v", valid)
				}
			}
		})
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func trainConfig() Config {
	return Config{
		BatchSize:      16,
		Shuffle:        true,
		Seed:           2024,
		Augment:        &Augment{Pad: 2, HFlip: true},
		Mix:            &Mix{MixUpAlpha: 0.2, CutMixAlpha: 1},
		LabelSmoothing: 0.1,
	}
}

// TestPipelinePure: a batch depends only on (seed, position), not on the
// order batches are made in, on buffer reuse or on Workers.
func TestPipelinePure(t *testing.T) {
	d := synthetic(100, 3, 8, 8, 10)
	cfg := trainConfig()
	p1, _ := NewPipeline(d, cfg)
	cfg.Workers = 3
	p3, err := NewPipeline(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var reused *Batch
	for _, pos := range []Position{{2, 5}, {0, 0}, {2, 5}, {1, 3}, {0, 0}} {
		a, _ := p1.Batch(pos, nil)
		b, _ := p3.Batch(pos, nil)
		reused, _ = p1.Batch(pos, reused)
		if !sameBatch(a, b) || !sameBatch(a, reused) {
			t.Fatalf("batch %+v differs between runs", pos)
		}
	}
	a, _ := p1.Batch(Position{0, 0}, nil)
	b, _ := p1.Batch(Position{1, 0}, nil)
	cfg.Seed++
	pOther, _ := NewPipeline(d, cfg)
	c, _ := pOther.Batch(Position{0, 0}, nil)
	if sameBatch(a, b) || slices.Equal(a.Images, c.Images) {
		t.Fatal("epoch or seed does not change the batch")
	}
}

func sameBatch(a, b *Batch) bool {
	return slices.Equal(a.Images, b.Images) && slices.Equal(a.Labels, b.Labels) &&
		slices.Equal(a.Targets, b.Targets) && slices.Equal(a.Indices, b.Indices) &&
		a.Pos == b.Pos && a.Valid == b.Valid && a.N == b.N && a.K == b.K
}

// TestPipelinePadsWithBlack: after normalization, padding shows raw black.
func TestPipelinePadsWithBlack(t *testing.T) {
	d := synthetic(4, 2, 4, 4, 2)
	if err := d.Normalize(Stats{Mean: []float32{.5, .3}, Std: []float32{.5, .1}}); err != nil {
		t.Fatal(err)
	}
	black := []float32{-1, -3}
	p, err := NewPipeline(d, Config{BatchSize: 4, Augment: &Augment{Pad: 4}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := p.Batch(Position{}, nil)
	padded := 0
	for i, v := range b.Images {
		ch := (i / 16) % 2
		if v == black[ch] {
			padded++
			continue
		}
		if !slices.Contains(d.Image(b.Indices[i/32])[ch*16:(ch+1)*16], v) {
			t.Fatalf("value %v in channel %d is neither a pixel of the sample nor black %v", v, ch, black[ch])
		}
	}
	if padded == 0 {
		t.Fatal("no padding seen with Pad 4 on 4x4 images")
	}
}

func TestNewPipelineRejects(t *testing.T) {
	d := synthetic(10, 1, 4, 4, 2)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"zero batch", Config{}},
		{"no full batch", Config{BatchSize: 11}},
		{"bad remainder", Config{BatchSize: 2, Remainder: 7}},
		{"smoothing 1", Config{BatchSize: 2, LabelSmoothing: 1}},
		{"negative smoothing", Config{BatchSize: 2, LabelSmoothing: -0.1}},
		{"negative workers", Config{BatchSize: 2, Workers: -1}},
		{"negative pad", Config{BatchSize: 2, Augment: &Augment{Pad: -1}}},
		{"fill channels", Config{BatchSize: 2, Augment: &Augment{Fill: []float32{0, 0}}}},
		{"mix without alpha", Config{BatchSize: 2, Mix: &Mix{}}},
		{"negative alpha", Config{BatchSize: 2, Mix: &Mix{MixUpAlpha: -1, CutMixAlpha: 1}}},
		{"start beyond epoch", Config{BatchSize: 2, Start: Position{0, 5}}},
		{"negative start", Config{BatchSize: 2, Start: Position{-1, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewPipeline(d, tc.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	bad := synthetic(10, 1, 4, 4, 2)
	bad.Labels[3] = 2
	if _, err := NewPipeline(bad, Config{BatchSize: 2}); err == nil {
		t.Fatal("invalid dataset accepted")
	}
	p, _ := NewPipeline(d, Config{BatchSize: 2})
	if _, err := p.Batch(Position{0, 5}, nil); err == nil {
		t.Fatal("out-of-range position accepted")
	}
}

func TestPositions(t *testing.T) {
	p, _ := NewPipeline(synthetic(10, 1, 1, 1, 1), Config{BatchSize: 3})
	pos := Position{}
	for g := range 10 {
		if got := p.PositionAt(g); got != pos {
			t.Fatalf("PositionAt(%d) = %+v, want %+v", g, got, pos)
		}
		pos = p.Next(pos)
	}
	if !reflect.DeepEqual(pos, Position{3, 1}) {
		t.Fatalf("after 10 steps at %+v", pos)
	}
}
