package data

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkBatch measures host batch preparation for 128×1×28×28
// (Fashion-MNIST-sized) batches; images/s is the figure to compare with
// the device's step rate.
func BenchmarkBatch(b *testing.B) {
	d := synthetic(10000, 1, 28, 28, 10)
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"plain", Config{}},
		{"crop+flip", Config{Augment: &Augment{Pad: 2, HFlip: true}}},
		{"crop+flip+mix", Config{Augment: &Augment{Pad: 2, HFlip: true}, Mix: &Mix{MixUpAlpha: 0.2, CutMixAlpha: 1}, LabelSmoothing: 0.1}},
	} {
		cfg := bc.cfg
		cfg.BatchSize, cfg.Shuffle, cfg.Seed = 128, true, 1
		p, err := NewPipeline(d, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("128x1x28x28/%s", bc.name), func(b *testing.B) {
			var batch *Batch
			pos := Position{}
			for b.Loop() {
				batch, _ = p.Batch(pos, batch)
				pos = p.Next(pos)
			}
			b.ReportMetric(float64(b.N*128)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkLoader measures the same through the prefetching goroutine.
func BenchmarkLoader(b *testing.B) {
	d := synthetic(10000, 1, 28, 28, 10)
	cfg := Config{BatchSize: 128, Shuffle: true, Seed: 1, Augment: &Augment{Pad: 2, HFlip: true}}
	l, err := NewLoader(context.Background(), d, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	for b.Loop() {
		batch, err := l.Next(ctx)
		if err != nil {
			b.Fatal(err)
		}
		l.Recycle(batch)
	}
	b.ReportMetric(float64(b.N*128)/b.Elapsed().Seconds(), "images/s")
}
