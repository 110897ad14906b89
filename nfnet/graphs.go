package nfnet

import (
	"errors"
	"fmt"
	"slices"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/graph"
)

// The two graphs a session compiles: the eval-mode forward pass, and the
// training step (train-mode forward, label-smoothed cross-entropy, its
// gradients, then the NFNet update: AGC + weight decay + Nesterov SGD and
// the weight EMA, as graph ops reading the step's values from one small
// input tensor). They are built here once; executors (graph.CPU, package
// graph/gpu) run them.

// EvalGraph is the eval-mode forward pass of a layout for batches of one
// shape.
type EvalGraph struct {
	Graph  *graph.Graph
	Layout *Layout
	// Input [N, in_chans, H, W]; Logits [N, num_classes], kept.
	Input, Logits *graph.Tensor
	// Params by parameter name.
	Params map[string]*graph.Tensor
}

// BuildEval builds the eval-mode forward pass of l for batches of batch
// images of height x width.
func BuildEval(l *Layout, batch, height, width int) (*EvalGraph, error) {
	if batch < 1 || height < 1 || width < 1 {
		return nil, fmt.Errorf("nfnet: eval graph: batch %d of %dx%d images: need positive sizes", batch, height, width)
	}
	e := &EvalGraph{Graph: graph.New(), Layout: l}
	var err error
	if e.Input, err = e.Graph.Input("input", graph.Shape{batch, l.Config.InChans, height, width}); err != nil {
		return nil, err
	}
	if e.Logits, e.Params, err = Build(e.Graph, l, e.Input, BuildOptions{}); err != nil {
		return nil, err
	}
	e.Graph.Keep(e.Logits)
	return e, nil
}

// TrainOptions configure BuildTrain.
type TrainOptions struct {
	// Batch, Height and Width give the input batch's shape.
	Batch, Height, Width int
	// LabelSmoothing is the cross-entropy's label smoothing.
	LabelSmoothing float64
	// SoftTargets feeds the loss target distributions [Batch, classes]
	// (TrainGraph.Targets: MixUp/CutMix, smoothing folded in) instead of
	// labels; LabelSmoothing must then be 0.
	SoftTargets bool
	// Recipe decides what is fixed when the step is recorded: which
	// parameters AGC clips (Recipe.Clips) and its unit rule. Its other
	// values reach the step every step, through the step-values input.
	Recipe agc.Recipe
	// GradientsOnly ends the graph at the gradients: no optimizer,
	// momentum, EMA or step values (what a gradient check needs).
	GradientsOnly bool
	// AccumSteps > 1 sums the gradients of that many micro-batches of
	// Batch images (each scaled by 1/AccumSteps, so the sum is the
	// gradient of the mean loss over all of them) before one update: the
	// step then has two phases, the forward-backward-accumulate phase run
	// per micro-batch and the update phase run once (graph.SetPhase).
	AccumSteps int
	// Replicas > 1 makes the step one of that many data-parallel
	// replicas; the host sums the gradients over them before the update
	// phase. With AccumSteps > 1 the accumulated GradSums are scaled by
	// 1/(AccumSteps*Replicas), so their sum over the replicas is the
	// gradient of the mean loss of the global batch. Without, the
	// backward pass is split into phases (graph.SplitPhase), each ending
	// where a bucket of at most BucketFloats gradient values (0: all of
	// them) is complete (TrainGraph.Buckets), so the host can reduce one
	// bucket while the device computes the next; the host scales the
	// sums of Grads by 1/Replicas.
	Replicas, BucketFloats int
	// LossScaleGrowth > 0 turns on dynamic loss scaling (float16
	// training; TrainGraph.LossScale) with that growth interval.
	LossScaleGrowth int
}

// TrainGraph is the training step of a layout as a graph.
type TrainGraph struct {
	Graph  *graph.Graph
	Layout *Layout
	// Specs are the parameters in timm's order.
	Specs []ParamSpec
	// Input [N, in_chans, H, W] and Labels [N] are fed every step; Hyper
	// (agc.HyperWords values, agc.Hyper.Values) too, unless GradientsOnly,
	// and HeadHyper (the same values with the classifier's learning rate)
	// when the recipe has a head learning-rate multiplier.
	Input, Labels, Hyper, HeadHyper *graph.Tensor
	// Targets [N, classes] replaces Labels with TrainOptions.SoftTargets.
	Targets *graph.Tensor
	// Logits (train mode) and Loss (scalar, at the parameters before the
	// update) are kept.
	Logits, Loss *graph.Tensor
	// Params, Grads, Momentum and EMA by parameter name (Grads, Momentum
	// and EMA hold no frozen parameter; Momentum and EMA are empty with
	// GradientsOnly). GradSums are the accumulated gradients the update
	// reads when AccumSteps > 1.
	Params, Grads, Momentum, EMA, GradSums map[string]*graph.Tensor
	// AccumSteps is the number of micro-batches per update (1: none).
	AccumSteps int
	// Replicas is the number of data-parallel replicas (1: none).
	Replicas int
	// Buckets, for Replicas > 1 without accumulation, are the trained
	// parameters whose Grads are complete after each backward phase:
	// bucket i after phase i, in the order backward produces them; the
	// update is the phase after the last.
	Buckets [][]string
	// LossScale is the dynamic loss scaling state, with
	// TrainOptions.LossScaleGrowth (else nil).
	LossScale *graph.LossScale
}

