package kernels

import (
	"fmt"

	"github.com/nfvk/nfvk/engine"
)

// Reductions: per-row sum, sum of squares (AGC's unit-wise norms) and
// mean over a [rows, cols] row-major matrix, and whole-tensor sum and
// mean. Shader: reduce_rows (one workgroup per row, shared-memory tree).
// References: ref.Sum, ref.Mean, ref.RowSumSquares.

// Reduce selects the reduction.
type Reduce uint32

const (
	ReduceSum Reduce = iota
	ReduceSumSquares
	ReduceMean
)

func (r Reduce) String() string {
	return [...]string{"sum", "sumsq", "mean"}[r]
}

// ReduceRows records out[r] = op(x[r, :]) for a row-major [rows, cols] x.
func (k *Kernels) ReduceRows(p *engine.Program, op Reduce, x engine.Span, rows, cols int, out engine.Span) error {
	name := fmt.Sprintf("reduce %s [%d,%d]", op, rows, cols)
	if rows <= 0 || cols <= 0 {
		return fmt.Errorf("%s: rows and cols must be positive", name)
	}
	if op > ReduceMean {
		return fmt.Errorf("reduce: unknown op %d", op)
	}
	if err := needElems(name, "x", x, rows*cols); err != nil {
		return err
	}
	if err := needElems(name, "out", out, rows); err != nil {
		return err
	}
	if int64(rows)*int64(cols)*4 > int64(k.dev.Info().MaxStorageBufferRange) {
		return fmt.Errorf("%s: %d bytes exceed maxStorageBufferRange %d", name, rows*cols*4, k.dev.Info().MaxStorageBufferRange)
	}
	pipe, groups, err := k.reducePipeline(op, rows, cols)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return k.dispatch(p, name, pipe, [3]uint32{uint32(groups), 1, 1}, pushBuf(nil).i(rows).i(cols).i(rows*cols),
		x.Sub(0, int64(4*rows*cols)).Read(), out.Sub(0, int64(4*rows)).Write())
}

// maxLoopIterations is lavapipe's (gallivm's) cap on the iterations of any
// shader loop per invocation: beyond it loops exit early and results are
// silently wrong, so kernels keep every loop under it.
const maxLoopIterations = 65535

// reducePipeline picks the reduction variant and grid for rows of cols:
// lane-per-row on CPU devices when there are enough rows to fill the
// lanes and a row fits the loop cap, else a workgroup per row.
func (k *Kernels) reducePipeline(op Reduce, rows, cols int) (*pipe, int, error) {
	k.noteReduce(rows, cols)
	local, perLane := k.reduceChoice(rows, cols)
	if perLane && rows >= 64 && cols <= maxLoopIterations {
		pipe, err := k.pipeline("reduce_rows", uint32(local), uint32(op), 1)
		return pipe, min(ceilDiv(rows, local), 65535), err
	}
	if ceilDiv(cols, local) > maxLoopIterations {
		return nil, 0, fmt.Errorf("rows of %d elements exceed %d loop iterations per invocation (use Sum for one long vector)", cols, maxLoopIterations)
	}
	pipe, err := k.pipeline("reduce_rows", uint32(local), uint32(op), 0)
	return pipe, min(rows, 65535), err
}

// partialSums records scratch[r] = sum of x[r*sumRow : (r+1)*sumRow] with a
// short last row, for n elements.
func (k *Kernels) partialSums(p *engine.Program, x engine.Span, n int, scratch engine.Span) error {
	rows := SumScratch(n)
	pipe, groups, err := k.reducePipeline(ReduceSum, rows, sumRow)
	if err != nil {
		return err
	}
	return k.dispatch(p, fmt.Sprintf("partial sums [%d]", n), pipe, [3]uint32{uint32(groups), 1, 1},
		pushBuf(nil).i(rows).i(sumRow).i(n), x.Sub(0, int64(4*n)).Read(), scratch.Sub(0, int64(4*rows)).Write())
}

// Sum records out[0] = sum of all elements of x, in two passes when x is
// long: rows of partial sums, then their sum. scratch must hold
// SumScratch(n) elements (it may be nil when that is 0).
func (k *Kernels) Sum(p *engine.Program, x engine.Span, out engine.Span, scratch engine.Span) error {
	return k.total(p, ReduceSum, x, out, scratch)
}

// Mean records out[0] = mean of x; scratch as for Sum.
func (k *Kernels) Mean(p *engine.Program, x engine.Span, out engine.Span, scratch engine.Span) error {
	return k.total(p, ReduceMean, x, out, scratch)
}

// sumRow is the row length of the first pass of a long sum.
const sumRow = 4096

// SumScratch is the scratch element count Sum and Mean need for n elements.
func SumScratch(n int) int {
	if n <= sumRow {
		return 0
	}
	return ceilDiv(n, sumRow)
}

func (k *Kernels) total(p *engine.Program, op Reduce, x, out, scratch engine.Span) error {
	n, err := elems("reduce "+op.String(), "x", x)
	if err != nil {
		return err
	}
	if n <= sumRow {
		return k.ReduceRows(p, op, x, 1, n, out)
	}
	rows := SumScratch(n)
	if err := needElems("reduce "+op.String(), "scratch", scratch, rows); err != nil {
		return err
	}
	if int64(n)*4 > int64(k.dev.Info().MaxStorageBufferRange) {
		return fmt.Errorf("reduce %s: %d elements exceed maxStorageBufferRange", op, n)
	}
	if err := k.partialSums(p, x, n, scratch); err != nil {
		return err
	}
	if op == ReduceMean {
		// Sum the partials, then scale by 1/n in place.
		if err := k.ReduceRows(p, ReduceSum, scratch, 1, rows, out); err != nil {
			return err
		}
		return k.Axpby(p, 1/float32(n), out.Sub(0, 4), 0, out.Sub(0, 4))
	}
	return k.ReduceRows(p, ReduceSum, scratch, 1, rows, out)
}
