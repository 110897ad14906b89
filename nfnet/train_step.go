package nfnet

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels"
)

// The training step: forward in train mode, mean label-smoothed softmax
// cross-entropy, its gradients, then AGC + weight decay + SGD (Nesterov)
// momentum as the fused GPU kernel (kernels.OptimizerStep), all recorded
// once into one program and replayed. Per-step scalars (learning rate,
// momentum, AGC lambda, ...) live in a device buffer the host rewrites
// between steps, so nothing is re-recorded.

// Optim holds the optimizer's settings (agc.SGD's, as the CPU reference
// names them).
type Optim struct {
	LR          float64
	Momentum    float64
	Nesterov    bool
	WeightDecay float64
	// AGCClip is AGC's lambda; 0 turns AGC off.
	AGCClip float64
	// AGCEps floors the parameter norm (agc.DefaultEps when 0).
	AGCEps float64
	// AGCExclude lists parameter names AGC leaves alone (timm: the
	// classifier, head.fc.weight and head.fc.bias). A name that is a
	// module path (e.g. "head.fc") excludes every parameter under it.
	AGCExclude []string
	// AGCUnits is the unit rule (agc.Timm or agc.DeepMind; 0 means
	// agc.DeepMind, the spec's default).
	AGCUnits agc.UnitRule
}

// excluded reports whether AGC leaves the parameter out.
func (o Optim) excluded(name string) bool {
	for _, e := range o.AGCExclude {
		if name == e || (len(name) > len(e) && name[:len(e)] == e && (name[len(e)] == '.' || name[len(e)] == '/')) {
			return true
		}
	}
	return false
}

func (o Optim) units() agc.UnitRule {
	if o.AGCUnits == 0 {
		return agc.DeepMind
	}
	return o.AGCUnits
}

// hyper is the per-step buffer content of step i.
func (o Optim) hyper(step int) kernels.Hyper {
	return kernels.Hyper{LR: o.LR, Momentum: o.Momentum, Nesterov: o.Nesterov, WeightDecay: o.WeightDecay,
		Lambda: o.AGCClip, Eps: o.AGCEps, Step: step}
}

// sgd is the CPU reference of the same optimizer.
func (o Optim) sgd() agc.SGD {
	s := agc.SGD{LR: o.LR, Momentum: o.Momentum, Nesterov: o.Nesterov, WeightDecay: o.WeightDecay}
	if o.AGCClip > 0 {
		s.Clip = &agc.Clipper{Lambda: o.AGCClip, Eps: o.AGCEps, Rule: o.units()}
	}
	return s
}

// TrainOptions configure NewTrainStep.
type TrainOptions struct {
	// Batch, Height and Width give the input batch's shape.
	Batch, Height, Width int
	// LabelSmoothing is the cross-entropy's label smoothing.
	LabelSmoothing float64
	// NoOptimizer records forward and backward only (gradients, no
	// update): what a gradient check needs.
	NoOptimizer bool
	// Optim fixes what is decided at recording time: AGC's exclusions and
	// unit rule. Its scalars are the defaults of Run's hyper values.
	Optim Optim
}

// TrainStep is a compiled training step of one network on the GPU.
type TrainStep struct {
	Layout *Layout
	Graph  *graph.Graph
	// Input [N, in_chans, H, W], Labels [N], Logits (kept) and Loss
	// (kept, scalar).
	Input, Labels, Logits, Loss *graph.Tensor
	// Specs are the parameters in timm's order.
	Specs []ParamSpec
	// Params, Grads and Momentum by parameter name.
	Params, Grads, Momentum map[string]*graph.Tensor

	opts  TrainOptions
	exec  *graph.GPU
	hyper *engine.Buffer
	steps int
}

// buildTrain adds the train-mode network, loss and gradients to a new
// graph.
func buildTrain(l *Layout, o TrainOptions) (*TrainStep, error) {
	if o.Batch < 1 || o.Height < 1 || o.Width < 1 {
		return nil, fmt.Errorf("nfnet: train step: batch %d of %dx%d images: need positive sizes", o.Batch, o.Height, o.Width)
	}
	s := &TrainStep{Layout: l, Graph: graph.New(), Specs: l.Params(), opts: o,
		Grads: map[string]*graph.Tensor{}, Momentum: map[string]*graph.Tensor{}}
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
		return nil, fmt.Errorf("nfnet: train step: loss: %w", err)
	}
	g.Keep(s.Loss, s.Logits)
	ps := make([]*graph.Tensor, len(s.Specs))
	for i, sp := range s.Specs {
		if ps[i] = s.Params[sp.Name]; ps[i] == nil {
			return nil, fmt.Errorf("nfnet: train step: parameter %s is not used by the network", sp.Name)
		}
	}
	grads, err := g.Gradients(s.Loss, ps)
	if err != nil {
		return nil, fmt.Errorf("nfnet: train step: gradients: %w", err)
	}
	for i, sp := range s.Specs {
		if grads[i] == nil {
			return nil, fmt.Errorf("nfnet: train step: the loss does not depend on %s", sp.Name)
		}
		s.Grads[sp.Name] = grads[i]
	}
	return s, nil
}

