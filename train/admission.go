package train

import (
	"errors"
	"fmt"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/gpu"
	"github.com/nfvk/nfvk/nfnet"
)

// ErrDoesNotFit is wrapped by the error of a run whose graphs need more
// device memory than the device offers.
var ErrDoesNotFit = errors.New("does not fit the device's memory")

// MemoryNeed is the device memory a session's graphs need, from their
// memory plans: what Compile will allocate.
type MemoryNeed struct {
	// Params, Grads, Optimizer (momentum) and Averages (the EMA) are the
	// persistent pools; Activations is the planned arena peak, kernel
	// workspace included; Other the inputs, constants and kept tensors.
	Params, Grads, Optimizer, Averages, Activations, Other int64
	// Total is every buffer, alignment included.
	Total int64
}

// EstimateSession plans the graphs o asks for on l without allocating
// device memory. Planning walks the graph only (no weights are made), so
// it is quick and small even for a model far too big for the device.
func EstimateSession(l *nfnet.Layout, o SessionOptions) (MemoryNeed, error) {
	need, _, err := estimate(l, o)
	return need, err
}

// planned is one of a session's graphs with its memory plan.
type planned struct {
	g *graph.Graph
	p *graph.Plan
}

// estimate is EstimateSession, also returning the planned graphs.
func estimate(l *nfnet.Layout, o SessionOptions) (MemoryNeed, []planned, error) {
	var need MemoryNeed
	if o.Kernels == nil {
		return need, nil, errors.New("train: estimate: no device (SessionOptions.Kernels)")
	}
	var graphs []*graph.Graph
	if o.Train.Batch != 0 {
		tg, err := nfnet.BuildTrain(l, o.Train)
		if err != nil {
			return need, nil, fmt.Errorf("train: estimate: %w", err)
		}
		graphs = append(graphs, tg.Graph)
	}
	if o.EvalBatch != 0 {
		eg, err := nfnet.BuildEval(l, o.EvalBatch, o.EvalHeight, o.EvalWidth)
		if err != nil {
			return need, nil, fmt.Errorf("train: estimate: %w", err)
		}
		graphs = append(graphs, eg.Graph)
	}
	var out []planned
	for _, g := range graphs {
		// Planned at the session's precision, as Compile plans it.
		if err := graph.ApplyPrecision(g, o.Precision); err != nil {
			return need, nil, fmt.Errorf("train: estimate: %w", err)
		}
		p, err := gpu.PlanFor(o.Kernels, g)
		if err != nil {
			return need, nil, fmt.Errorf("train: estimate: %w", err)
		}
		need.add(g, p)
		out = append(out, planned{g, p})
	}
	return need, out, nil
}

func (m *MemoryNeed) add(g *graph.Graph, p *graph.Plan) {
	for _, b := range p.Buffers {
		m.Total += b.Size
	}
	m.Activations += p.PeakBytes
	for _, t := range g.Tensors() {
		mem := p.Mem[t.ID()]
		if mem.Absent() || p.Offset[t.ID()] >= 0 { // dead, or in the arena
			continue
		}
		switch t.Role() {
		case graph.Parameter:
			m.Params += mem.Size
		case graph.Gradient:
			m.Grads += mem.Size
		case graph.OptimizerState:
			m.Optimizer += mem.Size
		case graph.Average:
			m.Averages += mem.Size
		default:
			m.Other += mem.Size
		}
	}
}

// bytesize formats n bytes in GiB, MiB or KiB, whichever reads best.
func bytesize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
}

// admit refuses a session that cannot fit: its planned memory against
// limit (> 0) or else what the device offers now (VK_EXT_memory_budget
// where the driver has it, else the heap's size). It runs before anything
// is allocated or created on disk. A session that fits in all is then
// refused if one tensor cannot fit one buffer (checkBuffers).
func admit(l *nfnet.Layout, o SessionOptions, limit int64) error {
	need, graphs, err := estimate(l, o)
	if err != nil {
		return err
	}
	dev := o.Kernels.Device()
	b := dev.MemoryBudget()
	have, what := int64(b.Available()), "available in its memory heap"
	switch {
	case limit > 0:
		have, what = limit, "allowed by Options.DeviceMemoryLimit"
	case b.FromExtension:
		what = fmt.Sprintf("available (VK_EXT_memory_budget: budget %s, %s in use)", bytesize(int64(b.Budget)), bytesize(int64(b.Usage)))
	}
	if need.Total <= have {
		for _, g := range graphs {
			if err := checkBuffers(g.g, g.p, dev); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("train: model %s at batch %d, %dx%d pixels needs %s of device memory (parameters %s, gradients %s, momentum %s, EMA %s, activations and workspace %s, inputs and other %s), device %s has %s %s: use a smaller batch, image size or model: %w",
		l.Config.Name, o.Train.Batch, o.Train.Height, o.Train.Width, bytesize(need.Total), bytesize(need.Params), bytesize(need.Grads), bytesize(need.Optimizer),
		bytesize(need.Averages), bytesize(need.Activations), bytesize(need.Other), dev.Info().Name, bytesize(have), what, ErrDoesNotFit)
}
