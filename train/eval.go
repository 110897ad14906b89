package train

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
)

// Evaluator is a compiled eval-mode forward pass of fixed batch size,
// replayed over a dataset. The loop evaluates the EMA weights with it each
// epoch; eval and predict use it on a checkpoint's weights.
type Evaluator struct {
	Layout *nfnet.Layout
	// Batch, Height and Width are the input shape.
	Batch, Height, Width int

	g             *graph.Graph
	input, logits *graph.Tensor
	params        map[string]*graph.Tensor
	exec          *graph.GPU
	out           []float32
}

// EvalResult is a model's score on a dataset.
type EvalResult struct {
	// N is the number of images scored.
	N int
	// Acc is the top-1 accuracy (0-1) and Loss the mean cross-entropy
	// (without label smoothing).
	Acc, Loss float64
}

// NewEvaluator builds and records the forward pass of l for batches of
// batch images of height x width.
func NewEvaluator(ctx context.Context, k *kernels.Kernels, l *nfnet.Layout, batch, height, width int) (_ *Evaluator, err error) {
	if k == nil {
		return nil, errors.New("train: evaluator: no kernels (device)")
	}
	if batch < 1 || height < 1 || width < 1 {
		return nil, fmt.Errorf("train: evaluator: batch %d of %dx%d images: need positive sizes", batch, height, width)
	}
	e := &Evaluator{Layout: l, Batch: batch, Height: height, Width: width, g: graph.New()}
	if e.input, err = e.g.Input("input", graph.Shape{batch, l.Config.InChans, height, width}); err != nil {
		return nil, err
	}
	if e.logits, e.params, err = nfnet.Build(e.g, l, e.input, nfnet.BuildOptions{}); err != nil {
		return nil, fmt.Errorf("train: evaluator: %w", err)
	}
	e.g.Keep(e.logits)
	if e.exec, err = graph.Compile(ctx, k, e.g, graph.CompileOptions{}); err != nil {
		return nil, fmt.Errorf("train: evaluator %s: %w", l.Config.Name, err)
	}
	return e, nil
}

// SetParams uploads the weights, by parameter name.
func (e *Evaluator) SetParams(vals map[string][]float32) error {
	for _, sp := range e.Layout.Params() {
		v, ok := vals[sp.Name]
		if !ok || len(v) != sp.Numel() {
			return fmt.Errorf("train: evaluator: parameter %s: %d values, want %d (shape %v)", sp.Name, len(v), sp.Numel(), sp.Shape)
		}
		if err := e.exec.Write(e.params[sp.Name], v); err != nil {
			return fmt.Errorf("train: evaluator: set %s: %w", sp.Name, err)
		}
	}
	return nil
}

// Logits runs one batch (x: Batch images, NCHW) and returns the logits
// [Batch, classes]; the slice is reused by the next call.
func (e *Evaluator) Logits(ctx context.Context, x []float32) ([]float32, error) {
	if err := e.exec.Step(ctx, 0, map[*graph.Tensor][]float32{e.input: x}); err != nil {
		return nil, fmt.Errorf("train: evaluator: %w", err)
	}
	sp, err := e.exec.Span(e.logits)
	if err != nil {
		return nil, err
	}
	n := e.logits.Size()
	if cap(e.out) < n {
		e.out = make([]float32, n)
	}
	e.out = e.out[:n]
	if err := sp.Buf.Read(sp.Off, f32Bytes(e.out)); err != nil {
		return nil, fmt.Errorf("train: evaluator: read logits: %w", err)
	}
	return e.out, nil
}

// Evaluate scores the model on every image of ds (normalised like the
// training data), in order; the last batch is padded and its padding
// ignored.
func (e *Evaluator) Evaluate(ctx context.Context, ds *data.Dataset) (EvalResult, error) {
	if ds.C != e.Layout.Config.InChans || ds.H != e.Height || ds.W != e.Width {
		return EvalResult{}, fmt.Errorf("train: evaluate: images are %dx%dx%d, the model takes %dx%dx%d", ds.C, ds.H, ds.W, e.Layout.Config.InChans, e.Height, e.Width)
	}
	if ds.NumClasses() > e.Layout.Config.NumClasses {
		return EvalResult{}, fmt.Errorf("train: evaluate: the dataset has %d classes, the model %d (num_classes)", ds.NumClasses(), e.Layout.Config.NumClasses)
	}
	p, err := data.NewPipeline(ds, data.Config{BatchSize: e.Batch, Remainder: data.PadLast})
	if err != nil {
		return EvalResult{}, fmt.Errorf("train: evaluate: %w", err)
	}
	var b *data.Batch
	var r EvalResult
	var lossSum float64
	correct := 0
	for i := range p.StepsPerEpoch() {
		if b, err = p.Batch(data.Position{Step: i}, b); err != nil {
			return EvalResult{}, fmt.Errorf("train: evaluate: %w", err)
		}
		logits, err := e.Logits(ctx, b.Images)
		if err != nil {
			return EvalResult{}, err
		}
		k := e.Layout.Config.NumClasses
		for row := range b.Valid {
			l := logits[row*k : (row+1)*k]
			ce, top := crossEntropy(l, int(b.Labels[row]))
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

// crossEntropy returns -log softmax(l)[label] (in float64, stable) and
// the arg max of l.
func crossEntropy(l []float32, label int) (float64, int) {
	top := 0
	for j, v := range l {
		if v > l[top] {
			top = j
		}
	}
	m := float64(l[top])
	var s float64
	for _, v := range l {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s) - float64(l[label]), top
}

// Close frees the device memory.
func (e *Evaluator) Close() {
	if e.exec != nil {
		e.exec.Close()
		e.exec = nil
	}
}