// NewTrainStep builds the step of l for batches of o's shape and records
// it on k's device: forward, loss, backward and (unless o.NoOptimizer)
// one fused AGC+SGD dispatch per parameter tensor. Parameters and
// momentum start at zero: set parameters with SetParams.
func NewTrainStep(ctx context.Context, k *kernels.Kernels, l *Layout, o TrainOptions) (_ *TrainStep, err error) {
	if k == nil {
		return nil, errors.New("nfnet: train step: no kernels (device)")
	}
	s, err := buildTrain(l, o)
	if err != nil {
		return nil, err
	}
	co := graph.CompileOptions{}
	if !o.NoOptimizer {
		for _, sp := range s.Specs {
			if s.Momentum[sp.Name], err = s.Graph.State("momentum/"+sp.Name, GraphShape(sp)); err != nil {
				return nil, err
			}
		}
		if s.hyper, err = k.Device().NewBuffer("nfnet hyper", kernels.HyperBytes); err != nil {
			return nil, fmt.Errorf("nfnet: train step: %w", err)
		}
		defer func() {
			if err != nil {
				s.hyper.Free()
			}
		}()
		co.After = func(p *engine.Program, span func(*graph.Tensor) (engine.Span, error)) error {
			return s.recordOptimizer(k, p, span)
		}
	}
	if s.exec, err = graph.Compile(ctx, k, s.Graph, co); err != nil {
		return nil, fmt.Errorf("nfnet: train step %s: %w", l.Config.Name, err)
	}
	return s, nil
}

// recordOptimizer adds one fused optimizer dispatch per parameter. The
// graph gives every persistent tensor its own buffer, so the
// many-tensors-per-dispatch variant (one buffer per role) does not apply.
func (s *TrainStep) recordOptimizer(k *kernels.Kernels, p *engine.Program, span func(*graph.Tensor) (engine.Span, error)) error {
	for _, sp := range s.Specs {
		t := kernels.OptimTensor{Name: sp.Name, Shape: sp.Shape, WeightDecay: sp.WeightDecay, AGC: !s.opts.Optim.excluded(sp.Name)}
		var err error
		if t.Param, err = span(s.Params[sp.Name]); err != nil {
			return fmt.Errorf("%s: %w", sp.Name, err)
		}
		if t.Grad, err = span(s.Grads[sp.Name]); err != nil {
			return fmt.Errorf("%s gradient: %w", sp.Name, err)
		}
		if t.Momentum, err = span(s.Momentum[sp.Name]); err != nil {
			return fmt.Errorf("%s momentum: %w", sp.Name, err)
		}
		if t.AGC {
			// Units follow the file (timm) shape: for timm's rule an SE
			// weight (O,I,1,1) has O units either way.
			if t.Units, err = kernels.UnitsOf(sp.Shape, s.opts.Optim.units()); err != nil {
				return fmt.Errorf("%s: %w", sp.Name, err)
			}
		}
		if err := k.OptimizerStep(p, t, s.hyper.Span()); err != nil {
			return err
		}
	}
	return nil
}

// SetParams uploads every parameter (by name, in timm's flat layout).
func (s *TrainStep) SetParams(vals map[string][]float32) error {
	if err := checkWeights(s.Specs, vals); err != nil {
		return err
	}
	for _, sp := range s.Specs {
		if err := s.exec.Write(s.Params[sp.Name], vals[sp.Name]); err != nil {
			return fmt.Errorf("nfnet: set %s: %w", sp.Name, err)
		}
	}
	return nil
}

// Param reads a parameter's current value.
func (s *TrainStep) Param(name string) ([]float32, error) { return s.read("parameter", s.Params, name) }

// Grad reads the gradient of the last step (at the parameters before its
// update).
func (s *TrainStep) Grad(name string) ([]float32, error) { return s.read("gradient", s.Grads, name) }

// ReadLogits reads the last step's train-mode logits.
func (s *TrainStep) ReadLogits() ([]float32, error) { return s.exec.Read(s.Logits) }

func (s *TrainStep) read(what string, m map[string]*graph.Tensor, name string) ([]float32, error) {
	t, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("nfnet: no %s %q", what, name)
	}
	v, err := s.exec.Read(t)
	if err != nil {
		return nil, fmt.Errorf("nfnet: read %s %s: %w", what, name, err)
	}
	return v, nil
}

