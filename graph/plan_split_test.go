package graph_test

import (
	"strings"
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/graphtest"
)

// TestPlanSplitsBuffers plans with a buffer cap a fraction of the arena
// (a device's maxMemoryAllocationSize): the arena becomes several
// buffers of at most the cap, no tensor straddles two, tensors live
// together still do not overlap, and the parameter pool is split too.
func TestPlanSplitsBuffers(t *testing.T) {
	o := graphtest.NewOptimNet(t, 2, 8, 4, graphtest.OptimConfig{Rule: agc.DeepMind, EMA: graphtest.EMAMirrored})
	const align = 64
	whole, err := graph.PlanMemory(o.G, graph.PlanOptions{Align: align, Backend: &recorder{}})
	graphtest.Must(t, err)
	limit := graphtest.SplitCap(t, o.G, whole)
	p, err := graph.PlanMemory(o.G, graph.PlanOptions{Align: align, Backend: &recorder{}, MaxBufferBytes: limit})
	graphtest.Must(t, err)
	graphtest.Must(t, p.Check(o.G))
	arenas, paramBufs := 0, map[int]bool{}
	for i, b := range p.Buffers {
		if b.Size > limit {
			t.Errorf("buffer %d %+v is larger than the %d-byte cap", i, b, limit)
		}
		if strings.HasPrefix(b.Name, "graph arena") {
			arenas++
		}
	}
	for _, tt := range o.G.Tensors() {
		m := p.Mem[tt.ID()]
		if m == (graph.Mem{}) {
			continue
		}
		if m.Off%align != 0 || m.Off+m.Size > p.Buffers[m.Buf].Size {
			t.Errorf("%v: %+v outside buffer %+v", tt, m, p.Buffers[m.Buf])
		}
		if tt.Role() == graph.Parameter {
			paramBufs[m.Buf] = true
		}
		// Two arena tensors share bytes only in the same buffer.
		if off := p.Offset[tt.ID()]; off >= 0 && m.Off != off%limit {
			t.Errorf("arena tensor %v at %d: in-buffer offset %d, want %d", tt, off, m.Off, off%limit)
		}
	}
	if arenas < 2 || len(paramBufs) < 2 {
		t.Errorf("%d arena buffers and %d parameter buffers under a %d-byte cap (arena %d), want several of each",
			arenas, len(paramBufs), limit, p.PeakBytes)
	}
	if _, err := graph.PlanMemory(o.G, graph.PlanOptions{Align: align, Backend: &recorder{}, MaxBufferBytes: align}); err == nil ||
		!strings.Contains(err.Error(), "largest buffer") {
		t.Errorf("a cap below the largest tensor: err %v, want one naming the device's largest buffer", err)
	}
}
