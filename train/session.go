package train

import (
	"context"
	"errors"
	"fmt"

	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
)

// Session is a model on a device: the one owner of its compiled graphs.
// It holds the training step (nfnet.BuildTrain: forward, loss, backward,
// the fused AGC+SGD update and the weight EMA, recorded once and replayed
// by Submit/Wait) and the eval-mode forward pass (nfnet.BuildEval, for
// Evaluate and Forward), either or both. Parameters, momentum and EMA live
// on the device; SetState and ReadState move them. Every command (train,
// eval, predict, forward) and benchmark runs a model through a Session.
// A Session is not safe for concurrent use.
type Session struct {
	// Layout is the model.
	Layout *nfnet.Layout
	// Specs are its parameters in timm's order.
	Specs []nfnet.ParamSpec

	o       SessionOptions
	tg      *nfnet.TrainGraph
	train   executor
	eg      *nfnet.EvalGraph
	eval    executor
	pending bool
	// evalSynced says the eval pass holds the weights Evaluate and Forward
	// last asked for (set directly, or copied from the training step).
	evalSynced bool
	evalFrom   Weights

	labelF, hyperV, headV []float32
	lossBuf, logit        []float32
	// microLoss holds each micro-batch's loss of an accumulated step.
	microLoss []float32
	feeds     map[*graph.Tensor][]float32
	// reducer sums the gradients over the ranks of a data-parallel run.
	reducer *gradReducer
}

// SessionOptions configure NewSession.
type SessionOptions struct {
	// Kernels is the device. Nil runs the float32 CPU references instead
	// (graph.CPU and agc.SGD): slow, but independent of every kernel, for
	// parity checks.
	Kernels *kernels.Kernels
	// Train, when its Batch is set, builds and records the training step.
	Train nfnet.TrainOptions
	// EvalBatch, EvalHeight and EvalWidth, when set, build and record the
	// eval-mode forward pass for batches of that shape.
	EvalBatch, EvalHeight, EvalWidth int
	// Profile records a GPU timestamp after every dispatch of the
	// training step (TrainProgram().Timings).
	Profile bool
	// Precision is how both graphs store activations (graph.FP16 or
	// graph.BF16: mixed precision, README "Mixed precision"); the CPU
	// references ignore it.
	Precision graph.Precision
	// Collective, for a step recorded with Train.Replicas ranks, sums the
	// gradients over them before the update phase, in buckets of
	// Train.BucketFloats values (0: the package's BucketFloats).
	Collective Collective
	// Tune, when set, compiles with kernels tuned for the shapes of the
	// session's graphs on this device (kernels.Kernels.Tuned: cached per
	// device; CPU devices only when forced).
	Tune *kernels.TuneSetup
	// LossScale is the initial scale of a step with loss scaling
	// (Train.LossScaleGrowth > 0), a power of two; 0: DefaultLossScale.
	LossScale float64
}

// Weights chooses which weights Evaluate and Forward use.
type Weights int

const (
	// Current are the training step's parameters, or those given to
	// SetParams in a session without a training step.
	Current Weights = iota
	// EMA are the training step's weight averages.
	EMA
)

