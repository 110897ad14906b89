package kernels

import (
	"fmt"
	"math"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/kernels/ref"
)

// Softmax cross-entropy with label smoothing, forward (mean loss), backward
// (d logits) and top-1 counting, in one pass over the logits (shader loss:
// one workgroup per sample) plus a one-workgroup pass that sums the
// per-sample results in a fixed order. References:
// ref.SoftmaxCrossEntropy(Soft)(Backward), ref.Top1Correct.

// CE holds the tensors of SoftmaxCrossEntropy. A span without a buffer is
// absent; at least one of Loss, Correct and DLogits must be present.
type CE struct {
	Logits engine.Span // [N, K] float32
	// Labels are int32 [N] class indices: the targets are the smoothed
	// one-hot vectors eps/K + (1-eps)*[k == label] unless Targets is
	// given, and top-1 compares with them. A label outside [0, K) has no
	// target mass beyond eps/K and never counts as correct.
	Labels    engine.Span
	Smoothing float32     // eps
	Targets   engine.Span // [N, K] soft targets (MixUp, CutMix), used instead of smoothed labels
	Loss      engine.Span // [1]: the mean over the batch of the loss
	Correct   engine.Span // [1]: the top-1 correct count as float32 (exact up to 2^24); needs Labels
	DLogits   engine.Span // [N, K]: DLoss/N * (softmax*sum(t) - t)
	DLoss     float32     // the gradient flowing into the mean loss (1 for plain training)
	Scratch   engine.Span // CEScratch(s) float32 when Loss or Correct is wanted
}

// lossLanePerRow selects shader loss_lane (one invocation per sample) over
// loss's workgroup per sample: on CPU devices, as for WS (wsLanePerRow).
func (k *Kernels) lossLanePerRow() bool { return k.tune.Class == "cpu" }

// CEScratch is the scratch element count SoftmaxCrossEntropy needs.
func CEScratch(s ref.LossShape) int { return 2 * s.N }

// SoftmaxCrossEntropy records the loss, top-1 count and d logits that a
// holds spans for (see CE).
func (k *Kernels) SoftmaxCrossEntropy(p *engine.Program, s ref.LossShape, a CE) error {
	if err := s.Validate(); err != nil {
		return err
	}
	name := fmt.Sprintf("softmax cross-entropy N=%d K=%d", s.N, s.K)
	has := func(sp engine.Span) bool { return sp.Buf != nil }
	fwd := has(a.Loss) || has(a.Correct)
	switch {
	case !fwd && !has(a.DLogits):
		return fmt.Errorf("%s: no output (Loss, Correct, DLogits)", name)
	case !has(a.Labels) && !has(a.Targets):
		return fmt.Errorf("%s: needs Labels or Targets", name)
	case has(a.Correct) && !has(a.Labels):
		return fmt.Errorf("%s: Correct needs Labels", name)
	case !(a.Smoothing >= 0 && a.Smoothing <= 1):
		return fmt.Errorf("%s: label smoothing %v outside [0, 1]", name, a.Smoothing)
	case math.IsNaN(float64(a.DLoss)) || math.IsInf(float64(a.DLoss), 0):
		return fmt.Errorf("%s: DLoss %v is not finite", name, a.DLoss)
	}
	need := []spanNeed{{"logits", a.Logits, s.N * s.K}}
	if has(a.Labels) {
		need = append(need, spanNeed{"labels", a.Labels, s.N})
	}
	if has(a.Targets) {
		need = append(need, spanNeed{"targets", a.Targets, s.N * s.K})
	}
	if has(a.DLogits) {
		need = append(need, spanNeed{"dlogits", a.DLogits, s.N * s.K})
	}
	if has(a.Loss) {
		need = append(need, spanNeed{"loss", a.Loss, 1})
	}
	if has(a.Correct) {
		need = append(need, spanNeed{"correct", a.Correct, 1})
	}
	if fwd {
		need = append(need, spanNeed{"scratch", a.Scratch, CEScratch(s)})
	}
	for _, n := range need {
		if err := needElems(name, n.name, n.s, n.n); err != nil {
			return err
		}
	}
	if lim := int64(k.dev.Info().MaxStorageBufferRange); int64(4*s.N*s.K) > lim {
		return fmt.Errorf("%s: %d bytes of logits exceed maxStorageBufferRange %d", name, 4*s.N*s.K, lim)
	}
	soft := has(a.Targets)
	spec := []uint32{k.rowLocal(), 0, flagU32(has(a.Labels)), flagU32(soft), flagU32(fwd), flagU32(has(a.DLogits))}
	shader, groups := "loss", min(s.N, 65535)
	if k.lossLanePerRow() {
		shader, groups = "loss_lane", min(ceilDiv(s.N, int(k.rowLocal())), 65535)
	}
	pipe, err := k.pipeline(shader, spec...)
	if err != nil {
		return err
	}
	nk := int64(4 * s.N * s.K)
	logits := a.Logits.Sub(0, nk).Read()
	// Bindings the variant does not touch get a span the dispatch already
	// binds with the same access.
	labels, targets := logits, logits
	if has(a.Labels) {
		labels = a.Labels.Sub(0, int64(4*s.N)).Read()
	}
	if soft {
		targets = a.Targets.Sub(0, nk).Read()
	}
	var dl, scratch engine.Arg
	if has(a.DLogits) {
		dl = a.DLogits.Sub(0, nk).Write()
	}
	if fwd {
		scratch = a.Scratch.Sub(0, int64(4*CEScratch(s))).Write()
	}
	if !has(a.DLogits) {
		dl = scratch
	}
	if !fwd {
		scratch = dl
	}
	grad := float32(float64(a.DLoss) / float64(s.N))
	push := pushBuf(nil).i(s.N).i(s.K).f(a.Smoothing).f(grad)
	args := []engine.Arg{logits, labels, targets, dl, scratch, dl, dl}
	if k.lossLanePerRow() {
		args = args[:5] // loss_lane has no stage-1 bindings
	}
	if err := k.dispatch(p, name, pipe, [3]uint32{uint32(groups), 1, 1}, push, args...); err != nil {
		return err
	}
	if !fwd {
		return nil
	}
	fin, err := k.pipeline("loss", k.rowLocal(), 1, 0, 0, 0, 0, flagU32(has(a.Loss))|flagU32(has(a.Correct))<<1)
	if err != nil {
		return err
	}
	sc := a.Scratch.Sub(0, int64(4*CEScratch(s))).Read()
	loss, correct := sc, sc
	if has(a.Loss) {
		loss = a.Loss.Sub(0, 4).Write()
	}
	if has(a.Correct) {
		correct = a.Correct.Sub(0, 4).Write()
	}
	if !has(a.Loss) {
		loss = correct
	}
	if !has(a.Correct) {
		correct = loss
	}
	// Bindings 0-3 are unread by the summing stage.
	return k.dispatch(p, name+" sum", fin, [3]uint32{1, 1, 1}, push, sc, sc, sc, loss, sc, loss, correct)
}
