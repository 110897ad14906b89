package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"unsafe"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
)

// The loop's compiled step. It is nfnet.TrainStep's graph (train-mode
// forward, label-smoothed cross-entropy, backward) with a different
// optimizer tail recorded into the same program:
//
//   - the fused AGC+SGD update of every parameter in one dispatch
//     (kernels.OptimizerSteps over the graph's pooled parameter, gradient
//     and state buffers; a few for models beyond maxStorageBufferRange)
//     instead of one per tensor: a small NFNet has a hundred gain and bias
//     tensors, and lavapipe pays tens of µs per dispatch;
//   - the weight EMA (kernels.EMAUpdate) over the whole parameter buffer,
//     also one dispatch, so the EMA never crosses to the host during
//     training;
//   - optional GPU timestamps per dispatch (Profile) for the benchmarks.
//
// Submit and Wait are split so the host can prepare the next batch while
// the device runs this one.

// StepOptions configure NewStep.
type StepOptions struct {
	// Batch, Height and Width give the input batch's shape.
	Batch, Height, Width int
	// LabelSmoothing of the cross-entropy.
	LabelSmoothing float64
	// AGCExclude names parameters (or module prefixes) AGC leaves alone:
	// the classifier, as in the NFNet paper.
	AGCExclude []string
	// AGCUnits is AGC's unit rule (0 means agc.DeepMind).
	AGCUnits agc.UnitRule
	// Profile records a GPU timestamp after every dispatch
	// (Program().Timings).
	Profile bool
}

// Step is a compiled training step with momentum and a weight EMA on the
// device. It is not safe for concurrent use.
type Step struct {
	Layout *nfnet.Layout
	Specs  []nfnet.ParamSpec
	opts   StepOptions

	g              *graph.Graph
	input, labels  *graph.Tensor
	logits, loss   *graph.Tensor
	params, grads  map[string]*graph.Tensor
	momentum       map[string]*graph.Tensor
	exec           *graph.GPU
	hyper          *engine.Buffer
	tables         []*engine.Buffer // the optimizer's tensor tables
	ema            *engine.Buffer
	emaOff         map[string]int64 // byte offset of each parameter's EMA in ema
	paramBuf       *engine.Buffer
	labelF         []float32
	feeds          map[*graph.Tensor][]float32
	hyperB         [kernels.HyperBytes]byte
	pending        bool
	lossBuf, logit []float32
}

// excluded reports whether AGC leaves the parameter out.
func excluded(patterns []string, name string) bool {
	for _, e := range patterns {
		if name == e || (len(name) > len(e) && name[:len(e)] == e && (name[len(e)] == '.' || name[len(e)] == '/')) {
			return true
		}
	}
	return false
}

