package train

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
)

// Classify returns the class probabilities of each image of x (NCHW,
// normalised like the training data, e.g. by data.ImageTensor): the
// softmax of the eval-mode logits with the chosen weights, one slice of
// Layout.Config.NumClasses values per image, owned by the caller. x may
// hold fewer images than SessionOptions.EvalBatch; the batch is padded
// and the padding's results dropped, so one session serves any number of
// images up to its batch.
func (s *Session) Classify(ctx context.Context, x []float32, w Weights) ([][]float32, error) {
	if s.eg == nil {
		return nil, fmt.Errorf("train: session: classify: no eval pass (SessionOptions.EvalBatch)")
	}
	batch := s.o.EvalBatch
	size := s.eg.Input.Size() / batch
	n := len(x) / size
	if len(x)%size != 0 || n < 1 || n > batch {
		return nil, fmt.Errorf("train: session: classify: input has %d values, want 1 to %d images of %d", len(x), batch, size)
	}
	if n < batch {
		padded := make([]float32, batch*size)
		copy(padded, x)
		x = padded
	}
	logits, err := s.Forward(ctx, x, w)
	if err != nil {
		return nil, fmt.Errorf("train: session: classify: %w", err)
	}
	k := len(logits) / batch
	probs := make([][]float32, n)
	flat := make([]float32, n*k) // one allocation for all rows
	for i := range probs {
		probs[i] = flat[i*k : (i+1)*k : (i+1)*k]
		softmax(probs[i], logits[i*k:(i+1)*k])
	}
	return probs, nil
}

// softmax writes the probabilities of logits l into p, in float64 so a
// wide range of logits neither overflows nor loses the small classes.
func softmax(p, l []float32) {
	m := math.Inf(-1)
	for _, v := range l {
		m = math.Max(m, float64(v))
	}
	var sum float64
	e := make([]float64, len(l))
	for i, v := range l {
		e[i] = math.Exp(float64(v) - m)
		sum += e[i]
	}
	for i := range p {
		p[i] = float32(e[i] / sum)
	}
}

// TopK returns the indices of the k largest values of p (all of them when
// k >= len(p)), largest first; equal values keep their index order.
func TopK(p []float32, k int) []int {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(p[b], p[a]) })
	return idx[:max(0, min(k, len(p)))]
}
