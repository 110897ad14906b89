package kernels

import (
	"github.com/nfvk/nfvk/engine"
)

// Serial work per invocation. A GPU driver resets the device when one
// dispatch runs too long (Windows TDR: 2 s), and the kernels whose
// invocations each run a whole reduction (backward-filter: the batch
// times the output pixels; GEMM: K) would on a large batch. For the GPU
// tuning classes every plan keeps the loop iterations of one invocation
// in one dispatch within Tuning.LaneBudget: longer reductions run as
// ordered chains of dispatches, each adding its partial sums to what the
// previous ones stored (deterministic: no atomics, a fixed order).

// LaneBudgetGPU is the lane budget of the GPU tuning classes: 8192 loop
// iterations of a few loads and up to TO*TP FMAs each are well under a
// millisecond on any GPU, so a dispatch stays far from a watchdog even
// when memory latency is not hidden.
const LaneBudgetGPU = 8192

// WithTuning returns kernels for the same device that plan with tuning t
// (tests use it to plan for a GPU class on lavapipe).
func (k *Kernels) WithTuning(t Tuning) *Kernels {
	return &Kernels{dev: k.dev, tune: t, shaders: map[string]*engine.Shader{}}
}

// laneLimit is the loop iterations one invocation may run in one
// dispatch: the smaller of the driver's loop limit and the lane budget,
// 0 when neither applies.
func (k *Kernels) laneLimit() int {
	l, b := convLoopLimit(k.dev.Info()), k.tune.LaneBudget
	switch {
	case l == 0:
		return b
	case b == 0:
		return l
	}
	return min(l, b)
}

// LaneWork is the planned serial work of one dispatch.
type LaneWork struct {
	Dispatch string    // its label
	Shader   string    // the shader it runs
	Groups   [3]uint32 // its grid
	Iters    int       // loop iterations of one invocation (lanework.go)
}

// WorkPlanner returns kernels for the same device that plan with tuning t
// and record nothing: every dispatch the kernels would record is checked
// as usual and logged with its lane work (Work), no pipeline is built and
// no buffer is touched but the optimizer's tables, which are written
// from the host. The spans given to them need buffers only as
// identities (new(engine.Buffer) will do), so plans of graphs far larger
// than this device's memory can be checked; p may be nil.
func (k *Kernels) WorkPlanner(t Tuning) *Kernels {
	return &Kernels{dev: k.dev, tune: t, shaders: map[string]*engine.Shader{}, work: new([]LaneWork)}
}

// Planning reports whether k is a work planner.
func (k *Kernels) Planning() bool { return k.work != nil }

// Work returns the dispatches a work planner has logged, in order.
func (k *Kernels) Work() []LaneWork {
	if k.work == nil {
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]LaneWork(nil), *k.work...)
}