// NewStep builds and records the training step of l on k's device.
// Parameters, momentum and EMA start at zero: set them with SetState.
func NewStep(ctx context.Context, k *kernels.Kernels, l *nfnet.Layout, o StepOptions) (_ *Step, err error) {
	if k == nil {
		return nil, errors.New("train: step: no kernels (device)")
	}
	if o.Batch < 1 || o.Height < 1 || o.Width < 1 {
		return nil, fmt.Errorf("train: step: batch %d of %dx%d images: need positive sizes", o.Batch, o.Height, o.Width)
	}
	if o.AGCUnits == 0 {
		o.AGCUnits = agc.DeepMind
	}
	s := &Step{Layout: l, Specs: l.Params(), opts: o, g: graph.New(), momentum: map[string]*graph.Tensor{}, emaOff: map[string]int64{}}
	g := s.g
	if s.input, err = g.Input("input", graph.Shape{o.Batch, l.Config.InChans, o.Height, o.Width}); err != nil {
		return nil, err
	}
	if s.labels, err = g.Labels("labels", o.Batch); err != nil {
		return nil, err
	}
	if s.logits, s.params, err = nfnet.Build(g, l, s.input, nfnet.BuildOptions{Train: true}); err != nil {
		return nil, fmt.Errorf("train: step: %w", err)
	}
	if s.loss, err = g.SoftmaxCE(s.logits, s.labels, o.LabelSmoothing); err != nil {
		return nil, fmt.Errorf("train: step: loss: %w", err)
	}
	g.Keep(s.loss, s.logits)
	ps := make([]*graph.Tensor, len(s.Specs))
	for i, sp := range s.Specs {
		if ps[i] = s.params[sp.Name]; ps[i] == nil {
			return nil, fmt.Errorf("train: step: parameter %s is not used by the network", sp.Name)
		}
	}
	gs, err := g.Gradients(s.loss, ps)
	if err != nil {
		return nil, fmt.Errorf("train: step: gradients: %w", err)
	}
	s.grads = map[string]*graph.Tensor{}
	for i, sp := range s.Specs {
		if gs[i] == nil {
			return nil, fmt.Errorf("train: step: the loss does not depend on %s", sp.Name)
		}
		s.grads[sp.Name] = gs[i]
		if s.momentum[sp.Name], err = g.State("momentum/"+sp.Name, nfnet.GraphShape(sp)); err != nil {
			return nil, err
		}
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	dev := k.Device()
	if s.hyper, err = dev.NewBuffer("train hyper", kernels.HyperBytes); err != nil {
		return nil, fmt.Errorf("train: step: %w", err)
	}
	co := graph.CompileOptions{Profile: o.Profile, After: func(p *engine.Program, span func(*graph.Tensor) (engine.Span, error)) error {
		return s.recordTail(k, p, span)
	}}
	if s.exec, err = graph.Compile(ctx, k, g, co); err != nil {
		return nil, fmt.Errorf("train: step %s: %w", l.Config.Name, err)
	}
	s.labelF = make([]float32, o.Batch)
	s.feeds = map[*graph.Tensor][]float32{s.labels: s.labelF}
	return s, nil
}

// recordTail records the multi-tensor optimizer step and the EMA update.
func (s *Step) recordTail(k *kernels.Kernels, p *engine.Program, span func(*graph.Tensor) (engine.Span, error)) error {
	ts := make([]kernels.OptimTensor, len(s.Specs))
	lo, hi := int64(math.MaxInt64), int64(0)
	for i, sp := range s.Specs {
		t := kernels.OptimTensor{Name: sp.Name, Shape: sp.Shape, WeightDecay: sp.WeightDecay, AGC: !excluded(s.opts.AGCExclude, sp.Name)}
		var err error
		if t.Param, err = span(s.params[sp.Name]); err != nil {
			return fmt.Errorf("%s: %w", sp.Name, err)
		}
		if t.Grad, err = span(s.grads[sp.Name]); err != nil {
			return fmt.Errorf("%s gradient: %w", sp.Name, err)
		}
		if t.Momentum, err = span(s.momentum[sp.Name]); err != nil {
			return fmt.Errorf("%s momentum: %w", sp.Name, err)
		}
		if t.AGC {
			if t.Units, err = kernels.UnitsOf(sp.Shape, s.opts.AGCUnits); err != nil {
				return fmt.Errorf("%s: %w", sp.Name, err)
			}
		}
		if s.paramBuf == nil {
			s.paramBuf = t.Param.Buf
		} else if t.Param.Buf != s.paramBuf {
			// graph pools every parameter in one buffer; the single EMA
			// dispatch below depends on it.
			return fmt.Errorf("%s: parameters in buffers %q and %q; the EMA update needs them pooled", sp.Name, s.paramBuf.Name(), t.Param.Buf.Name())
		}
		lo, hi = min(lo, t.Param.Off), max(hi, t.Param.Off+t.Param.Size)
		ts[i] = t
	}
	if err := s.recordOptimizer(k, p, ts); err != nil {
		return err
	}
	var err error
	if s.ema, err = k.Device().NewBuffer("train ema", hi-lo); err != nil {
		return err
	}
	for _, t := range ts {
		s.emaOff[t.Name] = t.Param.Off - lo
	}
	// The EMA runs after the update: the EMA of step t averages the
	// parameters after step t, as agc.EMAUpdate after agc.SGD.Step.
	return k.EMAUpdate(p, s.ema.Span(), s.paramBuf.Span().Sub(lo, hi-lo), s.hyper.Span())
}

// recordOptimizer records the fused optimizer step of ts in as few
// dispatches as the device allows: one binds each role's whole extent, so
// tensors are grouped (in order) while every role's extent stays within
// maxStorageBufferRange: one group for a small model, a few for an F0.
func (s *Step) recordOptimizer(k *kernels.Kernels, p *engine.Program, ts []kernels.OptimTensor) error {
	limit := int64(k.Device().Info().MaxStorageBufferRange)
	// Leave room for the binding's alignment slack before the first tensor.
	limit -= int64(k.Device().Info().MinStorageBufferOffsetAlignment)
	var groups [][]kernels.OptimTensor
	var lo, hi [3]int64
	for _, t := range ts {
		spans := [3]engine.Span{t.Param, t.Grad, t.Momentum}
		fits := len(groups) > 0
		if fits {
			for r, sp := range spans {
				if max(hi[r], sp.Off+sp.Size)-min(lo[r], sp.Off) > limit {
					fits = false
				}
			}
		}
		if !fits {
			groups = append(groups, nil)
			for r, sp := range spans {
				lo[r], hi[r] = sp.Off, sp.Off+sp.Size
			}
		}
		for r, sp := range spans {
			lo[r], hi[r] = min(lo[r], sp.Off), max(hi[r], sp.Off+sp.Size)
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], t)
	}
	for _, g := range groups {
		table, err := k.Device().NewBuffer("train optimizer table", kernels.OptimTableBytes(len(g)))
		if err != nil {
			return err
		}
		s.tables = append(s.tables, table)
		if err := k.OptimizerSteps(p, g, s.hyper.Span(), table.Span()); err != nil {
			return err
		}
	}
	return nil
}

