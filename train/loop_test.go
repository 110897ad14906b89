package train

import (
	"context"
	"errors"
	"github.com/nfvk/nfvk/agc"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/engine/enginetest"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
)

// loopKernels opens the default Vulkan device (lavapipe here) with the
// validation layer where installed; validation messages fail the test.
func loopKernels(t testing.TB) *kernels.Kernels {
	t.Helper()
	d := enginetest.Open(t)
	return kernels.New(d)
}

// loopConfig is a one-stage NFNet for 8x8 images: every part of the
// block structure (WS convs, grouped 3x3, SE, skip gain, transition
// shortcut) at a size that steps in milliseconds.
func loopConfig(classes int) nfnet.Config {
	c := nfnet.Nano(1, classes)
	c.Name = "tiny-test"
	c.StemType, c.StemChs = "3x3", 8
	c.Depths, c.Channels = []int{1}, []int{16}
	c.GroupSize = 8
	c.NumFeatures = 0
	c.ExtraConv = false
	return c
}

// blobs is a synthetic dataset of 8x8 images: class k is a bright 3x3
// blob in the k-th quadrant at a random offset, on noise. Chance is 25%.
func blobs(n int, seed uint64) *data.Dataset {
	r := rand.New(rand.NewPCG(seed, 7))
	ds := &data.Dataset{Images: make([]float32, n*64), Labels: make([]int32, n), N: n, C: 1, H: 8, W: 8,
		Classes: []string{"top-left", "top-right", "bottom-left", "bottom-right"}}
	for i := range n {
		k := r.IntN(4)
		ds.Labels[i] = int32(k)
		img := ds.Images[i*64 : (i+1)*64]
		for j := range img {
			img[j] = float32(r.NormFloat64() * 0.5)
		}
		y0, x0 := (k/2)*4+r.IntN(2), (k%2)*4+r.IntN(2)
		for y := y0; y < y0+3 && y < 8; y++ {
			for x := x0; x < x0+3 && x < 8; x++ {
				img[y*8+x] += 1.5
			}
		}
	}
	return ds
}

func tinyOptions(t *testing.T, k *kernels.Kernels, train, test *data.Dataset, epochs, batch int) Options {
	return Options{Kernels: k, Model: loopConfig(4), Train: train, Test: test, RunsDir: t.TempDir(), RunName: "r",
		Recipe: Recipe{Recipe: agc.Recipe{Epochs: epochs, LR: 0.4, WarmupEpochs: 0.2, Momentum: 0.9, Nesterov: true,
			WeightDecay: 5e-5, AGCClip: 0.04, EMADecay: 0.99}, Batch: batch, LabelSmoothing: 0.1, CropPad: 1, HFlip: false, Seed: 3, DataSeed: 4}}
}