// Trained reports whether the step updates the named parameter (it is
// not frozen).
func (s *TrainGraph) Trained(name string) bool { return s.Grads[name] != nil }

// BuildTrain builds the training step of l.
func BuildTrain(l *Layout, o TrainOptions) (*TrainGraph, error) {
	if o.Batch < 1 || o.Height < 1 || o.Width < 1 {
		return nil, fmt.Errorf("nfnet: train graph: batch %d of %dx%d images: need positive sizes", o.Batch, o.Height, o.Width)
	}
	if !o.GradientsOnly {
		if err := o.Recipe.Validate(); err != nil {
			return nil, fmt.Errorf("nfnet: train graph: %w", err)
		}
	}
	if (o.AccumSteps > 1 || o.Replicas > 1) && o.GradientsOnly {
		return nil, errors.New("nfnet: train graph: gradient accumulation and replicas need the update")
	}
	s := &TrainGraph{Graph: graph.New(), Layout: l, Specs: l.Params(), AccumSteps: max(o.AccumSteps, 1), Replicas: max(o.Replicas, 1),
		Grads: map[string]*graph.Tensor{}, Momentum: map[string]*graph.Tensor{}, EMA: map[string]*graph.Tensor{},
		GradSums: map[string]*graph.Tensor{}}
	g := s.Graph
	var err error
	if s.Input, err = g.Input("input", graph.Shape{o.Batch, l.Config.InChans, o.Height, o.Width}); err != nil {
		return nil, err
	}
	if s.Logits, s.Params, err = Build(g, l, s.Input, BuildOptions{Train: true}); err != nil {
		return nil, err
	}
	if err := s.addLoss(o); err != nil {
		return nil, fmt.Errorf("nfnet: train graph: loss: %w", err)
	}
	g.Keep(s.Loss, s.Logits)
	// Only the trained parameters get gradients: the backward of frozen
	// layers is pruned where nothing trained lies before them.
	var ps []*graph.Tensor
	var trained []ParamSpec
	for _, sp := range s.Specs {
		p := s.Params[sp.Name]
		if p == nil {
			return nil, fmt.Errorf("nfnet: train graph: parameter %s is not used by the network", sp.Name)
		}
		if o.GradientsOnly || !o.Recipe.Frozen(sp.Name) {
			ps, trained = append(ps, p), append(trained, sp)
		}
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("nfnet: train graph: every parameter is frozen (%v)", o.Recipe.Freeze)
	}
	grads, err := s.gradients(o, ps)
	if err != nil {
		return nil, fmt.Errorf("nfnet: train graph: gradients: %w", err)
	}
	for i, sp := range trained {
		if grads[i] == nil {
			return nil, fmt.Errorf("nfnet: train graph: the loss does not depend on %s", sp.Name)
		}
		s.Grads[sp.Name] = grads[i]
	}
	if o.GradientsOnly {
		return s, nil
	}
	if err := s.addAccumulation(trained); err != nil {
		return nil, fmt.Errorf("nfnet: train graph: %w", err)
	}
	if err := s.splitBuckets(trained, o.BucketFloats); err != nil {
		return nil, fmt.Errorf("nfnet: train graph: %w", err)
	}
	if err := s.addUpdate(o.Recipe); err != nil {
		return nil, fmt.Errorf("nfnet: train graph: %w", err)
	}
	return s, nil
}

// addLoss adds the labels (or soft targets) input and the loss.
func (s *TrainGraph) addLoss(o TrainOptions) error {
	g := s.Graph
	var err error
	if o.SoftTargets {
		if o.LabelSmoothing != 0 {
			return errors.New("label smoothing goes into the soft targets, not the loss")
		}
		if s.Targets, err = g.Input("targets", graph.Shape{o.Batch, s.Layout.Config.NumClasses}); err != nil {
			return err
		}
		s.Loss, err = g.SoftmaxCESoft(s.Logits, s.Targets)
		return err
	}
	if s.Labels, err = g.Labels("labels", o.Batch); err != nil {
		return err
	}
	s.Loss, err = g.SoftmaxCE(s.Logits, s.Labels, o.LabelSmoothing)
	return err
}

