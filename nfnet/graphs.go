package nfnet

import (
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
	// Recipe decides what is fixed when the step is recorded: which
	// parameters AGC clips (Recipe.Clips) and its unit rule. Its other
	// values reach the step every step, through the step-values input.
	Recipe agc.Recipe
	// GradientsOnly ends the graph at the gradients: no optimizer,
	// momentum, EMA or step values (what a gradient check needs).
	GradientsOnly bool
}

// TrainGraph is the training step of a layout as a graph.
type TrainGraph struct {
	Graph  *graph.Graph
	Layout *Layout
	// Specs are the parameters in timm's order.
	Specs []ParamSpec
	// Input [N, in_chans, H, W] and Labels [N] are fed every step; Hyper
	// (agc.HyperWords values, agc.Hyper.Values) too, unless GradientsOnly.
	Input, Labels, Hyper *graph.Tensor
	// Logits (train mode) and Loss (scalar, at the parameters before the
	// update) are kept.
	Logits, Loss *graph.Tensor
	// Params, Grads, Momentum and EMA by parameter name (Momentum and EMA
	// empty with GradientsOnly).
	Params, Grads, Momentum, EMA map[string]*graph.Tensor
}

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
	s := &TrainGraph{Graph: graph.New(), Layout: l, Specs: l.Params(),
		Grads: map[string]*graph.Tensor{}, Momentum: map[string]*graph.Tensor{}, EMA: map[string]*graph.Tensor{}}
	g := s.Graph
	var err error
	if s.Input, err = g.Input("input", graph.Shape{o.Batch, l.Config.InChans, o.Height, o.Width}); err != nil {
		return nil, err
	}
	if s.Labels, err = g.Labels("labels", o.Batch); err != nil {
		return nil, err
	}
	if s.Logits, s.Params, err = Build(g, l, s.Input, BuildOptions{Train: true}); err != nil {
		return nil, err
	}
	if s.Loss, err = g.SoftmaxCE(s.Logits, s.Labels, o.LabelSmoothing); err != nil {
		return nil, fmt.Errorf("nfnet: train graph: loss: %w", err)
	}
	g.Keep(s.Loss, s.Logits)
	ps := make([]*graph.Tensor, len(s.Specs))
	for i, sp := range s.Specs {
		if ps[i] = s.Params[sp.Name]; ps[i] == nil {
			return nil, fmt.Errorf("nfnet: train graph: parameter %s is not used by the network", sp.Name)
		}
	}
	grads, err := g.Gradients(s.Loss, ps)
	if err != nil {
		return nil, fmt.Errorf("nfnet: train graph: gradients: %w", err)
	}
	for i, sp := range s.Specs {
		if grads[i] == nil {
			return nil, fmt.Errorf("nfnet: train graph: the loss does not depend on %s", sp.Name)
		}
		s.Grads[sp.Name] = grads[i]
	}
	if o.GradientsOnly {
		return s, nil
	}
	if err := s.addUpdate(o.Recipe); err != nil {
		return nil, fmt.Errorf("nfnet: train graph: %w", err)
	}
	return s, nil
}

// addUpdate appends the optimizer and the EMA.
func (s *TrainGraph) addUpdate(r agc.Recipe) error {
	g := s.Graph
	var err error
	if s.Hyper, err = g.Input("step values", graph.Shape{agc.HyperWords}); err != nil {
		return err
	}
	ts := make([]graph.OptimTarget, len(s.Specs))
	for i, sp := range s.Specs {
		m, err := g.State("momentum/"+sp.Name, GraphShape(sp))
		if err != nil {
			return err
		}
		s.Momentum[sp.Name] = m
		// Units follow the file (timm) shape: for timm's rule an SE weight
		// (O,I,1,1) has O units either way.
		ts[i] = graph.OptimTarget{Param: s.Params[sp.Name], Grad: s.Grads[sp.Name], Momentum: m, Shape: sp.Shape,
			WeightDecay: sp.WeightDecay, Clip: r.Clips(sp.Name, sp.Kind == SkipGain)}
	}
	if err := g.Optimizer(s.Hyper, r.Units(), ts); err != nil {
		return err
	}
	// The averages are added in the parameters' order in the graph, so
	// they mirror the parameter pool and one pass updates them all.
	byID := slices.Clone(s.Specs)
	slices.SortFunc(byID, func(a, b ParamSpec) int { return s.Params[a.Name].ID() - s.Params[b.Name].ID() })
	avgs, params := make([]*graph.Tensor, len(byID)), make([]*graph.Tensor, len(byID))
	for i, sp := range byID {
		if avgs[i], err = g.Average("ema/"+sp.Name, GraphShape(sp)); err != nil {
			return err
		}
		s.EMA[sp.Name], params[i] = avgs[i], s.Params[sp.Name]
	}
	return g.EMA(s.Hyper, avgs, params)
}