// TestTrainLearns trains the tiny model for a few seconds on the blobs and
// checks that the EMA weights score well above chance, that every epoch
// left its metrics line, checkpoint and plot, and that the checkpoint
// loads and evaluates to the logged accuracy.
func TestTrainLearns(t *testing.T) {
	k := loopKernels(t)
	const epochs = 4
	o := tinyOptions(t, k, blobs(1024, 1), blobs(256, 2), epochs, 32)
	res, err := Train(context.Background(), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Interrupted || res.Step != epochs*32 || len(res.Metrics) != epochs {
		t.Fatalf("result %+v: want %d steps in %d epochs", res, epochs*32, epochs)
	}
	for i, m := range res.Metrics {
		t.Logf("epoch %d: train loss %.3f acc %.3f, test acc %.3f loss %.3f, %.0f img/s", m.Epoch, m.TrainLoss, m.TrainAcc, m.TestAcc, m.TestLoss, m.ImagesPerS)
		if m.Epoch != i+1 || m.Step != int64(32*(i+1)) {
			t.Errorf("metrics %d: epoch %d step %d", i, m.Epoch, m.Step)
		}
	}
	if first, last := res.Metrics[0].TrainLoss, res.Metrics[epochs-1].TrainLoss; !(last < first) {
		t.Errorf("train loss went from %v to %v", first, last)
	}
	if res.TestAcc < 0.8 {
		t.Errorf("test accuracy %.3f after %d epochs, want >= 0.8 (chance 0.25)", res.TestAcc, epochs)
	}
	ms, err := ReadMetrics(filepath.Join(res.Dir, MetricsFile))
	if err != nil || len(ms) != epochs {
		t.Fatalf("metrics.jsonl: %d lines, %v", len(ms), err)
	}
	if st, err := os.Stat(filepath.Join(res.Dir, PlotFile)); err != nil || st.Size() == 0 {
		t.Errorf("plot: %v", err)
	}
	ck, err := LoadCheckpoint(res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Step != epochs*32 || ck.Epoch != epochs {
		t.Errorf("checkpoint at step %d epoch %d", ck.Step, ck.Epoch)
	}
	l, err := nfnet.NewLayout(ck.Config)
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewSession(context.Background(), l, SessionOptions{Kernels: k, EvalBatch: 64, EvalHeight: 8, EvalWidth: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := e.SetParams(tensorData(ck.EMA)); err != nil {
		t.Fatal(err)
	}
	er, err := e.Evaluate(context.Background(), o.Test, Current)
	if err != nil {
		t.Fatal(err)
	}
	if er.N != 256 || er.Acc != res.TestAcc {
		t.Errorf("checkpoint's EMA scores %v on %d images, the run logged %v", er.Acc, er.N, res.TestAcc)
	}
}

// TestResumeReproduces interrupts a run mid-epoch (the context ends, as
// on Ctrl-C), checks the checkpoint it saved, resumes from it and compares
// every loss and the metrics with an uninterrupted run: equal to the bit,
// in float32 and in mixed precision, float16 (with loss scaling) and
// bfloat16 (without), which the resumed run takes from the checkpoint's
// recipe.
func TestResumeReproduces(t *testing.T) {
	for _, prec := range []string{"", "fp16", "bf16"} {
		t.Run("precision="+prec, func(t *testing.T) { testResumeReproduces(t, prec) })
	}
}

func testResumeReproduces(t *testing.T, prec string) {
	k := loopKernels(t)
	resumeMatches(t, k, k, prec, 256, 11, data.Position{Epoch: 1, Step: 3})
}

// resumeMatches runs 2 epochs of n blobs in batches of 32 at precision
// prec uninterrupted on full's device, then on part's interrupted after
// step stop (at position pos) and resumed, and compares the losses and
// metrics.
func resumeMatches(t *testing.T, full, part *kernels.Kernels, prec string, n int, stop int64, pos data.Position) {
	t.Helper()
	tr, te := blobs(n, 5), blobs(64, 6)
	ctx := context.Background()

	fo := tinyOptions(t, full, tr, te, 2, 32)
	fo.Recipe.Precision = prec
	if prec == "fp16" {
		// The scale changes during the run (every 3 good steps), so its
		// state must survive the resume.
		fo.Recipe.LossScale, fo.Recipe.LossScaleGrowth = 1024, 3
	}
	var want []float32
	fo.OnStep = func(_ int64, loss float32) { want = append(want, loss) }
	wres, err := Train(ctx, fo, nil)
	if err != nil {
		t.Fatal(err)
	}

	po := tinyOptions(t, part, tr, te, 2, 32)
	po.Recipe.Precision, po.Recipe.LossScale, po.Recipe.LossScaleGrowth = prec, fo.Recipe.LossScale, fo.Recipe.LossScaleGrowth
	var got []float32
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	po.OnStep = func(step int64, loss float32) {
		got = append(got, loss)
		if step == stop {
			cancel()
		}
	}
	ires, err := Train(cctx, po, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ires.Interrupted || ires.Step != stop {
		t.Fatalf("interrupted run: %+v, want interrupted at step %d", ires, stop)
	}
	ck, err := LoadCheckpoint(ires.Checkpoint)
	if err != nil {
		t.Fatalf("the checkpoint saved on cancellation does not load: %v", err)
	}
	if ck.Step != stop || ck.Position != pos {
		t.Fatalf("checkpoint at step %d position %+v, want %d and %+v", ck.Step, ck.Position, stop, pos)
	}
	if rs, err := decodeRunState(ck); err != nil || rs.Recipe.Precision != prec {
		t.Fatalf("checkpoint's precision %q, want %q: %v", rs.Recipe.Precision, prec, err)
	}
	if (ck.LossScale != nil) != (prec == "fp16") {
		t.Fatalf("precision %q: checkpoint's loss scale %+v", prec, ck.LossScale)
	}
	if last := wres.Metrics[len(wres.Metrics)-1]; (last.LossScale > 1024) != (prec == "fp16") {
		t.Fatalf("precision %q: the uninterrupted run ends with loss scale %v (from 1024, growth 3)", prec, last.LossScale)
	}

	res := Options{Kernels: part, Train: tr, Test: te, Resume: ires.Dir}
	res.OnStep = func(_ int64, loss float32) { got = append(got, loss) }
	rres, err := Train(ctx, res, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameRun(t, got, want, rres.Metrics, wres.Metrics)
}

// TestResumeRejects: a truncated or corrupt checkpoint, and one of
// another model, are refused with an error naming the file.
func TestResumeRejects(t *testing.T) {
	k := loopKernels(t)
	tr, te := blobs(128, 8), blobs(32, 9)
	o := tinyOptions(t, k, tr, te, 1, 32)
	res, err := Train(context.Background(), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)-5] ^= 0x40 // inside the last tensor's data
	for _, c := range []struct {
		name, path string
		model      nfnet.Config
		want       error
	}{
		{"truncated", write("trunc.safetensors", good[:len(good)/2]), nfnet.Config{}, ErrBadCheckpoint},
		{"corrupt", write("flip.safetensors", flipped), nfnet.Config{}, ErrBadCheckpoint},
		{"other model", res.Checkpoint, func() nfnet.Config { c := loopConfig(4); c.Channels = []int{24}; return c }(), ErrIncompatible},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Train(context.Background(), Options{Kernels: k, Train: tr, Test: te, Resume: c.path, Model: c.model}, nil)
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.path) {
				t.Errorf("error %q does not name %s", err, c.path)
			}
		})
	}
}

// TestMemoryFlat runs 1,000 steps of a tiny model and compares the device
// arena (live bytes, blocks) and the Go heap after a collection at step
// 100 and step 1,000: a per-step leak of even a few bytes would show.
func TestMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 steps")
	}
	k := loopKernels(t)
	o := tinyOptions(t, k, blobs(8000, 10), blobs(16, 11), 1, 8)
	// The throughput meter keeps the samples of its window; a short one
	// keeps that bounded by time, not by the step count.
	o.RateWindow = 20 * time.Millisecond
	type snap struct {
		dev  engine.MemoryStats
		heap uint64
	}
	var at100, at1000 snap
	take := func() snap {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return snap{k.Device().MemoryStats(), m.HeapAlloc}
	}
	o.OnStep = func(step int64, _ float32) {
		switch step {
		case 100:
			at100 = take()
		case 1000:
			at1000 = take()
		}
	}
	if _, err := Train(context.Background(), o, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("step 100: device %d live bytes in %d blocks, Go heap %d bytes", at100.dev.LiveBytes, at100.dev.Blocks, at100.heap)
	t.Logf("step 1000: device %d live bytes in %d blocks, Go heap %d bytes", at1000.dev.LiveBytes, at1000.dev.Blocks, at1000.heap)
	if at100.dev.LiveBytes != at1000.dev.LiveBytes || at100.dev.Blocks != at1000.dev.Blocks || at100.dev.PeakBytes != at1000.dev.PeakBytes {
		t.Errorf("device memory changed: %+v at step 100, %+v at step 1000", at100.dev, at1000.dev)
	}
	// The heap may differ by the throughput meter's window (a few 40-byte
	// samples, by timing) and GC bookkeeping; 900 steps leaking even one
	// small allocation each would exceed a page.
	if grow := int64(at1000.heap) - int64(at100.heap); grow > 4096 {
		t.Errorf("Go heap grew by %d bytes from step 100 to step 1000", grow)
	}
}

// sameRun checks that a stopped and resumed run reproduced the
// uninterrupted one: every loss to the bit and every epoch's metrics.
func sameRun(t *testing.T, got, want []float32, gotM, wantM []EpochMetrics) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d losses stopped+resumed, %d uninterrupted", len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Errorf("step %d: loss %v resumed, %v uninterrupted", i+1, got[i], want[i])
		}
	}
	if len(gotM) != len(wantM) {
		t.Fatalf("resumed run has %d epochs of metrics, want %d", len(gotM), len(wantM))
	}
	for i, w := range wantM {
		g := gotM[i]
		if g.TrainLoss != w.TrainLoss || g.TrainAcc != w.TrainAcc || g.TestAcc != w.TestAcc || g.TestLoss != w.TestLoss || g.Step != w.Step ||
			g.LossScale != w.LossScale || g.SkippedSteps != w.SkippedSteps {
			t.Errorf("epoch %d metrics: resumed %+v, uninterrupted %+v", i+1, g, w)
		}
	}
}
