package nfnet

import (
	"cmp"
	"slices"

	"github.com/nfvk/nfvk/graph"
)

// splitBuckets groups the gradients of a data-parallel step without
// accumulation into buckets in the order backward produces them (the
// classifier's first), at most limit values each (0: one bucket; a larger
// gradient, or the gradients one node produces, may make a larger one),
// splits the forward-backward phase
// after each bucket but the last, and starts the update phase.
func (s *TrainGraph) splitBuckets(trained []ParamSpec, limit int) error {
	if s.Replicas == 1 || s.AccumSteps > 1 {
		return nil
	}
	type grad struct {
		name string
		t    *graph.Tensor
	}
	gs := make([]grad, 0, len(trained))
	for _, sp := range trained {
		gs = append(gs, grad{sp.Name, s.Grads[sp.Name]})
	}
	slices.SortStableFunc(gs, func(a, b grad) int { return cmp.Compare(a.t.Node().ID(), b.t.Node().ID()) })
	var ends []*graph.Node
	n := 0
	for i, g := range gs {
		// A node producing several gradients ends one bucket.
		full := limit > 0 && n+g.t.Size() > limit && n > 0 && g.t.Node() != gs[i-1].t.Node()
		if i == 0 || full {
			if i > 0 {
				ends = append(ends, gs[i-1].t.Node())
			}
			s.Buckets = append(s.Buckets, nil)
			n = 0
		}
		s.Buckets[len(s.Buckets)-1] = append(s.Buckets[len(s.Buckets)-1], g.name)
		n += g.t.Size()
	}
	g := s.Graph
	if err := g.SplitPhase(0, ends); err != nil {
		return err
	}
	return g.SetPhase(len(ends) + 1)
}
