package graphtest

import (
	"testing"

	"github.com/nfvk/nfvk/graph"
)

// SplitCap returns a buffer cap (PlanOptions.MaxBufferBytes, a device's
// maxMemoryAllocationSize) that holds every tensor and scratch of g's
// plan p yet splits both its arena and its parameter pool, failing t when
// the graph is too small for one.
func SplitCap(t testing.TB, g *graph.Graph, p *graph.Plan) int64 {
	t.Helper()
	up := func(n int64) int64 { return (n + p.Align - 1) &^ (p.Align - 1) }
	var largest, params int64
	for _, tt := range g.Tensors() {
		largest = max(largest, up(tt.Bytes()))
		if tt.Role() == graph.Parameter {
			params += up(tt.Bytes())
		}
	}
	for _, s := range p.Scratch {
		largest = max(largest, up(s))
	}
	limit := up(max(largest, p.PeakBytes/3, params/2))
	if limit >= p.PeakBytes || limit >= params {
		t.Fatalf("no cap splits this graph: largest tensor %d bytes, arena %d, parameters %d", largest, p.PeakBytes, params)
	}
	return limit
}
