package train

import (
	"context"
	"errors"
	"fmt"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/gpu"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
)

// TuneOptions describe the step Tune tunes the kernels for.
type TuneOptions struct {
	// Recipe gives the training step's batch, image size and optimizer.
	Recipe Recipe
	// EvalBatch > 0 tunes the eval pass at that batch too.
	EvalBatch int
	// Setup bounds and reports the measurements; Tune measures every
	// shape again (Setup.Retune) and caches the table.
	Setup kernels.TuneSetup
}

// Tune measures the kernel candidates for the shapes of l's training
// step (and eval pass) on k's device, caches the table next to the
// pipeline cache and returns it (what `nfvk tune` prints). On a CPU
// device it tunes only with Setup.Force; otherwise it returns nil.
func Tune(ctx context.Context, k *kernels.Kernels, l *nfnet.Layout, o TuneOptions) (*kernels.TuneTable, error) {
	if k == nil || l == nil {
		return nil, errors.New("train: tune: no device or model")
	}
	r := o.Recipe
	if err := r.Validate(); err != nil {
		return nil, fmt.Errorf("train: tune: %w", err)
	}
	tg, err := nfnet.BuildTrain(l, nfnet.TrainOptions{Batch: r.Batch, Height: r.Height, Width: r.Width,
		LabelSmoothing: r.LabelSmoothing, Recipe: r.optimizer(l), AccumSteps: r.AccumSteps})
	if err != nil {
		return nil, fmt.Errorf("train: tune: %w", err)
	}
	gs := []*graph.Graph{tg.Graph}
	if o.EvalBatch > 0 {
		eg, err := nfnet.BuildEval(l, o.EvalBatch, r.Height, r.Width)
		if err != nil {
			return nil, fmt.Errorf("train: tune: %w", err)
		}
		gs = append(gs, eg.Graph)
	}
	o.Setup.Retune = true
	_, t, err := tuneGraphs(ctx, k, o.Setup, gs...)
	return t, err
}

// tuneGraphs tunes k for the shapes of gs (kernels.Kernels.Tuned).
func tuneGraphs(ctx context.Context, k *kernels.Kernels, setup kernels.TuneSetup, gs ...*graph.Graph) (*kernels.Kernels, *kernels.TuneTable, error) {
	shapes, err := gpu.TuneShapes(k, gs...)
	if err != nil {
		return nil, nil, fmt.Errorf("train: tune: %w", err)
	}
	kt, t, err := k.Tuned(ctx, shapes, setup)
	if err != nil {
		return nil, nil, fmt.Errorf("train: tune: %w", err)
	}
	return kt, t, nil
}
