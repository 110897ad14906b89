package gpu

import (
	"errors"
	"fmt"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels"
)

// PlanWork plans g's memory and lowers every phase of it onto k, a work
// planner (kernels.WorkPlanner), and returns the lane work of every
// dispatch the step would record, in order. No device memory is
// allocated (the planner needs buffers only as identities), so the plans
// of a step far larger than the device can be checked, for example
// against a GPU tuning class's lane budget.
func PlanWork(k *kernels.Kernels, g *graph.Graph) ([]kernels.LaneWork, error) {
	if k == nil || g == nil {
		return nil, errors.New("graph: plan work: no kernels or graph")
	}
	if !k.Planning() {
		return nil, errors.New("graph: plan work: the kernels record (want a kernels.WorkPlanner)")
	}
	be := &backend{k: k}
	defer be.freeTables()
	align := max(int64(k.Device().Info().MinStorageBufferOffsetAlignment), 16)
	plan, err := graph.PlanMemory(g, graph.PlanOptions{Align: align, Backend: be})
	if err != nil {
		return nil, err
	}
	for range plan.Buffers {
		be.bufs = append(be.bufs, new(engine.Buffer))
	}
	for phase := range g.Phases() {
		if err := graph.LowerPhase(g, plan, be, phase); err != nil {
			return nil, fmt.Errorf("graph: plan work: %w", err)
		}
	}
	return k.Work(), nil
}

// freeTables frees the optimizer tables the lowering made.
func (b *backend) freeTables() {
	for _, t := range b.tables {
		t.Free()
	}
	b.tables = nil
}
