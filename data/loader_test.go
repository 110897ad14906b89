package data

import (
	"context"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"
)

// drain reads batches until the stream ends, cloning each (and recycling
// the original, to exercise buffer reuse).
func drain(t *testing.T, l *Loader) []*Batch {
	t.Helper()
	var out []*Batch
	for {
		b, err := l.Next(context.Background())
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b.Clone())
		l.Recycle(b)
	}
}

// TestLoaderResume: a run interrupted and resumed from (seed, epoch, step)
// reproduces the uninterrupted run bit for bit, with shuffling, crops,
// flips, MixUp/CutMix and label smoothing on, and different prefetch
// depths and worker counts.
func TestLoaderResume(t *testing.T) {
	base := runtime.NumGoroutine()
	d := synthetic(100, 1, 8, 8, 10)
	cfg := trainConfig()
	cfg.Epochs = 3
	full, err := NewLoader(context.Background(), d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := drain(t, full)
	full.Close()
	steps := full.Pipeline().StepsPerEpoch()
	if len(want) != 3*steps {
		t.Fatalf("%d batches, want %d", len(want), 3*steps)
	}

	// Interrupt after 9 batches (epoch 1, step 3) and resume.
	const consumed = 9
	cfg.Start = full.Pipeline().PositionAt(consumed)
	cfg.Prefetch, cfg.Workers = 1, 4
	resumed, err := NewLoader(context.Background(), d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := drain(t, resumed)
	resumed.Close()
	if len(got) != len(want)-consumed {
		t.Fatalf("resumed run has %d batches, want %d", len(got), len(want)-consumed)
	}
	for i, b := range got {
		if !sameBatch(b, want[consumed+i]) {
			t.Fatalf("resumed batch %d (%+v) differs from the uninterrupted run's (%+v)", i, b.Pos, want[consumed+i].Pos)
		}
	}
	if sameBatch(want[0], want[steps]) {
		t.Fatal("epochs 0 and 1 start with the same batch")
	}
	waitGoroutines(t, base)
}

func TestLoaderEOFAndClose(t *testing.T) {
	base := runtime.NumGoroutine()
	d := synthetic(10, 1, 2, 2, 2)
	l, err := NewLoader(context.Background(), d, Config{BatchSize: 5, Epochs: 2, Start: Position{1, 1}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Next(context.Background())
	if err != nil || b.Pos != (Position{1, 1}) {
		t.Fatalf("first batch %+v, %v", b, err)
	}
	for range 2 {
		if _, err := l.Next(context.Background()); !errors.Is(err, io.EOF) {
			t.Fatalf("after the last epoch: %v, want io.EOF", err)
		}
	}
	l.Close()
	l.Close() // idempotent
	if _, err := l.Next(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	waitGoroutines(t, base)
}

// TestLoaderStops: Close or cancelling the loader's context stops an
// endless producer that is blocked on a full channel, and Next reports why.
func TestLoaderStops(t *testing.T) {
	base := runtime.NumGoroutine()
	d := synthetic(64, 1, 4, 4, 4)
	cfg := Config{BatchSize: 8, Shuffle: true, Augment: &Augment{Pad: 1}}

	t.Run("close", func(t *testing.T) {
		l, err := NewLoader(context.Background(), d, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Next(context.Background()); err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() {
			for {
				if _, err := l.Next(context.Background()); err != nil {
					done <- err
					return
				}
			}
		}()
		time.Sleep(10 * time.Millisecond)
		l.Close()
		if err := <-done; !errors.Is(err, ErrClosed) {
			t.Fatalf("consumer got %v, want ErrClosed", err)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		base := runtime.NumGoroutine()
		ctx, cancel := context.WithCancel(context.Background())
		l, err := NewLoader(ctx, d, cfg)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // let it fill the channel and block
		cancel()
		waitGoroutines(t, base)
		if _, err := l.Next(context.Background()); !errors.Is(err, context.Canceled) {
			t.Fatalf("after cancel: %v", err)
		}
		l.Close()
	})

	t.Run("next context", func(t *testing.T) {
		l, err := NewLoader(context.Background(), d, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := l.Next(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Next with a cancelled context: %v", err)
		}
		if _, err := l.Next(context.Background()); err != nil {
			t.Fatalf("loader unusable after a cancelled Next: %v", err)
		}
	})
	waitGoroutines(t, base)
}

// TestLoaderRecycle: recycled batches are refilled, and refilled right.
func TestLoaderRecycle(t *testing.T) {
	d := synthetic(64, 1, 4, 4, 4)
	cfg := trainConfig()
	cfg.BatchSize, cfg.Epochs, cfg.Prefetch = 4, 2, 1
	l, err := NewLoader(context.Background(), d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	seen := map[*Batch]bool{}
	reused := false
	for {
		b, err := l.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if seen[b] {
			reused = true
		}
		seen[b] = true
		want, _ := l.Pipeline().Batch(b.Pos, nil)
		if !sameBatch(b, want) {
			t.Fatalf("batch %+v differs from the pipeline's", b.Pos)
		}
		l.Recycle(b)
	}
	if !reused {
		t.Fatal("no batch was reused")
	}
	l.Recycle(nil)
}
