package train

import (
	"context"
	"fmt"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
)

// tuned returns the kernels the session compiles with: o.Kernels tuned
// for the shapes of its training step and eval pass when o.Tune asks.
func (s *Session) tuned(ctx context.Context, o SessionOptions) (*kernels.Kernels, error) {
	if o.Tune == nil || o.Kernels == nil || !o.Kernels.TuneApplies(o.Tune.Force) {
		return o.Kernels, nil
	}
	gs := []*graph.Graph{s.tg.Graph}
	if o.EvalBatch != 0 {
		eg, err := nfnet.BuildEval(s.Layout, o.EvalBatch, o.EvalHeight, o.EvalWidth)
		if err != nil {
			return nil, fmt.Errorf("train: session: %w", err)
		}
		gs = append(gs, eg.Graph)
	}
	k, _, err := tuneGraphs(ctx, o.Kernels, *o.Tune, gs...)
	if err != nil {
		return nil, fmt.Errorf("train: session: %w", err)
	}
	return k, nil
}
