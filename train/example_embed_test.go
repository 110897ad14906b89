package train_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/train"
)

// quadrants is a synthetic data set of 8x8 gray images in [0, 1]: class k
// is a bright 3x3 square in the k-th quadrant on dark noise.
func quadrants(n int, seed uint64) *data.Dataset {
	r := rand.New(rand.NewPCG(seed, 1))
	ds := &data.Dataset{Images: make([]float32, n*64), Labels: make([]int32, n), N: n, C: 1, H: 8, W: 8,
		Classes: []string{"top-left", "top-right", "bottom-left", "bottom-right"}}
	for i := range n {
		k := r.IntN(4)
		ds.Labels[i] = int32(k)
		img := ds.Image(i)
		for j := range img {
			img[j] = 0.3 * r.Float32()
		}
		y0, x0 := (k/2)*4+r.IntN(2), (k%2)*4+r.IntN(2)
		for y := y0; y < y0+3; y++ {
			for x := x0; x < x0+3; x++ {
				img[y*8+x] = 1
			}
		}
	}
	return ds
}

// tinyModel is a one-stage NFNet for 8x8 gray images that trains in
// milliseconds a step on a CPU.
func tinyModel(classes int) nfnet.Config {
	c := nfnet.Nano(1, classes)
	c.Name = "tiny"
	c.StemType, c.StemChs = "3x3", 8
	c.Depths, c.Channels = []int{1}, []int{16}
	c.GroupSize, c.NumFeatures = 8, 0
	return c
}

// Train a model on in-memory data on the Vulkan device, watching every
// step's loss, then classify a picture with the checkpoint the run left,
// as a program that embeds nfvk would.
func ExampleTrain() {
	ctx := context.Background()
	dev := openDevice()
	defer closeDevice(dev)
	k := kernels.New(dev)

	trainSet, testSet := quadrants(512, 1), quadrants(128, 2)
	stats := data.ComputeStats(trainSet)
	for _, ds := range []*data.Dataset{trainSet, testSet} {
		if err := ds.Normalize(stats); err != nil {
			log.Fatal(err)
		}
	}
	runs, err := os.MkdirTemp("", "runs")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(runs)

	var losses []float32
	res, err := train.Train(ctx, train.Options{
		Kernels: k,
		Model:   tinyModel(len(trainSet.Classes)),
		Train:   trainSet,
		Test:    testSet,
		Recipe: train.Recipe{
			Recipe: agc.Recipe{Epochs: 3, LR: 0.4, WarmupEpochs: 0.2, Momentum: 0.9, Nesterov: true,
				WeightDecay: 5e-5, AGCClip: 0.04, EMADecay: 0.9},
			Batch: 32, LabelSmoothing: 0.1, Seed: 3, DataSeed: 4,
			// What predict needs later: the image size, normalisation and names.
			Height: 8, Width: 8, Mean: stats.Mean, Std: stats.Std, Classes: trainSet.Classes,
		},
		RunsDir: runs, RunName: "example",
		OnStep: func(step int64, loss float32) { losses = append(losses, loss) },
	}, nil) // a train.Progress would get a line's worth of progress a second
	if err != nil {
		log.Fatal(err)
	}
	first, last := mean(losses[:8]), mean(losses[len(losses)-8:])
	fmt.Printf("%d steps, the loss fell: %v\n", res.Step, last < first)
	fmt.Println("checkpoint:", filepath.Base(res.Checkpoint))

	// Later, or in another program: the checkpoint alone gives the model,
	// its weights and how to prepare its input.
	ck, err := train.LoadCheckpoint(res.Checkpoint)
	if err != nil {
		log.Fatal(err)
	}
	rec, err := train.LoadRecipe(ck)
	if err != nil {
		log.Fatal(err)
	}
	l, err := nfnet.NewLayout(ck.Config)
	if err != nil {
		log.Fatal(err)
	}
	s, err := train.NewSession(ctx, l, train.SessionOptions{Kernels: k, EvalBatch: 1, EvalHeight: rec.Height, EvalWidth: rec.Width})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	weights := map[string][]float32{}
	for name, t := range ck.EMA {
		weights[name] = t.Data
	}
	if err := s.SetParams(weights); err != nil {
		log.Fatal(err)
	}

	// A 32x32 picture with a bright square at the bottom right.
	img := image.NewGray(image.Rect(0, 0, 32, 32))
	for y := 18; y < 30; y++ {
		for x := 18; x < 30; x++ {
			img.SetGray(x, y, color.Gray{Y: 255})
		}
	}
	x := make([]float32, ck.Config.InChans*rec.Height*rec.Width)
	if err := data.ImageTensor(img, ck.Config.InChans, rec.Height, rec.Width, rec.Mean, rec.Std, x); err != nil {
		log.Fatal(err)
	}
	probs, err := s.Classify(ctx, x, train.Current)
	if err != nil {
		log.Fatal(err)
	}
	best := train.TopK(probs[0], 1)[0]
	fmt.Println("the picture:", rec.Classes[best])
	// Output:
	// 48 steps, the loss fell: true
	// checkpoint: ckpt-000000000048.safetensors
	// the picture: bottom-right
}

