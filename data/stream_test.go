package data

import (
	"context"
	"image"
	"math"
	"path/filepath"
	"slices"
	"testing"
)

func openTestFolder(t *testing.T, dir string) (Source, Source) {
	t.Helper()
	tr, te, _, err := OpenSplits(dir, func(d string, _ []string) (Source, *IndexReport, error) {
		f, rep, err := OpenFolder(d, SourceOptions{})
		if err != nil {
			return nil, rep, err
		}
		return f, rep, rep.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return tr, te
}

func TestStreamPipelineDeterministic(t *testing.T) {
	dir := t.TempDir()
	writeImageTree(t, dir, []string{"train", "val"}, 3, 6, 20)
	tr, te := openTestFolder(t, dir)
	if tr.Len() != 18 || te.Len() != 18 {
		t.Fatalf("%d train, %d val images", tr.Len(), te.Len())
	}
	mean, std := []float32{0.5, 0.4, 0.3}, []float32{0.2, 0.25, 0.3}
	st, err := NewStream(tr, Transform{Size: 12, Train: true, HFlip: true, RandAugment: RandAugment{Layers: 2, Magnitude: 9}, Mean: mean, Std: std})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{BatchSize: 4, Shuffle: true, Seed: 7, Mix: &Mix{MixUpAlpha: 0.2, CutMixAlpha: 1}, LabelSmoothing: 0.1}
	batches := func(workers int, start Position, n int) []*Batch {
		c := cfg
		c.Workers, c.Start, c.Epochs = workers, start, 3
		p, err := NewStreamPipeline(st, c)
		if err != nil {
			t.Fatal(err)
		}
		l := StartLoader(context.Background(), p)
		defer l.Close()
		var out []*Batch
		for range n {
			b, err := l.Next(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b.Clone())
		}
		return out
	}
	all := batches(1, Position{}, 8) // 4 steps per epoch: two epochs
	resumed := batches(2, Position{Epoch: 1, Step: 1}, 3)
	for i, b := range resumed {
		a := all[5+i]
		if a.Pos != b.Pos || !slices.Equal(a.Images, b.Images) || !slices.Equal(a.Targets, b.Targets) || !slices.Equal(a.Labels, b.Labels) {
			t.Fatalf("batch %+v differs after resuming with 2 workers", b.Pos)
		}
	}
	if slices.Equal(all[0].Images, all[4].Images) {
		t.Error("epochs 0 and 1 start with the same batch")
	}
	if c, h, w, k := all[0].C, all[0].H, all[0].W, all[0].K; c != 3 || h != 12 || w != 12 || k != 3 {
		t.Errorf("batch shape %d×%d×%d, %d classes", c, h, w, k)
	}

	// Evaluation: no randomness, every image once.
	ev, err := NewStream(te, Transform{Size: 12})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewStreamPipeline(ev, Config{BatchSize: 5, Remainder: PadLast})
	if err != nil {
		t.Fatal(err)
	}
	b1, err := p.Batch(Position{Step: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := p.Batch(Position{Step: 3}, nil)
	if b1.Valid != 3 || !slices.Equal(b1.Images, b2.Images) {
		t.Errorf("eval batch: valid %d, repeatable %v", b1.Valid, slices.Equal(b1.Images, b2.Images))
	}
}

func TestStreamBadFileAtBatchTime(t *testing.T) {
	dir := t.TempDir()
	writeImageTree(t, dir, []string{"train", "val"}, 2, 2, 16)
	tr, _ := openTestFolder(t, dir)
	// Damaged after indexing: the batch fails naming the file.
	victim := filepath.Join(dir, "train", "c1", "i00.png")
	writeFile(t, filepath.Dir(victim), filepath.Base(victim), []byte("garbage"))
	st, _ := NewStream(tr, Transform{Size: 8})
	p, err := NewStreamPipeline(st, Config{BatchSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Batch(Position{}, nil)
	wantFileErr(t, err, ErrDecode, victim)
}

// TestStreamSampleIndependent checks one training sample end to end
// (PNG decode, random-resized crop, resize, flip, normalisation) against
// a direct float64 evaluation of the same triangle filter over every
// source pixel, for the crop and flip the sample's stream draws.
func TestStreamSampleIndependent(t *testing.T) {
	const w, h, size = 40, 30, 12
	src := rgb8(w, h, func(x, y int) [3]uint8 { return [3]uint8{uint8(x * 6), uint8(y * 8), uint8((x * y) % 251)} })
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := range w * h {
		copy(img.Pix[4*i:], src.Pix[3*i:3*i+3])
		img.Pix[4*i+3] = 255
	}
	dir := t.TempDir()
	writeFile(t, dir, "train/a/x.png", pngBytes(t, img))
	f, _, err := OpenFolder(filepath.Join(dir, "train"), SourceOptions{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := NewStream(f, Transform{Size: size, Train: true, HFlip: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewStreamPipeline(st, Config{BatchSize: 1, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	flips := 0
	for step := range 6 {
		pos := Position{Epoch: step}
		b, err := p.Batch(pos, nil)
		if err != nil {
			t.Fatal(err)
		}
		var r rng
		r.seedAt(3, streamSample, uint64(pos.Epoch), 0, 0)
		c := randomResizedCrop(w, h, &r)
		flip := r.coin()
		if flip {
			flips++
		}
		tri := func(o int, start, length float64, j int) float64 {
			scale := length / size
			s := math.Max(scale, 1)
			return math.Max(0, 1-math.Abs((float64(j)+0.5-(start+(float64(o)+0.5)*scale))/s))
		}
		for oy := range size {
			for ox := range size {
				sx := ox
				if flip {
					sx = size - 1 - ox
				}
				for ch := range 3 {
					var num, den float64
					for y := range h {
						for x := range w {
							wt := tri(sx, c.X, c.W, x) * tri(oy, c.Y, c.H, y)
							num += wt * float64(src.Pix[3*(y*w+x)+ch])
							den += wt
						}
					}
					want := num / den
					got := float64(b.Images[ch*size*size+oy*size+ox]) * 255
					if math.Abs(got-want) > 1.0 {
						t.Fatalf("epoch %d crop %+v flip %v: pixel (%d,%d) channel %d = %.2f, want %.2f", step, c, flip, ox, oy, ch, got, want)
					}
				}
			}
		}
	}
	if flips == 0 || flips == 6 {
		t.Errorf("%d of 6 samples flipped", flips)
	}
}