// Run replays the step on one batch (x in NCHW order, labels in [0,
// num_classes)) with this step's optimizer scalars and random seed, and
// returns the loss at the parameters before the update.
func (s *TrainStep) Run(ctx context.Context, x []float32, labels []int64, o Optim, seed uint64) (float32, error) {
	feeds, err := s.feeds(x, labels)
	if err != nil {
		return 0, err
	}
	if s.hyper != nil {
		if err := kernels.WriteHyper(s.hyper.Span(), o.hyper(s.steps)); err != nil {
			return 0, fmt.Errorf("nfnet: train step: %w", err)
		}
	}
	if err := s.exec.Step(ctx, seed, feeds); err != nil {
		return 0, fmt.Errorf("nfnet: train step: %w", err)
	}
	s.steps++
	l, err := s.exec.Read(s.Loss)
	if err != nil {
		return 0, fmt.Errorf("nfnet: train step: read loss: %w", err)
	}
	return l[0], nil
}

// feeds checks a batch and returns the graph's feeds.
func (s *TrainStep) feeds(x []float32, labels []int64) (map[*graph.Tensor][]float32, error) {
	if len(x) != s.Input.Size() {
		return nil, fmt.Errorf("nfnet: train step: input has %d values, want %v = %d", len(x), s.Input.Shape(), s.Input.Size())
	}
	lv, err := labelFloats(labels, s.opts.Batch, s.Layout.Config.NumClasses)
	if err != nil {
		return nil, err
	}
	return map[*graph.Tensor][]float32{s.Input: x, s.Labels: lv}, nil
}

// labelFloats checks labels and converts them to the graph's float class
// indices.
func labelFloats(labels []int64, n, classes int) ([]float32, error) {
	if len(labels) != n {
		return nil, fmt.Errorf("nfnet: labels: %d values for a batch of %d", len(labels), n)
	}
	out := make([]float32, n)
	for i, c := range labels {
		if c < 0 || c >= int64(classes) {
			return nil, fmt.Errorf("nfnet: labels[%d] = %d: outside [0, %d) (num_classes)", i, c, classes)
		}
		out[i] = float32(c)
	}
	return out, nil
}

// Close frees the device memory.
func (s *TrainStep) Close() {
	if s.exec != nil {
		s.exec.Close()
		s.exec = nil
	}
	if s.hyper != nil {
		s.hyper.Free()
		s.hyper = nil
	}
}

// checkWeights checks that vals holds every parameter of specs with the
// right element count.
func checkWeights(specs []ParamSpec, vals map[string][]float32) error {
	var errs []error
	for _, sp := range specs {
		v, ok := vals[sp.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("nfnet: weights: missing %s %v", sp.Name, sp.Shape))
			continue
		}
		if len(v) != sp.Numel() {
			errs = append(errs, fmt.Errorf("nfnet: weights: %s has %d values, shape %v needs %d", sp.Name, len(v), sp.Shape, sp.Numel()))
		}
	}
	return errors.Join(errs...)
}

