package nfnet

import (
	"github.com/nfvk/nfvk/graph"
)

// gradients adds the backward pass: seeded by the loss scale with
// o.LossScaleGrowth, by 1 otherwise.
func (s *TrainGraph) gradients(o TrainOptions, ps []*graph.Tensor) ([]*graph.Tensor, error) {
	if o.LossScaleGrowth <= 0 || o.GradientsOnly {
		return s.Graph.Gradients(s.Loss, ps)
	}
	var err error
	if s.LossScale, err = s.Graph.NewLossScale(o.LossScaleGrowth); err != nil {
		return nil, err
	}
	return s.Graph.GradientsScaled(s.Loss, ps, s.LossScale)
}

// unscale adds, with loss scaling, the overflow check and unscaling of
// the gradients the optimizer targets read, and returns the step values
// the update reads in place of hyper (hyper itself without).
func (s *TrainGraph) unscale(hyper *graph.Tensor, ts []graph.OptimTarget) (*graph.Tensor, error) {
	if s.LossScale == nil {
		return hyper, nil
	}
	grads := make([]*graph.Tensor, len(ts))
	for i, t := range ts {
		grads[i] = t.Grad
	}
	if err := s.LossScale.Unscale(grads); err != nil {
		return nil, err
	}
	return s.stepValues(hyper)
}

// stepValues is hyper, or with loss scaling the step values derived
// from it (zeroed after an overflow).
func (s *TrainGraph) stepValues(hyper *graph.Tensor) (*graph.Tensor, error) {
	if s.LossScale == nil {
		return hyper, nil
	}
	return s.LossScale.StepValues(hyper)
}