func mean(v []float32) float32 {
	var s float32
	for _, x := range v {
		s += x
	}
	return s / float32(len(v))
}

// Class probabilities of pictures under given weights (here a fresh
// initialisation; a checkpoint's EMA in practice, as in the Train
// example). One session, built for batches of up to 4, classifies any
// number of pictures up to 4 per call.
func ExampleSession_Classify() {
	ctx := context.Background()
	dev := openDevice()
	defer closeDevice(dev)

	cfg := nfnet.Nano(1, len(data.FashionMNISTClasses))
	l, err := nfnet.NewLayout(cfg)
	if err != nil {
		log.Fatal(err)
	}
	const batch, h, w = 4, 28, 28
	s, err := train.NewSession(ctx, l, train.SessionOptions{Kernels: kernels.New(dev), EvalBatch: batch, EvalHeight: h, EvalWidth: w})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	vals, err := nfnet.Init(s.Specs, 1)
	if err != nil {
		log.Fatal(err)
	}
	weights := map[string][]float32{}
	for i, sp := range s.Specs {
		weights[sp.Name] = vals[i]
	}
	if err := s.SetParams(weights); err != nil {
		log.Fatal(err)
	}

	// Two pictures: a gray ramp and a white disc.
	ramp := image.NewGray(image.Rect(0, 0, 64, 64))
	disc := image.NewGray(image.Rect(0, 0, 40, 30))
	for y := range 64 {
		for x := range 64 {
			ramp.SetGray(x, y, color.Gray{Y: uint8(4 * x)})
			if dx, dy := x-20, y-15; x < 40 && y < 30 && dx*dx+dy*dy < 100 {
				disc.SetGray(x, y, color.Gray{Y: 255})
			}
		}
	}
	st := data.FashionMNISTStats
	pics := []image.Image{ramp, disc}
	x := make([]float32, len(pics)*h*w)
	for i, p := range pics {
		if err := data.ImageTensor(p, 1, h, w, st.Mean, st.Std, x[i*h*w:(i+1)*h*w]); err != nil {
			log.Fatal(err)
		}
	}
	probs, err := s.Classify(ctx, x, train.Current)
	if err != nil {
		log.Fatal(err)
	}
	for i, p := range probs {
		var sum float32
		for _, v := range p {
			sum += v
		}
		top := train.TopK(p, 3) // indices into data.FashionMNISTClasses
		fmt.Printf("picture %d: %d classes, probabilities sum to %.3f, top 3 in order: %v\n",
			i, len(p), sum, p[top[0]] >= p[top[1]] && p[top[1]] >= p[top[2]])
	}
	// Output:
	// picture 0: 10 classes, probabilities sum to 1.000, top 3 in order: true
	// picture 1: 10 classes, probabilities sum to 1.000, top 3 in order: true
}

// The most likely classes, in order; ties keep the lower index first.
func ExampleTopK() {
	probs := []float32{0.05, 0.6, 0.05, 0.3}
	fmt.Println(train.TopK(probs, 2))
	fmt.Println(train.TopK(probs, 10))
	// Output:
	// [1 3]
	// [1 3 0 2]
}

// openDevice opens the best Vulkan device (lavapipe without a GPU).
func openDevice() *engine.Device {
	dev, err := engine.Open(engine.Options{})
	if err != nil {
		log.Fatal(err)
	}
	return dev
}

// closeDevice closes dev after the sessions: it reports what the device
// failed to free, and with NFVK_VALIDATE=1 the validation layer's
// messages (none expected) are collected until then.
func closeDevice(dev *engine.Device) {
	if err := dev.Close(); err != nil {
		log.Fatal(err)
	}
	if err := engine.ValidationError(dev.ValidationMessages()); err != nil {
		log.Fatal(err)
	}
}
