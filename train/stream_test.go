package train

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/nfnet"
)

// writeBlobJPEGs writes DIR/{train,val}/<class>/*.jpg: n images per class
// of 20-31 px, class k a coloured blob in the k-th quadrant on noise.
func writeBlobJPEGs(t testing.TB, dir string, n int) {
	r := rand.New(rand.NewPCG(9, 9))
	cols := []color.RGBA{{220, 40, 40, 255}, {40, 220, 40, 255}, {40, 40, 220, 255}, {220, 220, 40, 255}}
	for _, split := range []string{"train", "val"} {
		for k, c := range cols {
			for i := range n {
				w, h := 20+r.IntN(12), 20+r.IntN(12)
				m := image.NewRGBA(image.Rect(0, 0, w, h))
				for y := range h {
					for x := range w {
						v := uint8(r.IntN(80))
						m.Set(x, y, color.RGBA{v, v, v, 255})
						if (x < w/2) == (k%2 == 0) && (y < h/2) == (k < 2) {
							m.Set(x, y, c)
						}
					}
				}
				var b bytes.Buffer
				if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 90}); err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(dir, split, fmt.Sprintf("class%d", k), fmt.Sprintf("%03d.jpg", i))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// streams opens the splits (folder, or shards written from it) as
// streams at the training and test sizes.
func streams(t testing.TB, train, test data.Source) (*data.Stream, *data.Stream) {
	mean, std := []float32{0.4, 0.4, 0.4}, []float32{0.3, 0.3, 0.3}
	tr, err := data.NewStream(train, data.Transform{Size: 12, Train: true, HFlip: true,
		RandAugment: data.RandAugment{Layers: 2, Magnitude: 5}, Mean: mean, Std: std})
	if err != nil {
		t.Fatal(err)
	}
	te, err := data.NewStream(test, data.Transform{Size: 16, Mean: mean, Std: std})
	if err != nil {
		t.Fatal(err)
	}
	return tr, te
}

func openFolderSplits(t testing.TB, dir string) (data.Source, data.Source) {
	tr, _, err := data.OpenFolder(filepath.Join(dir, "train"), data.SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	te, _, err := data.OpenFolder(filepath.Join(dir, "val"), data.SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr, te
}

func streamOptions(t *testing.T, tr, te *data.Stream) Options {
	o := tinyOptions(t, loopKernels(t), nil, nil, 2, 16)
	o.Train, o.Test = nil, nil
	o.TrainStream, o.TestStream = tr, te
	o.Model = loopConfig(4)
	o.Model.InChans = 3
	o.Recipe.MixUp, o.Recipe.CutMix, o.Recipe.CropPad = 0.2, 1, 0
	return o
}

// TestStreamTrainResumeShards trains on a JPEG folder streamed at 12 px
// (evaluated at 16 px) with RandAugment, MixUp and CutMix: a run
// interrupted mid-epoch and resumed reproduces the uninterrupted losses
// bit for bit, and the same data written as shards gives the same
// losses.
func TestStreamTrainResumeShards(t *testing.T) {
	dir := t.TempDir()
	writeBlobJPEGs(t, dir, 16) // 64 images: 4 steps of 16 per epoch
	trS, teS := openFolderSplits(t, dir)
	ctx := context.Background()

	tr, te := streams(t, trS, teS)
	full := streamOptions(t, tr, te)
	var want []float32
	full.OnStep = func(_ int64, loss float32) { want = append(want, loss) }
	wres, err := Train(ctx, full, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("uninterrupted: losses %v, test accuracy %.3f", want, wres.Metrics[len(wres.Metrics)-1].TestAcc)
	if len(want) != 8 || len(wres.Metrics) != 2 || !(wres.Metrics[1].TestAcc >= 0) {
		t.Fatalf("%d steps, metrics %+v", len(want), wres.Metrics)
	}

	part := streamOptions(t, tr, te)
	var got []float32
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	part.OnStep = func(step int64, loss float32) {
		got = append(got, loss)
		if step == 6 {
			cancel()
		}
	}
	ires, err := Train(cctx, part, nil)
	if err != nil || !ires.Interrupted {
		t.Fatalf("interrupted run: %+v, %v", ires, err)
	}
	res := Options{Kernels: part.Kernels, TrainStream: tr, TestStream: te, Resume: ires.Dir}
	res.OnStep = func(_ int64, loss float32) { got = append(got, loss) }
	rres, err := Train(ctx, res, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameRun(t, got, want, rres.Metrics, wres.Metrics)

	// The same samples as shards, in the folder's order.
	sdir := filepath.Join(t.TempDir(), "shards")
	for name, src := range map[string]data.Source{"train": trS, "val": teS} {
		if err := data.WriteShards(src, filepath.Join(sdir, name), 10); err != nil {
			t.Fatal(err)
		}
	}
	if err := data.WriteClassList(filepath.Join(sdir, "classes.txt"), trS.Classes()); err != nil {
		t.Fatal(err)
	}
	shTr, _, err := data.OpenShards(filepath.Join(sdir, "train"), nil, data.SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	shTe, _, err := data.OpenShards(filepath.Join(sdir, "val"), shTr.Classes(), data.SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	str, ste := streams(t, shTr, shTe)
	sh := streamOptions(t, str, ste)
	var shLoss []float32
	sh.OnStep = func(_ int64, loss float32) { shLoss = append(shLoss, loss) }
	sres, err := Train(ctx, sh, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameRun(t, shLoss, want, sres.Metrics, wres.Metrics)
}

// TestMixedLossByHand: on the CPU executor, the training step's loss on
// a MixUp/CutMix batch equals the mixed, label-smoothed cross-entropy
// computed by hand from its logits, each row's mixing weight and partner:
// (1-eps)*(lam*CE(y) + (1-lam)*CE(y_partner)) + eps/K * sum_k CE(k).
func TestMixedLossByHand(t *testing.T) {
	const n, classes, eps = 6, 4, 0.1
	ds := blobs(24, 3)
	p, err := data.NewPipeline(ds, data.Config{BatchSize: n, Shuffle: true, Seed: 2, LabelSmoothing: eps,
		Mix: &data.Mix{MixUpAlpha: 0.4, CutMixAlpha: 1}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Batch(data.Position{Step: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	mixed := 0
	for i := range n {
		if b.Partner[i] != i && b.Labels[b.Partner[i]] != b.Labels[i] && b.Lam[i] < 0.99 {
			mixed++
		}
	}
	if mixed < 2 {
		t.Fatalf("only %d rows mixed across classes (lam %v, partners %v)", mixed, b.Lam, b.Partner)
	}
	cfg := loopConfig(classes)
	l, err := nfnet.NewLayout(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := agc.Recipe{Epochs: 1, LR: 0.1, Momentum: 0.9}
	s, err := NewSession(context.Background(), l, SessionOptions{Train: nfnet.TrainOptions{Batch: n, Height: 8, Width: 8,
		SoftTargets: true, Recipe: rec}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	params, err := nfnet.Init(l.Params(), 1)
	if err != nil {
		t.Fatal(err)
	}
	st := State{Params: map[string][]float32{}}
	for i, sp := range l.Params() {
		st.Params[sp.Name] = params[i]
	}
	if err := s.SetState(st); err != nil {
		t.Fatal(err)
	}
	if err := s.Submit(b.Images, b.Labels, agc.Hyper{LR: 0.1}, 5); err == nil {
		t.Fatal("a soft-target step took labels")
	}
	if err := s.SubmitSoft(b.Images, b.Targets, agc.Hyper{LR: 0.1, Momentum: 0.9, EMADecay: 0.9}, 5); err != nil {
		t.Fatal(err)
	}
	loss, err := s.Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	z, err := s.Logits()
	if err != nil {
		t.Fatal(err)
	}
	var want float64
	for i := range n {
		row := z[i*classes : (i+1)*classes]
		m := math.Inf(-1)
		for _, v := range row {
			m = max(m, float64(v))
		}
		var se float64
		for _, v := range row {
			se += math.Exp(float64(v) - m)
		}
		ce := func(k int32) float64 { return m + math.Log(se) - float64(row[k]) }
		lam := float64(b.Lam[i])
		h := lam*ce(b.Labels[i]) + (1-lam)*ce(b.Labels[b.Partner[i]])
		var all float64
		for k := range classes {
			all += ce(int32(k))
		}
		want += (1-eps)*h + eps/classes*all
	}
	want /= n
	if math.Abs(float64(loss)-want) > 2e-6*math.Max(1, want) {
		t.Fatalf("step loss %.7f, mixed cross-entropy by hand %.7f", loss, want)
	}
	t.Logf("loss %.7f, by hand %.7f", loss, want)
}
