package train

import (
	"context"
	"errors"
	"fmt"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/graph"
)

// Submit uploads one batch (x in NCHW order, labels class indices) and
// the step's values and starts the training step without waiting for
// it. With gradient accumulation (nfnet.TrainOptions.AccumSteps K) the
// batch holds K micro-batches of Batch images: each runs the
// forward-backward phase in turn (waited for here), then the update phase
// is submitted.
func (s *Session) Submit(x []float32, labels []int32, h agc.Hyper, seed uint64) error {
	if err := s.needTrain("submit", false); err != nil {
		return err
	}
	if s.tg.Targets != nil {
		return errors.New("train: session: submit: the step takes soft targets (SubmitSoft)")
	}
	if err := s.checkInput("submit", x); err != nil {
		return err
	}
	k := s.tg.AccumSteps
	b := s.tg.Labels.Size()
	if len(labels) != k*b {
		return fmt.Errorf("train: session: %d labels for a batch of %d", len(labels), k*b)
	}
	s.labelF = grow(s.labelF, k*b)
	classes := int32(s.Layout.Config.NumClasses)
	for i, c := range labels {
		if c < 0 || c >= classes {
			return fmt.Errorf("train: session: labels[%d] = %d outside [0, %d) (num_classes)", i, c, classes)
		}
		s.labelF[i] = float32(c)
	}
	return s.submit(x, s.labelF, h, seed)
}

// SubmitSoft is Submit for a step built with soft targets
// (nfnet.TrainOptions.SoftTargets): targets holds each image's class
// distribution, [images, classes] row-major (data.Batch.SoftTargets).
func (s *Session) SubmitSoft(x, targets []float32, h agc.Hyper, seed uint64) error {
	if err := s.needTrain("submit", false); err != nil {
		return err
	}
	if s.tg.Targets == nil {
		return errors.New("train: session: submit: the step takes labels (Submit)")
	}
	if err := s.checkInput("submit", x); err != nil {
		return err
	}
	if want := s.tg.AccumSteps * s.tg.Targets.Size(); len(targets) != want {
		return fmt.Errorf("train: session: %d target values, want %d (%d micro-batches of %v)", len(targets), want, s.tg.AccumSteps, s.tg.Targets.Shape())
	}
	return s.submit(x, targets, h, seed)
}

// checkInput checks the session is idle and x holds the step's images.
func (s *Session) checkInput(what string, x []float32) error {
	if err := s.idle(what); err != nil {
		return err
	}
	k, micro := s.tg.AccumSteps, s.tg.Input.Size()
	if len(x) != k*micro {
		return fmt.Errorf("train: session: input has %d values, want %d micro-batches of %v = %d", len(x), k, s.tg.Input.Shape(), k*micro)
	}
	return nil
}

// submit starts the step on x and the loss's input y (labels as floats,
// or targets).
func (s *Session) submit(x, y []float32, h agc.Hyper, seed uint64) error {
	if err := s.stepValues(h); err != nil {
		return err
	}
	var err error
	if s.tg.Graph.Phases() == 1 {
		err = s.submitPhase(0, seed, x, y, true)
	} else {
		err = s.submitMicro(x, y, seed)
	}
	if err != nil {
		return fmt.Errorf("train: session: %w", err)
	}
	s.pending, s.evalSynced = true, false
	return nil
}

// lossInput is the tensor the loss reads besides the logits: Labels or
// Targets.
func (s *Session) lossInput() *graph.Tensor {
	if s.tg.Targets != nil {
		return s.tg.Targets
	}
	return s.tg.Labels
}

// stepValues encodes the step's values, and the classifier's with its
// learning-rate multiplier.
func (s *Session) stepValues(h agc.Hyper) error {
	if s.tg.Hyper == nil {
		return nil
	}
	var err error
	if s.hyperV, err = h.Values(); err != nil {
		return fmt.Errorf("train: session: %w", err)
	}
	if s.tg.HeadHyper != nil {
		h.LR *= s.o.Train.Recipe.HeadMult()
		if s.headV, err = h.Values(); err != nil {
			return fmt.Errorf("train: session: head: %w", err)
		}
	}
	return nil
}