// addAccumulation sums each micro-batch's gradients, scaled by
// 1/(AccumSteps*Replicas), into GradSums and starts the update phase.
func (s *TrainGraph) addAccumulation(trained []ParamSpec) error {
	if s.AccumSteps == 1 {
		return nil
	}
	g := s.Graph
	for _, sp := range trained {
		acc, err := g.State("grad_sum/"+sp.Name, GraphShape(sp))
		if err != nil {
			return err
		}
		if err := g.Accumulate(acc, s.Grads[sp.Name], 1/float64(s.AccumSteps*s.Replicas)); err != nil {
			return err
		}
		s.GradSums[sp.Name] = acc
	}
	return g.SetPhase(1)
}

// addUpdate appends the optimizer (one for the body and, with a head
// learning-rate multiplier, one for the classifier reading its own step
// values), the EMA and, with accumulation, the reset of the sums.
func (s *TrainGraph) addUpdate(r agc.Recipe) error {
	g := s.Graph
	var err error
	if s.Hyper, err = g.Input("step values", graph.Shape{agc.HyperWords}); err != nil {
		return err
	}
	head := map[string]bool{s.Layout.Head.Weight: true, s.Layout.Head.Bias: true}
	var body, headTs []graph.OptimTarget
	var trained []ParamSpec
	for _, sp := range s.Specs {
		if !s.Trained(sp.Name) {
			continue
		}
		trained = append(trained, sp)
		m, err := g.State("momentum/"+sp.Name, GraphShape(sp))
		if err != nil {
			return err
		}
		s.Momentum[sp.Name] = m
		grad := s.Grads[sp.Name]
		if sum := s.GradSums[sp.Name]; sum != nil {
			grad = sum
		}
		// Units follow the file (timm) shape: for timm's rule an SE weight
		// (O,I,1,1) has O units either way.
		t := graph.OptimTarget{Param: s.Params[sp.Name], Grad: grad, Momentum: m, Shape: sp.Shape,
			WeightDecay: sp.WeightDecay, Clip: r.Clips(sp.Name, sp.Kind == SkipGain)}
		if head[sp.Name] && r.HeadMult() != 1 {
			headTs = append(headTs, t)
		} else {
			body = append(body, t)
		}
	}
	hyper, err := s.unscale(s.Hyper, slices.Concat(body, headTs))
	if err != nil {
		return err
	}
	if len(body) > 0 {
		if err := g.Optimizer(hyper, r.Units(), body); err != nil {
			return err
		}
	}
	if len(headTs) > 0 {
		if s.HeadHyper, err = g.Input("head step values", graph.Shape{agc.HyperWords}); err != nil {
			return err
		}
		headHyper, err := s.stepValues(s.HeadHyper)
		if err != nil {
			return err
		}
		if err := g.Optimizer(headHyper, r.Units(), headTs); err != nil {
			return err
		}
	}
	if err := s.addEMA(trained, hyper); err != nil {
		return err
	}
	sums := make([]*graph.Tensor, 0, len(s.GradSums))
	for _, sp := range trained {
		if sum := s.GradSums[sp.Name]; sum != nil {
			sums = append(sums, sum)
		}
	}
	if err := g.Zero(sums...); err != nil {
		return err
	}
	if s.LossScale != nil {
		return s.LossScale.Update()
	}
	return nil
}

// addEMA appends the weight EMA of the trained parameters (a frozen
// parameter is its own average).
func (s *TrainGraph) addEMA(trained []ParamSpec, hyper *graph.Tensor) error {
	g := s.Graph
	var err error
	// The averages are added in the parameters' order in the graph, so
	// they mirror the parameter pool and one pass updates them all.
	byID := slices.Clone(trained)
	slices.SortFunc(byID, func(a, b ParamSpec) int { return s.Params[a.Name].ID() - s.Params[b.Name].ID() })
	avgs, params := make([]*graph.Tensor, len(byID)), make([]*graph.Tensor, len(byID))
	for i, sp := range byID {
		if avgs[i], err = g.Average("ema/"+sp.Name, GraphShape(sp)); err != nil {
			return err
		}
		s.EMA[sp.Name], params[i] = avgs[i], s.Params[sp.Name]
	}
	return g.EMA(hyper, avgs, params)
}