// Program is the recorded step (Timings when profiled).
func (s *Step) Program() *engine.Program { return s.exec.Program() }

// Submit uploads one batch (x in NCHW order, labels class indices) and the
// step's scalars and starts the step without waiting for it.
func (s *Step) Submit(x []float32, labels []int32, h kernels.Hyper, seed uint64) error {
	if s.exec == nil {
		return errors.New("train: step: submit after Close")
	}
	if s.pending {
		return errors.New("train: step: submit while a step is in flight (call Wait)")
	}
	if len(x) != s.input.Size() {
		return fmt.Errorf("train: step: input has %d values, want %v = %d", len(x), s.input.Shape(), s.input.Size())
	}
	if len(labels) != len(s.labelF) {
		return fmt.Errorf("train: step: %d labels for a batch of %d", len(labels), len(s.labelF))
	}
	classes := int32(s.Layout.Config.NumClasses)
	for i, c := range labels {
		if c < 0 || c >= classes {
			return fmt.Errorf("train: step: labels[%d] = %d outside [0, %d) (num_classes)", i, c, classes)
		}
		s.labelF[i] = float32(c)
	}
	// The previous run finished in Wait, so the hyper buffer is free.
	if err := kernels.WriteHyper(s.hyper.Span(), h); err != nil {
		return fmt.Errorf("train: step: %w", err)
	}
	s.feeds[s.input] = x
	err := s.exec.Submit(seed, s.feeds)
	delete(s.feeds, s.input) // keep no reference to the caller's batch
	if err != nil {
		return fmt.Errorf("train: step: %w", err)
	}
	s.pending = true
	return nil
}

// Wait waits for the submitted step and returns its loss (at the
// parameters before the update).
func (s *Step) Wait(ctx context.Context) (float32, error) {
	if !s.pending {
		return 0, errors.New("train: step: wait without a submitted step")
	}
	if err := s.exec.Wait(ctx); err != nil {
		return 0, fmt.Errorf("train: step: %w", err)
	}
	s.pending = false
	if err := s.readInto(s.loss, &s.lossBuf); err != nil {
		return 0, err
	}
	return s.lossBuf[0], nil
}

// Logits returns the last step's train-mode logits [Batch, classes]; the
// slice is reused by the next call.
func (s *Step) Logits() ([]float32, error) {
	if err := s.readInto(s.logits, &s.logit); err != nil {
		return nil, err
	}
	return s.logit, nil
}

// readInto reads a kept tensor into a reused slice, so the per-step reads
// allocate nothing (graph.GPU.Read allocates).
func (s *Step) readInto(t *graph.Tensor, dst *[]float32) error {
	sp, err := s.exec.Span(t)
	if err != nil {
		return fmt.Errorf("train: step: %w", err)
	}
	n := t.Size()
	if cap(*dst) < n {
		*dst = make([]float32, n)
	}
	*dst = (*dst)[:n]
	if err := sp.Buf.Read(sp.Off, f32Bytes(*dst)); err != nil {
		return fmt.Errorf("train: step: read %v: %w", t, err)
	}
	return nil
}

