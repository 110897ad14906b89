package gpu

import (
	"fmt"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels"
)

// TuneShapes lists the shapes of the GEMMs, convolutions and reductions
// that compiling gs on k would record (kernels.Tune measures them),
// each once. Nothing is allocated or recorded.
func TuneShapes(k *kernels.Kernels, gs ...*graph.Graph) (kernels.Shapes, error) {
	if k == nil {
		return kernels.Shapes{}, fmt.Errorf("graph: tune shapes: no kernels")
	}
	log := k.ShapeLog()
	for _, g := range gs {
		if _, err := PlanWork(log, g); err != nil {
			return kernels.Shapes{}, fmt.Errorf("graph: tune shapes: %w", err)
		}
	}
	return log.Shapes(), nil
}
