package data_test

import (
	"context"
	"fmt"
	"log"

	"github.com/nfvk/nfvk/data"
)

// A training loop's use of the package, on a small synthetic data set
// (LoadFashionMNIST(dir, data.Train) would return the real one).
func ExampleLoader() {
	ds := &data.Dataset{N: 100, C: 1, H: 28, W: 28, Classes: data.FashionMNISTClasses}
	ds.Images = make([]float32, ds.N*ds.C*ds.H*ds.W)
	ds.Labels = make([]int32, ds.N)
	for i := range ds.Labels {
		ds.Labels[i] = int32(i % 10)
	}
	if err := ds.Normalize(data.FashionMNISTStats); err != nil {
		log.Fatal(err)
	}

	cfg := data.Config{
		BatchSize: 32,
		Shuffle:   true,
		Seed:      42,
		Augment:   &data.Augment{Pad: 2, HFlip: true},
		Mix:       &data.Mix{CutMixAlpha: 1},
		Epochs:    2,
		// To resume from a checkpoint that consumed g batches:
		// Start: pipeline.PositionAt(g).
	}
	loader, err := data.NewLoader(context.Background(), ds, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer loader.Close()

	fmt.Println("steps per epoch:", loader.Pipeline().StepsPerEpoch())
	var targets []float32
	for {
		b, err := loader.Next(context.Background())
		if err != nil { // io.EOF after the last epoch
			break
		}
		targets = b.SoftTargets(targets) // N×K, whether hard labels or mixed
		// ... upload b.Images and targets, run the step ...
		if b.Pos.Step == 0 {
			fmt.Printf("epoch %d: images %dx%dx%dx%d, targets %dx%d\n", b.Pos.Epoch, b.N, b.C, b.H, b.W, b.N, b.K)
		}
		loader.Recycle(b)
	}
	// Output:
	// steps per epoch: 3
	// epoch 0: images 32x1x28x28, targets 32x10
	// epoch 1: images 32x1x28x28, targets 32x10
}