// submitPhase feeds a micro-batch (x, labels; nil feeds neither) and, with
// update, the step's values, and submits the phase.
func (s *Session) submitPhase(phase int, seed uint64, x, labels []float32, update bool) error {
	clear(s.feeds)
	if x != nil {
		s.feeds[s.tg.Input], s.feeds[s.lossInput()] = x, labels
	}
	if update && s.tg.Hyper != nil {
		s.feeds[s.tg.Hyper] = s.hyperV
		if s.tg.HeadHyper != nil {
			s.feeds[s.tg.HeadHyper] = s.headV
		}
	}
	err := s.train.SubmitPhase(phase, seed, s.feeds)
	clear(s.feeds) // keep no reference to the caller's batch
	return err
}

// submitMicro runs the forward-backward phases of each micro-batch,
// keeping its loss and logits, and on a data-parallel run hands each
// bucket of gradients to the allreduce as the phase that completes it
// ends; then it submits the update, the last phase.
func (s *Session) submitMicro(x, y []float32, seed uint64) error {
	k, micro, b := s.tg.AccumSteps, s.tg.Input.Size(), s.lossInput().Size()
	nl := s.tg.Logits.Size()
	back := s.tg.Graph.Phases() - 1
	s.microLoss = grow(s.microLoss, k)
	s.logit = grow(s.logit, k*nl)
	if s.reducer != nil {
		s.reducer.begin()
	}
	for i := range k {
		// Each micro-batch draws its own random bits (dropout, drop path).
		mseed := seed + uint64(i)*0x9e3779b97f4a7c15
		for p := range back {
			var xs, ls []float32
			if p == 0 {
				xs, ls = x[i*micro:(i+1)*micro], y[i*b:(i+1)*b]
			}
			if err := s.submitPhase(p, mseed, xs, ls, false); err != nil {
				return err
			}
			if err := s.train.Wait(context.Background()); err != nil {
				return err
			}
			if s.reducer != nil && i == k-1 {
				s.reducer.send(s.train, p)
			}
		}
		if err := s.train.ReadInto(s.tg.Loss, s.microLoss[i:i+1]); err != nil {
			return fmt.Errorf("read loss: %w", err)
		}
		if err := s.train.ReadInto(s.tg.Logits, s.logit[i*nl:(i+1)*nl]); err != nil {
			return fmt.Errorf("read logits: %w", err)
		}
	}
	if s.reducer != nil {
		if err := s.reducer.finish(s.train); err != nil {
			return err
		}
	}
	return s.submitPhase(back, seed, nil, nil, true)
}

// Wait waits for the submitted step and returns its loss (at the
// parameters before the update; the mean over the micro-batches with
// accumulation).
func (s *Session) Wait(ctx context.Context) (float32, error) {
	if !s.pending {
		return 0, errors.New("train: session: wait without a submitted step")
	}
	if err := s.train.Wait(ctx); err != nil {
		return 0, fmt.Errorf("train: session: %w", err)
	}
	s.pending = false
	if s.tg.Graph.Phases() > 1 {
		var sum float64
		for _, l := range s.microLoss {
			sum += float64(l)
		}
		return float32(sum / float64(len(s.microLoss))), nil
	}
	s.lossBuf = grow(s.lossBuf, 1)
	if err := s.train.ReadInto(s.tg.Loss, s.lossBuf); err != nil {
		return 0, fmt.Errorf("train: session: read loss: %w", err)
	}
	return s.lossBuf[0], nil
}

// Logits returns the last step's train-mode logits [batch, classes] (all
// its micro-batches with accumulation); the slice is reused by the next
// call.
func (s *Session) Logits() ([]float32, error) {
	if err := s.needTrain("logits", false); err != nil {
		return nil, err
	}
	if s.tg.Graph.Phases() > 1 {
		return s.logit, nil
	}
	s.logit = grow(s.logit, s.tg.Logits.Size())
	if err := s.train.ReadInto(s.tg.Logits, s.logit); err != nil {
		return nil, fmt.Errorf("train: session: read logits: %w", err)
	}
	return s.logit, nil
}
