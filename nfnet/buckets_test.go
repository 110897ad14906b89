package nfnet

import (
	"testing"

	"github.com/nfvk/nfvk/agc"
)

// TestBuckets: a data-parallel step without accumulation splits its
// backward pass into one phase per gradient bucket: every trained
// parameter in exactly one bucket, each gradient produced by the end of
// its bucket's phase, buckets within the limit unless one node's
// gradients exceed it, and the update in the last phase.
func TestBuckets(t *testing.T) {
	c := Nano(1, 4)
	c.StemType, c.StemChs = "3x3", 8
	c.Depths, c.Channels = []int{1}, []int{16}
	c.GroupSize, c.NumFeatures, c.ExtraConv = 8, 0, false
	l, err := NewLayout(c)
	if err != nil {
		t.Fatal(err)
	}
	r := agc.Recipe{Epochs: 1, LR: 0.1, Momentum: 0.9, AGCClip: 0.04, EMADecay: 0.99}
	for _, limit := range []int{0, 1, 300, 1 << 20} {
		s, err := BuildTrain(l, TrainOptions{Batch: 2, Height: 8, Width: 8, Recipe: r, Replicas: 2, BucketFloats: limit})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for i, names := range s.Buckets {
			n := 0
			nodes := map[int]bool{}
			for _, name := range names {
				seen[name]++
				g := s.Grads[name]
				if p := g.Node().Phase(); p > i {
					t.Errorf("limit %d: %s of bucket %d is produced in phase %d", limit, name, i, p)
				}
				n += g.Size()
				nodes[g.Node().ID()] = true
			}
			if limit > 0 && n > limit && len(names) > 1 && len(nodes) > 1 {
				t.Errorf("limit %d: bucket %d holds %d values of %d nodes", limit, i, n, len(nodes))
			}
		}
		if len(seen) != len(s.Grads) {
			t.Errorf("limit %d: buckets hold %d of %d gradients", limit, len(seen), len(s.Grads))
		}
		for name, k := range seen {
			if k != 1 {
				t.Errorf("limit %d: %s in %d buckets", limit, name, k)
			}
		}
		if got := s.Graph.Phases(); got != len(s.Buckets)+1 {
			t.Errorf("limit %d: %d phases for %d buckets", limit, got, len(s.Buckets))
		}
		if limit == 0 && len(s.Buckets) != 1 || limit == 1 && len(s.Buckets) < 5 {
			t.Errorf("limit %d: %d buckets", limit, len(s.Buckets))
		}
		last := s.Graph.Nodes()[len(s.Graph.Nodes())-1]
		if last.Phase() != len(s.Buckets) {
			t.Errorf("limit %d: the last node (%s) is in phase %d", limit, last.Op(), last.Phase())
		}
	}
}
