package gpu_test

import (
	"strings"
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/engine/enginetest"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/gpu"
	"github.com/nfvk/nfvk/graph/graphtest"
	"github.com/nfvk/nfvk/kernels"
)

// TestSplitBuffersMatchCPU trains on a device whose allocation cap
// (maxMemoryAllocationSize, lowered through engine.Limits) is a third of
// the arena: Compile splits the arena and the parameter pool into
// several buffers, and three steps still match the CPU.
func TestSplitBuffersMatchCPU(t *testing.T) {
	net := func() *graphtest.OptimNet {
		return graphtest.NewOptimNet(t, 2, 8, 4, graphtest.OptimConfig{Rule: agc.DeepMind})
	}
	k0 := testKernels(t)
	align := max(int64(k0.Device().Info().MinStorageBufferOffsetAlignment), 16)
	o := net()
	whole, err := graph.PlanMemory(o.G, graph.PlanOptions{Align: align, Backend: gpu.PlanBackend(k0)})
	graphtest.Must(t, err)
	limit := graphtest.SplitCap(t, o.G, whole)
	k := kernels.New(enginetest.OpenWith(t, engine.Options{Limits: engine.Limits{MaxMemoryAllocationSize: uint64(limit)}}))
	var hs []agc.Hyper
	for _, lr := range []float64{0.2, 0.1, 0.05} {
		hs = append(hs, agc.Hyper{LR: lr, Momentum: 0.9, WeightDecay: 0.05, Lambda: 0.01})
	}
	exe, cpu := trainBoth(t, k, o, hs, nil)
	arenas := 0
	for _, b := range exe.Plan().Buffers {
		if strings.HasPrefix(b.Name, "graph arena") {
			arenas++
		}
		if b.Size > limit {
			t.Errorf("buffer %+v is larger than the %d-byte cap", b, limit)
		}
	}
	if arenas < 2 || dispatches(exe, "optimizer step") < 2 {
		t.Errorf("%d arena buffers, %d optimizer dispatches under a %d-byte cap (arena %d): want the arena and the parameters split",
			arenas, dispatches(exe, "optimizer step"), limit, whole.PeakBytes)
	}
	var moms []*graph.Tensor
	for _, tg := range o.Targets {
		moms = append(moms, tg.Momentum)
	}
	compare(t, exe, cpu, append(append([]*graph.Tensor(nil), o.Params...), moms...), optimTol, optimTol)
}