// NewSession builds and records the graphs o asks for on l.
func NewSession(ctx context.Context, l *nfnet.Layout, o SessionOptions) (_ *Session, err error) {
	if l == nil {
		return nil, errors.New("train: session: no model layout")
	}
	if o.Train.Batch == 0 && o.EvalBatch == 0 {
		return nil, errors.New("train: session: neither a training step nor an eval pass asked for")
	}
	s := &Session{Layout: l, Specs: l.Params(), o: o, feeds: map[*graph.Tensor][]float32{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if o.Train.Batch != 0 {
		if s.tg, err = nfnet.BuildTrain(l, o.Train); err != nil {
			return nil, fmt.Errorf("train: session: %w", err)
		}
		if o.Kernels, err = s.tuned(ctx, o); err != nil {
			return nil, err
		}
		s.o.Kernels = o.Kernels
		if s.train, err = compile(ctx, o.Kernels, s.tg.Graph, o.Profile, o.Precision); err != nil {
			return nil, fmt.Errorf("train: session: training step of %s: %w", l.Config.Name, err)
		}
		s.labelF = make([]float32, o.Train.Batch)
		if err := s.startReducer(); err != nil {
			return nil, err
		}
	}
	if o.EvalBatch != 0 {
		if s.eg, err = nfnet.BuildEval(l, o.EvalBatch, o.EvalHeight, o.EvalWidth); err != nil {
			return nil, fmt.Errorf("train: session: %w", err)
		}
		if s.eval, err = compile(ctx, o.Kernels, s.eg.Graph, false, o.Precision); err != nil {
			return nil, fmt.Errorf("train: session: eval pass of %s: %w", l.Config.Name, err)
		}
	}
	return s, nil
}

// TrainProgram is the recorded training step (Timings when profiled); nil
// on the CPU or without a training step.
func (s *Session) TrainProgram() *engine.Program {
	if g, ok := s.train.(gpuExec); ok {
		return g.Program()
	}
	return nil
}

// TrainGraph is the training step's graph (nil without one).
func (s *Session) TrainGraph() *nfnet.TrainGraph { return s.tg }

// State is a model's trainable state by parameter name.
type State struct {
	Params, EMA, Momentum map[string][]float32
	// LossScale is dynamic loss scaling's state, for a step with loss
	// scaling (nil in SetState: the initial scale, counters at 0).
	LossScale *LossScaleState
}

// SetParams sets the weights of every graph the session holds (and resets
// nothing else: momentum and EMA stay as they are).
func (s *Session) SetParams(vals map[string][]float32) error {
	if err := s.idle("set parameters"); err != nil {
		return err
	}
	if err := nfnet.CheckWeights(s.Specs, vals); err != nil {
		return fmt.Errorf("train: session: %w", err)
	}
	if s.tg != nil {
		if err := s.write(s.train, s.tg.Params, vals, "parameter"); err != nil {
			return err
		}
		s.evalSynced = false
	}
	if s.eg != nil && s.tg == nil {
		if err := s.write(s.eval, s.eg.Params, vals, "parameter"); err != nil {
			return err
		}
		s.evalSynced, s.evalFrom = true, Current
	}
	return nil
}

// SetState sets the training step's parameters, EMA and momentum; a nil
// EMA map starts the EMA at the parameters, a nil momentum map at zero.
func (s *Session) SetState(st State) error {
	if err := s.needTrain("set state", true); err != nil {
		return err
	}
	if err := s.SetParams(st.Params); err != nil {
		return err
	}
	ema, mom := st.EMA, st.Momentum
	if ema == nil {
		ema = st.Params
	}
	if mom == nil {
		mom = map[string][]float32{}
		for _, sp := range s.Specs {
			mom[sp.Name] = make([]float32, sp.Numel())
		}
	}
	for what, vals := range map[string]map[string][]float32{"ema": ema, "momentum": mom} {
		if err := nfnet.CheckWeights(s.Specs, vals); err != nil {
			return fmt.Errorf("train: session: %s: %w", what, err)
		}
	}
	if err := s.write(s.train, s.tg.EMA, ema, "ema"); err != nil {
		return err
	}
	if err := s.write(s.train, s.tg.Momentum, mom, "momentum"); err != nil {
		return err
	}
	return s.setLossScale(st.LossScale)
}

// write sets the tensors ts holds (a frozen parameter has no momentum or
// average tensor).
func (s *Session) write(x executor, ts map[string]*graph.Tensor, vals map[string][]float32, what string) error {
	for _, sp := range s.Specs {
		t := ts[sp.Name]
		if t == nil {
			continue
		}
		if err := x.Write(t, vals[sp.Name]); err != nil {
			return fmt.Errorf("train: session: set %s %s: %w", what, sp.Name, err)
		}
	}
	return nil
}

// ReadState reads the training step's parameters, EMA and momentum.
func (s *Session) ReadState() (State, error) {
	if err := s.needTrain("read state", true); err != nil {
		return State{}, err
	}
	var st State
	var err error
	if st.Params, err = s.read(s.tg.Params, "parameter"); err != nil {
		return State{}, err
	}
	if st.EMA, err = s.read(s.tg.EMA, "ema"); err != nil {
		return State{}, err
	}
	if st.Momentum, err = s.read(s.tg.Momentum, "momentum"); err != nil {
		return State{}, err
	}
	s.fillFrozen(st.Params, st.EMA, st.Momentum)
	if st.LossScale, err = s.readLossScale(); err != nil {
		return State{}, err
	}
	return st, nil
}

// fillFrozen gives each frozen parameter its average (itself) and
// momentum (zero), so a state always holds every parameter.
func (s *Session) fillFrozen(params, ema, mom map[string][]float32) {
	for _, sp := range s.Specs {
		if s.tg.Trained(sp.Name) {
			continue
		}
		if ema != nil {
			ema[sp.Name] = params[sp.Name]
		}
		if mom != nil {
			mom[sp.Name] = make([]float32, sp.Numel())
		}
	}
}

// Params reads the training step's parameters.
func (s *Session) Params() (map[string][]float32, error) {
	if err := s.needTrain("read parameters", false); err != nil {
		return nil, err
	}
	return s.read(s.tg.Params, "parameter")
}

// Grads reads the gradients of the last step (at the parameters before
// its update: the optimizer leaves them be; of the last micro-batch with
// accumulation). Frozen parameters have none.
func (s *Session) Grads() (map[string][]float32, error) {
	if err := s.needTrain("read gradients", false); err != nil {
		return nil, err
	}
	return s.read(s.tg.Grads, "gradient")
}

// ReadEMA reads the training step's weight averages.
func (s *Session) ReadEMA() (map[string][]float32, error) {
	if err := s.needTrain("read ema", true); err != nil {
		return nil, err
	}
	ema, err := s.read(s.tg.EMA, "ema")
	if err != nil || len(ema) == len(s.Specs) {
		return ema, err
	}
	params, err := s.read(s.tg.Params, "parameter")
	if err != nil {
		return nil, err
	}
	s.fillFrozen(params, ema, nil)
	return ema, nil
}

func (s *Session) read(ts map[string]*graph.Tensor, what string) (map[string][]float32, error) {
	if err := s.idle("read"); err != nil {
		return nil, err
	}
	out := make(map[string][]float32, len(s.Specs))
	for _, sp := range s.Specs {
		t := ts[sp.Name]
		if t == nil {
			continue // frozen: no gradient, momentum or average
		}
		v := make([]float32, sp.Numel())
		if err := s.train.ReadInto(t, v); err != nil {
			return nil, fmt.Errorf("train: session: read %s %s: %w", what, sp.Name, err)
		}
		out[sp.Name] = v
	}
	return out, nil
}

// needTrain fails without a training step (or, with update, without its
// optimizer).
func (s *Session) needTrain(what string, update bool) error {
	if s.tg == nil {
		return fmt.Errorf("train: session: %s: no training step", what)
	}
	if update && s.tg.Hyper == nil {
		return fmt.Errorf("train: session: %s: the training step computes gradients only", what)
	}
	return nil
}

func (s *Session) idle(what string) error {
	if s.pending {
		return fmt.Errorf("train: session: %s while a step is in flight (call Wait)", what)
	}
	return nil
}

func grow(v []float32, n int) []float32 {
	if cap(v) < n {
		return make([]float32, n)
	}
	return v[:n]
}

// Close frees the device memory. It waits for a step in flight.
func (s *Session) Close() {
	if s.train != nil {
		if s.pending {
			s.train.Wait(context.Background())
			s.pending = false
		}
		s.train.Close()
		s.train = nil
	}
	if s.reducer != nil {
		s.reducer.close()
	}
	if s.eval != nil {
		s.eval.Close()
		s.eval = nil
	}
}

// EvalResult is a model's score on a dataset.
type EvalResult struct {
	// N is the number of images scored.
	N int
	// Acc is the top-1 accuracy (0-1) and Loss the mean cross-entropy
	// (without label smoothing).
	Acc, Loss float64
}

// Forward returns the eval-mode logits [EvalBatch, classes] of one batch
// (x: EvalBatch images, NCHW) with the chosen weights; the slice is
// reused by the next call.
func (s *Session) Forward(ctx context.Context, x []float32, w Weights) ([]float32, error) {
	if s.eg == nil {
		return nil, errors.New("train: session: forward: no eval pass (SessionOptions.EvalBatch)")
	}
	if err := s.syncEval(w); err != nil {
		return nil, err
	}
	if len(x) != s.eg.Input.Size() {
		return nil, fmt.Errorf("train: session: forward: input has %d values, want %v = %d", len(x), s.eg.Input.Shape(), s.eg.Input.Size())
	}
	clear(s.feeds)
	s.feeds[s.eg.Input] = x
	err := s.eval.Submit(0, s.feeds)
	clear(s.feeds)
	if err == nil {
		err = s.eval.Wait(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("train: session: forward: %w", err)
	}
	s.logit = grow(s.logit, s.eg.Logits.Size())
	if err := s.eval.ReadInto(s.eg.Logits, s.logit); err != nil {
		return nil, fmt.Errorf("train: session: forward: read logits: %w", err)
	}
	return s.logit, nil
}

// syncEval gives the eval pass the chosen weights: the training step's
// parameters or EMA (copied through the host once per change), or what
// SetParams gave a session without a training step.
func (s *Session) syncEval(w Weights) error {
	if err := s.idle("evaluate"); err != nil {
		return err
	}
	if s.tg == nil {
		if w != Current {
			return errors.New("train: session: evaluate: EMA weights need a training step")
		}
		if !s.evalSynced {
			return errors.New("train: session: evaluate: no weights set (SetParams)")
		}
		return nil
	}
	if s.evalSynced && s.evalFrom == w {
		return nil
	}
	var vals map[string][]float32
	var err error
	if w == EMA {
		vals, err = s.ReadEMA()
	} else {
		vals, err = s.Params()
	}
	if err != nil {
		return err
	}
	if err := s.write(s.eval, s.eg.Params, vals, "eval parameter"); err != nil {
		return err
	}
	s.evalSynced, s.evalFrom = true, w
	return nil
}

// Evaluate scores the chosen weights on every image of ds (normalised
// like the training data), in order; the last batch is padded and its
// padding ignored.
func (s *Session) Evaluate(ctx context.Context, ds *data.Dataset, w Weights) (EvalResult, error) {
	if s.eg == nil {
		return EvalResult{}, errors.New("train: evaluate: no eval pass (SessionOptions.EvalBatch)")
	}
	cfg := s.Layout.Config
	if ds.C != cfg.InChans || ds.H != s.o.EvalHeight || ds.W != s.o.EvalWidth {
		return EvalResult{}, fmt.Errorf("train: evaluate: images are %dx%dx%d, the model takes %dx%dx%d", ds.C, ds.H, ds.W, cfg.InChans, s.o.EvalHeight, s.o.EvalWidth)
	}
	if ds.NumClasses() > cfg.NumClasses {
		return EvalResult{}, fmt.Errorf("train: evaluate: the dataset has %d classes, the model %d (num_classes)", ds.NumClasses(), cfg.NumClasses)
	}
	p, err := data.NewPipeline(ds, data.Config{BatchSize: s.o.EvalBatch, Remainder: data.PadLast})
	if err != nil {
		return EvalResult{}, fmt.Errorf("train: evaluate: %w", err)
	}
	return s.evalPipeline(ctx, p, w)
}

// evalPipeline scores the chosen weights on one pass over p (PadLast).
func (s *Session) evalPipeline(ctx context.Context, p *data.Pipeline, w Weights) (EvalResult, error) {
	cfg := s.Layout.Config
	var err error
	var b *data.Batch
	var r EvalResult
	var lossSum float64
	correct := 0
	for i := range p.StepsPerEpoch() {
		if b, err = p.Batch(data.Position{Step: i}, b); err != nil {
			return EvalResult{}, fmt.Errorf("train: evaluate: %w", err)
		}
		logits, err := s.Forward(ctx, b.Images, w)
		if err != nil {
			return EvalResult{}, err
		}
		k := cfg.NumClasses
		for row := range b.Valid {
			ce, top := crossEntropy(logits[row*k:(row+1)*k], int(b.Labels[row]))
			lossSum += ce
			if top == int(b.Labels[row]) {
				correct++
			}
		}
		r.N += b.Valid
	}
	if r.N > 0 {
		r.Acc = float64(correct) / float64(r.N)
		r.Loss = lossSum / float64(r.N)
	}
	return r, nil
}
