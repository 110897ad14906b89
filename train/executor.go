package train

import (
	"context"
	"fmt"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/gpu"
	"github.com/nfvk/nfvk/kernels"
)

// executor runs one graph: a compiled GPU step (gpu.Executable) or the
// CPU references (graph.CPU). A Session drives both the same way.
type executor interface {
	Write(t *graph.Tensor, v []float32) error
	ReadInto(t *graph.Tensor, dst []float32) error
	Submit(seed uint64, feeds map[*graph.Tensor][]float32) error
	SubmitPhase(phase int, seed uint64, feeds map[*graph.Tensor][]float32) error
	Wait(ctx context.Context) error
	Close()
}

type gpuExec struct{ *gpu.Executable }

// compile returns g's executor on k's device, or on the CPU when k is nil.
func compile(ctx context.Context, k *kernels.Kernels, g *graph.Graph, profile bool, p graph.Precision) (executor, error) {
	if k == nil {
		return &cpuExec{c: graph.NewCPU[float32](g)}, nil
	}
	x, err := gpu.Compile(ctx, k, g, gpu.Options{Profile: profile, Precision: p})
	if err != nil {
		return nil, err
	}
	return gpuExec{x}, nil
}

// cpuExec runs a graph with the float32 references, synchronously: Submit
// runs the step and Wait reports how it went.
type cpuExec struct {
	c   *graph.CPU[float32]
	err error
}

// Write sets t; the CPU takes labels as float class indices, as given.
func (x *cpuExec) Write(t *graph.Tensor, v []float32) error { return x.c.Set(t, v) }

func (x *cpuExec) ReadInto(t *graph.Tensor, dst []float32) error {
	v := x.c.Value(t)
	if len(dst) != len(v) {
		return fmt.Errorf("graph: cpu: read %v into %d values", t, len(dst))
	}
	copy(dst, v)
	return nil
}

func (x *cpuExec) Submit(seed uint64, feeds map[*graph.Tensor][]float32) error {
	return x.SubmitPhase(0, seed, feeds)
}

func (x *cpuExec) SubmitPhase(phase int, seed uint64, feeds map[*graph.Tensor][]float32) error {
	x.err = x.c.RunPhase(context.Background(), phase, seed, feeds)
	return nil
}

func (x *cpuExec) Wait(context.Context) error {
	err := x.err
	x.err = nil
	return err
}

func (x *cpuExec) Close() {}
