package train_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/train"
)

// Save a checkpoint into a new run directory, find it again as a resumed
// run would, load it and check it against the model.
func Example() {
	root, err := os.MkdirTemp("", "runs")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)

	cfg := nfnet.DefaultConfig()
	cfg.Name, cfg.InChans, cfg.NumClasses = "example", 1, 10
	cfg.Depths, cfg.Channels = []int{1}, []int{16}
	specs, err := nfnet.Params(cfg)
	if err != nil {
		log.Fatal(err)
	}
	weights, err := nfnet.Init(specs, 1)
	if err != nil {
		log.Fatal(err)
	}
	ckpt := &train.Checkpoint{
		Step: 1000, Epoch: 2, StepsPerEpoch: 468,
		Position: data.Position{Epoch: 2, Step: 64}, // 2*468 + 64 = 1000
		RNG:      train.RNGState{Seed: 1, DataSeed: 1},
		Config:   cfg,
		Params:   map[string]train.Tensor{}, EMA: map[string]train.Tensor{}, Momentum: map[string]train.Tensor{},
	}
	for i, s := range specs {
		ckpt.Params[s.Name] = train.Tensor{Shape: s.Shape, Data: weights[i]}
		ckpt.EMA[s.Name] = train.Tensor{Shape: s.Shape, Data: weights[i]}
		ckpt.Momentum[s.Name] = train.Tensor{Shape: s.Shape, Data: make([]float32, len(weights[i]))}
	}

	run, err := train.NewRun(root, "fmnist", time.Now())
	if err != nil {
		log.Fatal(err)
	}
	if _, err := run.SaveCheckpoint(ckpt, 3); err != nil {
		log.Fatal(err)
	}

	path, err := train.LatestCheckpoint(run.Dir)
	if err != nil {
		log.Fatal(err)
	}
	loaded, err := train.LoadCheckpoint(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(filepath.Base(path), loaded.Step, loaded.Position, len(loaded.Params))
	fmt.Println(loaded.CheckCompatible(cfg, specs))

	wider := cfg
	wider.Channels = []int{32}
	widerSpecs, _ := nfnet.Params(wider)
	err = loaded.CheckCompatible(wider, widerSpecs)
	fmt.Println(err != nil, errors.Is(err, train.ErrIncompatible))
	fmt.Println(strings.Replace(err.Error(), path, "PATH", 1))
	// Output:
	// ckpt-000000001000.safetensors 1000 {2 64} 17
	// <nil>
	// true true
	// train: checkpoint PATH: tensor "param/stem.conv.weight" has shape [16 1 3 3], the model's has [32 1 3 3]: checkpoint does not match the model
}

// Append a line per epoch to a run's metrics, read them back and plot them.
func ExampleMetricsWriter() {
	dir, err := os.MkdirTemp("", "run")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	run := &train.Run{Dir: dir}

	w, err := train.CreateMetrics(run.MetricsPath())
	if err != nil {
		log.Fatal(err)
	}
	for epoch, acc := range []float64{0.76, 0.83, 0.85} {
		err := w.Append(train.EpochMetrics{Epoch: epoch + 1, Step: int64(468 * (epoch + 1)),
			TrainLoss: 1 - acc, TestAcc: acc, ImagesPerS: 1500, ElapsedS: 40 * float64(epoch+1)})
		if err != nil {
			log.Fatal(err)
		}
	}
	w.Close()

	ms, err := train.ReadMetrics(run.MetricsPath())
	if err != nil {
		log.Fatal(err)
	}
	if err := train.WritePlot(run.PlotPath(), ms); err != nil {
		log.Fatal(err)
	}
	line, _ := ms[0].MarshalJSON()
	fmt.Println(string(line))
	fmt.Printf("%+v\n", train.Summarize(ms))
	// Output:
	// {"epoch":1,"step":468,"train_loss":0.24,"test_acc":0.76,"images_per_s":1500,"elapsed_s":40}
	// {Epochs:3 TrainLoss:0.15000000000000002 TestAcc:0.85 BestTestAcc:0.85 BestEpoch:3 ElapsedS:120}
}

// Logits and gradients of a model at given weights with the CPU
// references, as `nfvk forward --cpu` computes them: pass a
// *kernels.Kernels instead of nil to use the Vulkan device.
func ExampleParity() {
	l, err := nfnet.NewLayout(nfnet.Nano(1, 10))
	if err != nil {
		log.Fatal(err)
	}
	specs := l.Params()
	vals, err := nfnet.Init(specs, 1)
	if err != nil {
		log.Fatal(err)
	}
	w := map[string][]float32{}
	for i, s := range specs {
		w[s.Name] = vals[i]
	}
	x := make([]float32, 2*28*28) // two black 28x28 images
	res, err := train.Parity(context.Background(), nil, l, w, x, []int{2, 1, 28, 28}, []int64{3, 7},
		train.ParityOptions{Grad: true, LabelSmoothing: 0.1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(res.Logits), len(res.Grads) == len(specs))
	// Output: 20 true
}

// A Session records a model's training step once and replays it: here on
// the float32 CPU references (Kernels nil); pass a *kernels.Kernels to
// run it on a Vulkan device. Per step the host gives the batch and the
// step's values from the recipe's schedule.
func ExampleSession() {
	l, err := nfnet.NewLayout(nfnet.Nano(1, 10))
	if err != nil {
		log.Fatal(err)
	}
	r := train.NanoRecipe()
	ctx := context.Background()
	s, err := train.NewSession(ctx, l, train.SessionOptions{
		Train: nfnet.TrainOptions{Batch: 4, Height: 28, Width: 28, LabelSmoothing: r.LabelSmoothing, Recipe: r.Recipe}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	vals, err := nfnet.Init(s.Specs, r.Seed)
	if err != nil {
		log.Fatal(err)
	}
	params := map[string][]float32{}
	for i, sp := range s.Specs {
		params[sp.Name] = vals[i]
	}
	if err := s.SetState(train.State{Params: params}); err != nil {
		log.Fatal(err)
	}
	sched, err := agc.NewSchedule(r.Recipe, 10)
	if err != nil {
		log.Fatal(err)
	}
	x := make([]float32, 4*28*28)
	for i := range x {
		x[i] = float32(i%28) / 28
	}
	labels := []int32{0, 1, 2, 3}
	var losses []float32
	for step := range int64(8) {
		if err := s.Submit(x, labels, sched.At(step+5), uint64(step)); err != nil {
			log.Fatal(err)
		}
		loss, err := s.Wait(ctx)
		if err != nil {
			log.Fatal(err)
		}
		losses = append(losses, loss)
	}
	fmt.Println("the loss fell:", losses[len(losses)-1] < losses[0])
	// Output: the loss fell: true
}
