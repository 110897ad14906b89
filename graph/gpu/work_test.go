package gpu_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/graph/gpu"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
)

// TestF0StepWithinLaneBudget plans the whole training step of
// dm_nfnet_f0 at 192 px (forward, backward, optimizer and EMA) with the
// tuning of a GPU class and holds every dispatch to the lane budget: no
// invocation may run long enough to trip a driver watchdog. Batch 32 is
// the largest whose tensors fit lavapipe's 128 MiB binding range (the
// plans use this device's limits; the recipes' default of 128 needs a
// GPU's larger range, and the per-lane work of the chained reductions
// does not grow with the batch). Nothing is allocated: the step is
// planned, not recorded.
func TestF0StepWithinLaneBudget(t *testing.T) {
	cfg, err := nfnet.Variant("dm_nfnet_f0")
	if err != nil {
		t.Fatal(err)
	}
	l, err := nfnet.NewLayout(cfg)
	if err != nil {
		t.Fatal(err)
	}
	recipe := agc.Recipe{Epochs: 360, LR: 0.1, WarmupEpochs: 5, Momentum: 0.9, Nesterov: true, WeightDecay: 2e-5,
		AGCClip: 0.01, AGCExclude: []string{"head.fc"}, EMADecay: 0.99999}
	dev := testKernels(t)
	tune := kernels.TuningFor(engine.DeviceInfo{VendorID: 0x10DE, MaxWorkgroupInvocs: 1024})
	if tune.LaneBudget != kernels.LaneBudgetGPU {
		t.Fatalf("the GPU tuning has lane budget %d", tune.LaneBudget)
	}
	for _, batch := range []int{8, 32} {
		t.Run(fmt.Sprint("batch", batch), func(t *testing.T) {
			s, err := nfnet.BuildTrain(l, nfnet.TrainOptions{Batch: batch, Height: 192, Width: 192, LabelSmoothing: 0.1, Recipe: recipe})
			if err != nil {
				t.Fatal(err)
			}
			work, err := gpu.PlanWork(dev.WorkPlanner(tune), s.Graph)
			if err != nil {
				t.Fatal(err)
			}
			shaders := map[string]int{} // the longest lane of each shader
			over := 0
			for _, w := range work {
				shaders[w.Shader] = max(shaders[w.Shader], w.Iters)
				if w.Iters > tune.LaneBudget {
					over++
					if over <= 20 {
						t.Errorf("%s (%s, grid %v): %d iterations per invocation, budget %d", w.Dispatch, w.Shader, w.Groups, w.Iters, tune.LaneBudget)
					}
				}
			}
			if over > 20 {
				t.Errorf("... %d dispatches over the budget in all", over)
			}
			// The step must have been planned whole: every kind of layer.
			for _, want := range []string{"conv2d_direct", "conv2d_filter", "conv2d_bias_grad", "ws", "ws_backward", "gemm_tiled", "loss", "optim_sgd_multi", "optim_ema"} {
				if _, ok := shaders[want]; !ok {
					t.Errorf("no %s dispatch among %d", want, len(work))
				}
			}
			names := make([]string, 0, len(shaders))
			for n, it := range shaders {
				names = append(names, fmt.Sprintf("%s %d", n, it))
			}
			sort.Strings(names)
			t.Logf("%d dispatches; longest lane per shader: %s", len(work), strings.Join(names, ", "))
		})
	}
}
