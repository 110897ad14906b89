package train

import (
	"context"
	"errors"
	"fmt"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
)

// ParityOptions configure Parity.
type ParityOptions struct {
	// Grad also computes the loss and every parameter's gradient at the
	// given weights (train mode; equal to eval mode when the config's drop
	// rates are 0).
	Grad bool
	// LabelSmoothing of the cross-entropy.
	LabelSmoothing float64
	// Targets, when set, are soft targets [N, num_classes] (MixUp/CutMix
	// mixtures with any smoothing folded in, as timm's
	// SoftTargetCrossEntropy takes them) used instead of the labels.
	Targets []float32
	// Steps runs that many training steps on the batch and returns the
	// parameters after them.
	Steps int
	// Recipe is the optimizer of the steps, at a constant learning rate
	// (its schedule fields other than LR are not used) and no EMA.
	Recipe agc.Recipe
	// Seed is the first step's random seed (step i uses Seed+i).
	Seed uint64
}

// ParityResult holds what Parity computed. Maps are keyed by parameter
// name; tensors are flat, in timm's layout.
type ParityResult struct {
	// Logits [N, num_classes], eval mode at the given weights.
	Logits []float32
	// Loss at the given weights (when Grad or Steps > 0).
	Loss float32
	// Grads at the given weights (when Grad).
	Grads map[string][]float32
	// Losses of each training step, at the parameters before it.
	Losses []float32
	// Params after the training steps (when Steps > 0).
	Params map[string][]float32
}

// Parity computes what a PyTorch reference is compared on: eval logits,
// and optionally the loss, gradients and parameters after training
// steps, for a batch x of shape [N, in_chans, H, W] and labels (needed
// for Grad and Steps). With k nil it runs the float32 CPU references
// (graph.CPU and agc.SGD), independent of every kernel.
func Parity(ctx context.Context, k *kernels.Kernels, l *nfnet.Layout, weights map[string][]float32, x []float32, xShape []int, labels []int64, o ParityOptions) (*ParityResult, error) {
	if err := nfnet.CheckWeights(l.Params(), weights); err != nil {
		return nil, err
	}
	if len(xShape) != 4 || xShape[1] != l.Config.InChans {
		return nil, fmt.Errorf("train: parity: input shape %v: want [N, %d (in_chans), H, W]", xShape, l.Config.InChans)
	}
	if o.Steps < 0 {
		return nil, fmt.Errorf("train: parity: %d steps", o.Steps)
	}
	train := o.Grad || o.Steps > 0
	if train && labels == nil && o.Targets == nil {
		return nil, errors.New("train: parity: gradients and training steps need labels or targets")
	}
	if o.Targets != nil && (len(o.Targets) != xShape[0]*l.Config.NumClasses || o.LabelSmoothing != 0) {
		return nil, fmt.Errorf("train: parity: %d target values for %d images of %d classes, label smoothing %v (targets hold it)",
			len(o.Targets), xShape[0], l.Config.NumClasses, o.LabelSmoothing)
	}
	so := SessionOptions{Kernels: k, EvalBatch: xShape[0], EvalHeight: xShape[2], EvalWidth: xShape[3]}
	if train {
		so.Train = nfnet.TrainOptions{Batch: xShape[0], Height: xShape[2], Width: xShape[3],
			LabelSmoothing: o.LabelSmoothing, Recipe: o.Recipe, GradientsOnly: o.Steps == 0, SoftTargets: o.Targets != nil}
		if o.Steps > 0 && o.Recipe.Epochs == 0 {
			so.Train.Recipe.Epochs = 1 // a constant rate has no schedule length
		}
	}
	s, err := NewSession(ctx, l, so)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if err := s.SetParams(weights); err != nil {
		return nil, err
	}
	res := &ParityResult{}
	logits, err := s.Forward(ctx, x, Current)
	if err != nil {
		return nil, err
	}
	res.Logits = append([]float32(nil), logits...)
	if !train {
		return res, nil
	}
	return res, parityTrain(ctx, s, x, labels, o, res)
}

// parityTrain runs the steps: the first one's loss and gradients are at
// the given weights (the optimizer reads the gradients and leaves them).
func parityTrain(ctx context.Context, s *Session, x []float32, labels []int64, o ParityOptions, res *ParityResult) error {
	lab := make([]int32, len(labels))
	for i, c := range labels {
		if c < 0 || c >= int64(s.Layout.Config.NumClasses) {
			return fmt.Errorf("train: parity: labels[%d] = %d outside [0, %d) (num_classes)", i, c, s.Layout.Config.NumClasses)
		}
		lab[i] = int32(c)
	}
	r := o.Recipe
	for i := range max(o.Steps, 1) {
		h := agc.Hyper{LR: r.LR, Momentum: r.Momentum, Nesterov: r.Nesterov, WeightDecay: r.WeightDecay,
			Lambda: r.AGCClip, Eps: r.AGCEps, Step: int64(i)}
		var err error
		if o.Targets != nil {
			err = s.SubmitSoft(x, o.Targets, h, o.Seed+uint64(i))
		} else {
			err = s.Submit(x, lab, h, o.Seed+uint64(i))
		}
		if err != nil {
			return fmt.Errorf("train: parity: step %d: %w", i+1, err)
		}
		loss, err := s.Wait(ctx)
		if err != nil {
			return fmt.Errorf("train: parity: step %d: %w", i+1, err)
		}
		if i == 0 {
			res.Loss = loss
			if o.Grad {
				if res.Grads, err = s.Grads(); err != nil {
					return err
				}
			}
		}
		if o.Steps > 0 {
			res.Losses = append(res.Losses, loss)
		}
	}
	if o.Steps > 0 {
		var err error
		res.Params, err = s.Params()
		return err
	}
	return nil
}
