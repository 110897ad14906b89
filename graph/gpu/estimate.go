package gpu

import (
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels"
)

// PlanFor is the memory plan Compile would use for g on k's device,
// computed without allocating anything: what admission control weighs
// against the device's memory before a run starts.
func PlanFor(k *kernels.Kernels, g *graph.Graph) (*graph.Plan, error) {
	return graph.PlanMemory(g, graph.PlanOptions{Align: max(int64(k.Device().Info().MinStorageBufferOffsetAlignment), 16), Backend: &backend{k: k}})
}