// ParityOptions configure Parity.
type ParityOptions struct {
	// Grad also computes the loss and every parameter's gradient at the
	// given weights (train mode; equal to eval mode when the config's drop
	// rates are 0).
	Grad bool
	// LabelSmoothing of the cross-entropy.
	LabelSmoothing float64
	// Steps runs that many training steps on the batch and returns the
	// parameters after them.
	Steps int
	// Optim configures the training steps.
	Optim Optim
	// CPU runs the float32 CPU references (graph.CPU and agc.SGD) instead
	// of the device: slow, but independent of the kernels.
	CPU bool
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

// Parity computes what a PyTorch reference would be compared on: eval
// logits, and optionally the loss, gradients and parameters after
// training steps, for a batch x of shape [N, in_chans, H, W] and labels
// (needed for Grad and Steps). k may be nil with o.CPU.
func Parity(ctx context.Context, k *kernels.Kernels, l *Layout, weights map[string][]float32, x []float32, xShape []int, labels []int64, o ParityOptions) (*ParityResult, error) {
	specs := l.Params()
	if err := checkWeights(specs, weights); err != nil {
		return nil, err
	}
	if len(xShape) != 4 || xShape[1] != l.Config.InChans {
		return nil, fmt.Errorf("nfnet: parity: input shape %v: want [N, %d (in_chans), H, W]", xShape, l.Config.InChans)
	}
	if o.Steps < 0 {
		return nil, fmt.Errorf("nfnet: parity: %d steps", o.Steps)
	}
	if !o.CPU && k == nil {
		return nil, errors.New("nfnet: parity: no kernels (device); use the CPU option")
	}
	res := &ParityResult{}
	var err error
	if o.CPU {
		res.Logits, err = ForwardCPU(ctx, l, weights, x, xShape)
	} else {
		res.Logits, err = Forward(ctx, k, l, weights, x, xShape)
	}
	if err != nil {
		return nil, err
	}
	if !o.Grad && o.Steps == 0 {
		return res, nil
	}
	if labels == nil {
		return nil, errors.New("nfnet: parity: gradients and training steps need labels")
	}
	to := TrainOptions{Batch: xShape[0], Height: xShape[2], Width: xShape[3], LabelSmoothing: o.LabelSmoothing,
		NoOptimizer: o.Steps == 0, Optim: o.Optim}
	if o.CPU {
		err = parityCPU(ctx, l, weights, x, labels, to, o, res)
	} else {
		err = parityGPU(ctx, k, l, weights, x, labels, to, o, res)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

func parityGPU(ctx context.Context, k *kernels.Kernels, l *Layout, weights map[string][]float32, x []float32, labels []int64,
	to TrainOptions, o ParityOptions, res *ParityResult) error {
	s, err := NewTrainStep(ctx, k, l, to)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.SetParams(weights); err != nil {
		return err
	}
	runs := max(o.Steps, 1)
	for i := 0; i < runs; i++ {
		loss, err := s.Run(ctx, x, labels, o.Optim, o.Seed+uint64(i))
		if err != nil {
			return fmt.Errorf("step %d: %w", i+1, err)
		}
		if i == 0 {
			res.Loss = loss
			if o.Grad {
				// The optimizer reads the gradients and leaves them be,
				// so after step 1 they are those at the given weights.
				res.Grads = map[string][]float32{}
				for _, sp := range s.Specs {
					if res.Grads[sp.Name], err = s.Grad(sp.Name); err != nil {
						return err
					}
				}
			}
		}
		if o.Steps > 0 {
			res.Losses = append(res.Losses, loss)
		}
	}
	if o.Steps > 0 {
		res.Params = map[string][]float32{}
		for _, sp := range s.Specs {
			if res.Params[sp.Name], err = s.Param(sp.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

// parityCPU runs the same steps with the CPU references: the graph's
// float32 executor for loss and gradients, agc.SGD for the update.
func parityCPU(ctx context.Context, l *Layout, weights map[string][]float32, x []float32, labels []int64,
	to TrainOptions, o ParityOptions, res *ParityResult) error {
	s, err := buildTrain(l, to)
	if err != nil {
		return err
	}
	c := graph.NewCPU[float32](s.Graph)
	cur := map[string][]float32{}
	mom := map[string][]float32{}
	for _, sp := range s.Specs {
		cur[sp.Name] = slices.Clone(weights[sp.Name])
		mom[sp.Name] = make([]float32, sp.Numel())
	}
	feeds, err := s.feeds(x, labels)
	if err != nil {
		return err
	}
	sgd := o.Optim.sgd()
	if sgd.Clip != nil {
		for _, sp := range s.Specs {
			if o.Optim.excluded(sp.Name) {
				sgd.Exclude = append(sgd.Exclude, sp.Name)
			}
		}
	}
	runs := max(o.Steps, 1)
	for i := 0; i < runs; i++ {
		for _, sp := range s.Specs {
			if err := c.Set(s.Params[sp.Name], cur[sp.Name]); err != nil {
				return err
			}
		}
		if err := c.Run(ctx, o.Seed+uint64(i), feeds); err != nil {
			return fmt.Errorf("nfnet: parity (cpu) step %d: %w", i+1, err)
		}
		loss := c.Value(s.Loss)[0]
		if i == 0 {
			res.Loss = loss
			if o.Grad {
				res.Grads = map[string][]float32{}
				for _, sp := range s.Specs {
					res.Grads[sp.Name] = slices.Clone(c.Value(s.Grads[sp.Name]))
				}
			}
		}
		if o.Steps == 0 {
			break
		}
		res.Losses = append(res.Losses, loss)
		ps := make([]agc.Param, len(s.Specs))
		for j, sp := range s.Specs {
			ps[j] = agc.Param{Name: sp.Name, Shape: sp.Shape, Value: cur[sp.Name], Grad: slices.Clone(c.Value(s.Grads[sp.Name])),
				Momentum: mom[sp.Name], WeightDecay: sp.WeightDecay}
		}
		if _, err := sgd.Step(ps); err != nil {
			return fmt.Errorf("nfnet: parity (cpu) step %d: %w", i+1, err)
		}
	}
	if o.Steps > 0 {
		res.Params = cur
	}
	return nil
}
