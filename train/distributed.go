package train

import (
	"context"
	"fmt"

	"github.com/nfvk/nfvk/data"
)

// dist is a data-parallel run's side of the loop: this rank's share of
// each batch and of the test set, and the agreement between ranks.
type dist struct {
	c          Collective
	rank, size int
	// stop is the ranks' agreement, from the last step, to stop (one of
	// them was cancelled): every rank stops after the same step.
	stop bool
	// test is this rank's share of the test set.
	test *data.Dataset
	// x, labels and targets hold this rank's share of a batch.
	x, targets []float32
	labels     []int32
	stats      [3]float64
}

// newDist checks that the recipe's global batch splits over the ranks.
func newDist(c Collective, r Recipe) (*dist, error) {
	if c == nil || c.Size() <= 1 {
		return nil, nil
	}
	d := &dist{c: c, rank: c.Rank(), size: c.Size()}
	if r.Batch%d.size != 0 {
		return nil, fmt.Errorf("train: run: batch %d (the global batch, per micro-batch with accumulation) does not split over %d ranks", r.Batch, d.size)
	}
	return d, nil
}

// writer reports whether this process writes the run directory:
// metrics, checkpoints and plots are rank 0's.
func (l *loop) writer() bool { return l.dist == nil || l.dist.rank == 0 }

// localBatch is the images per micro-batch this rank computes.
func (l *loop) localBatch() int {
	if l.dist == nil {
		return l.rs.Recipe.Batch
	}
	return l.rs.Recipe.Batch / l.dist.size
}

// replicas is the number of ranks.
func (l *loop) replicas() int {
	if l.dist == nil {
		return 1
	}
	return l.dist.size
}

// shardImages, shardLabels and shardTargets return this rank's share of
// a global batch: of each of its micro-batches (Batch images), the rank's
// contiguous slice. Every rank loads the same global batch (same seed and
// position), so the shares are disjoint and together the whole batch.
func (l *loop) shardImages(b *data.Batch) []float32 {
	if l.dist == nil {
		return b.Images
	}
	l.dist.x = shardRows(l, l.dist.x, b.Images, len(b.Images)/len(b.Labels))
	return l.dist.x
}

func (l *loop) shardLabels(labels []int32) []int32 {
	if l.dist == nil {
		return labels
	}
	l.dist.labels = shardRows(l, l.dist.labels, labels, 1)
	return l.dist.labels
}

func (l *loop) shardTargets(targets []float32) []float32 {
	if l.dist == nil {
		return targets
	}
	l.dist.targets = shardRows(l, l.dist.targets, targets, l.layout.Config.NumClasses)
	return l.dist.targets
}

// shardRows copies this rank's rows (width values each) of every
// micro-batch of src into dst, reusing its storage.
func shardRows[T any](l *loop, dst, src []T, width int) []T {
	d, r := l.dist, l.rs.Recipe
	k, micro, local := max(r.AccumSteps, 1), r.Batch, l.localBatch()
	if cap(dst) < k*local*width {
		dst = make([]T, k*local*width)
	}
	dst = dst[:k*local*width]
	for j := range k {
		from := j*micro + d.rank*local
		copy(dst[j*local*width:(j+1)*local*width], src[from*width:(from+local)*width])
	}
	return dst
}

// agree sums a step's loss and hits over the ranks and whether any rank
// was cancelled: the global batch's mean loss and hits, the same on
// every rank.
func (l *loop) agree(ctx context.Context, loss float32, hits int) (float32, int, error) {
	if l.dist == nil {
		return loss, hits, nil
	}
	d := l.dist
	d.stats = [3]float64{float64(loss), float64(hits), 0}
	if ctx.Err() != nil {
		d.stats[2] = 1
	}
	if err := d.c.AllreduceSum64(d.stats[:]); err != nil {
		return 0, 0, fmt.Errorf("train: run: step statistics: %w", err)
	}
	d.stop = d.stats[2] > 0
	return float32(d.stats[0] / float64(d.size)), int(d.stats[1]), nil
}

// stopping reports whether the run stops before the next step: ctx ended
// (alone), or some rank's did (data-parallel, agreed at the last step).
func (l *loop) stopping(ctx context.Context) bool {
	if l.dist == nil {
		return ctx.Err() != nil
	}
	return l.dist.stop
}

// loaderContext is the context batches are waited for with: a rank of a
// data-parallel run must not stop before the others agree to.
func (l *loop) loaderContext(ctx context.Context) context.Context {
	if l.dist == nil {
		return ctx
	}
	return context.Background()
}

// evaluate scores the EMA weights on the test split: on a data-parallel
// run each rank scores its share of an in-memory test set and the sums
// are reduced; a streamed test split is scored whole by every rank (the
// same result everywhere).
func (l *loop) evaluate(ctx context.Context) (EvalResult, error) {
	if l.o.TestStream != nil {
		return l.sess.EvaluateStream(ctx, l.o.TestStream, EMA)
	}
	if l.dist == nil {
		return l.sess.Evaluate(ctx, l.o.Test, EMA)
	}
	er, err := l.sess.Evaluate(ctx, l.dist.test, EMA)
	if err != nil {
		return er, err
	}
	n := float64(er.N)
	v := []float64{er.Acc * n, er.Loss * n, n}
	if err := l.dist.c.AllreduceSum64(v); err != nil {
		return er, fmt.Errorf("train: evaluate: %w", err)
	}
	return EvalResult{N: int(v[2]), Acc: v[0] / v[2], Loss: v[1] / v[2]}, nil
}

// splitTest gives this rank its contiguous share of the test set.
func (l *loop) splitTest() error {
	d := l.dist
	if d == nil || l.o.Test == nil {
		return nil
	}
	n := l.o.Test.N
	if n < d.size {
		return fmt.Errorf("train: run: %d test images do not split over %d ranks", n, d.size)
	}
	idx := make([]int, 0, n/d.size+1)
	for i := d.rank * n / d.size; i < (d.rank+1)*n/d.size; i++ {
		idx = append(idx, i)
	}
	var err error
	if d.test, err = l.o.Test.Subset(idx); err != nil {
		return fmt.Errorf("train: run: test share of rank %d: %w", d.rank, err)
	}
	return nil
}

// broadcastState gives every rank rank 0's parameters, EMA and momentum,
// so all start from the same state whatever each initialised or loaded.
func (l *loop) broadcastState() error {
	if l.dist == nil {
		return nil
	}
	st, err := l.sess.ReadState()
	if err != nil {
		return err
	}
	for _, m := range []map[string][]float32{st.Params, st.EMA, st.Momentum} {
		for _, sp := range l.layout.Params() {
			if err := l.dist.c.Bcast(m[sp.Name], 0); err != nil {
				return fmt.Errorf("train: run: broadcast %s: %w", sp.Name, err)
			}
		}
	}
	if l.dist.rank == 0 {
		return nil
	}
	return l.sess.SetState(st)
}

// testSet is the test data this rank evaluates.
func (l *loop) testSet() *data.Dataset {
	if l.dist != nil {
		return l.dist.test
	}
	return l.o.Test
}

// plot redraws the run's plot (rank 0).
func (l *loop) plot() error {
	if !l.writer() {
		return nil
	}
	return WritePlot(l.run.PlotPath(), l.history)
}