// State is the step's trainable state by parameter name.
type State struct {
	Params, EMA, Momentum map[string][]float32
}

// SetState uploads parameters, EMA and momentum; a nil map sets zeros
// for momentum, and the parameters for the EMA.
func (s *Step) SetState(st State) error {
	if s.pending {
		return errors.New("train: step: set state while a step is in flight")
	}
	for _, sp := range s.Specs {
		p, ok := st.Params[sp.Name]
		if !ok || len(p) != sp.Numel() {
			return fmt.Errorf("train: step: parameter %s: %d values, want %d (shape %v)", sp.Name, len(p), sp.Numel(), sp.Shape)
		}
		if err := s.exec.Write(s.params[sp.Name], p); err != nil {
			return fmt.Errorf("train: step: set %s: %w", sp.Name, err)
		}
		e := p
		if st.EMA != nil {
			if e = st.EMA[sp.Name]; len(e) != sp.Numel() {
				return fmt.Errorf("train: step: ema %s: %d values, want %d", sp.Name, len(e), sp.Numel())
			}
		}
		if err := s.ema.Write(s.emaOff[sp.Name], f32Bytes(e)); err != nil {
			return fmt.Errorf("train: step: set ema %s: %w", sp.Name, err)
		}
		m := make([]float32, sp.Numel())
		if st.Momentum != nil {
			if m = st.Momentum[sp.Name]; len(m) != sp.Numel() {
				return fmt.Errorf("train: step: momentum %s: %d values, want %d", sp.Name, len(m), sp.Numel())
			}
		}
		if err := s.exec.Write(s.momentum[sp.Name], m); err != nil {
			return fmt.Errorf("train: step: set momentum %s: %w", sp.Name, err)
		}
	}
	return nil
}

// ReadState reads parameters, EMA and momentum back (between steps).
func (s *Step) ReadState() (State, error) {
	if s.pending {
		return State{}, errors.New("train: step: read state while a step is in flight")
	}
	st := State{Params: map[string][]float32{}, EMA: map[string][]float32{}, Momentum: map[string][]float32{}}
	for _, sp := range s.Specs {
		var err error
		if st.Params[sp.Name], err = s.exec.Read(s.params[sp.Name]); err != nil {
			return State{}, fmt.Errorf("train: step: read %s: %w", sp.Name, err)
		}
		if st.Momentum[sp.Name], err = s.exec.Read(s.momentum[sp.Name]); err != nil {
			return State{}, fmt.Errorf("train: step: read momentum %s: %w", sp.Name, err)
		}
		st.EMA[sp.Name], err = s.readEMA(sp)
		if err != nil {
			return State{}, err
		}
	}
	return st, nil
}

// ReadEMA reads only the EMA weights (for evaluation).
func (s *Step) ReadEMA() (map[string][]float32, error) {
	if s.pending {
		return nil, errors.New("train: step: read ema while a step is in flight")
	}
	out := map[string][]float32{}
	for _, sp := range s.Specs {
		v, err := s.readEMA(sp)
		if err != nil {
			return nil, err
		}
		out[sp.Name] = v
	}
	return out, nil
}

func (s *Step) readEMA(sp nfnet.ParamSpec) ([]float32, error) {
	v := make([]float32, sp.Numel())
	if err := s.ema.Read(s.emaOff[sp.Name], f32Bytes(v)); err != nil {
		return nil, fmt.Errorf("train: step: read ema %s: %w", sp.Name, err)
	}
	return v, nil
}

// Close frees the device memory. It waits for a step in flight.
func (s *Step) Close() {
	if s.exec != nil {
		if s.pending {
			s.exec.Wait(context.Background())
			s.pending = false
		}
		s.exec.Close()
		s.exec = nil
	}
	for _, t := range s.tables {
		t.Free()
	}
	s.tables = nil
	for _, b := range []**engine.Buffer{&s.hyper, &s.ema} {
		if *b != nil {
			(*b).Free()
			*b = nil
		}
	}
}

// f32Bytes views v as bytes without copying. Device buffers hold
// little-endian float32, and every host nfvk supports is little-endian
// (graph.GPU makes the same assumption).
func f32Bytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}
