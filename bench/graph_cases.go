package bench

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/gpu"
)

// A whole NFNet training step as a graph: MemoryPlan reports how much
// the memory plan saves, ReplayHost what a replayed step costs the host.
func graphCases() []Case {
	return []Case{
		// By default the conv backward recomputes the standardized weights
		// (whose copies count in the naive sum); keep-ws reuses the
		// forward's.
		{Name: "MemoryPlan/f0-64px-b8", Run: func(ctx context.Context, env *Env) (Result, error) { return memoryPlan(env, true) }},
		{Name: "MemoryPlan/f0-64px-b8-keep-ws", Run: func(ctx context.Context, env *Env) (Result, error) { return memoryPlan(env, false) }},
		{Name: "ReplayHost/f0-64px-b8", Run: replayHost},
	}
}

// memoryPlan plans the F0 training step at batch 8, 64x64 and reports
// planned peak / naive sum of activation and temporary sizes
// (plan_ratio), the peak itself (peak_MiB) and the planning time
// (plan_ms, host).
func memoryPlan(env *Env, recomputeWS bool) (Result, error) {
	m, err := f0Graph(8, 64, recomputeWS)
	if err != nil {
		return Result{}, err
	}
	align := max(int64(env.Dev.Info().MinStorageBufferOffsetAlignment), 16)
	var p *graph.Plan
	start := time.Now()
	for i := 0; i < max(env.Reps, 1); i++ {
		if p, err = graph.PlanMemory(m.g, graph.PlanOptions{Align: align, Backend: gpu.PlanBackend(env.Lib)}); err != nil {
			return Result{}, fmt.Errorf("plan: %w", err)
		}
	}
	planMS := float64(time.Since(start).Microseconds()) / 1e3 / float64(max(env.Reps, 1))
	var r Result
	r.add(p.Ratio(), "plan_ratio")
	r.add(float64(p.PeakBytes)/(1<<20), "peak_MiB")
	r.add(float64(p.NaiveBytes)/(1<<20), "naive_MiB")
	r.add(float64(p.PersistentBytes)/(1<<20), "persistent_MiB")
	r.add(float64(len(m.g.Nodes())), "nodes")
	r.add(planMS, "plan_ms")
	return r, nil
}

// replayHost replays the compiled F0 training step and reports the host
// time per step, everything but GPU execution: host_us/step is the
// step's wall time (upload, submit, wait) minus the GPU time between its
// first and last timestamps, so it also counts the driver's queue and
// wake-up latency (larger on a loaded CPU device). submit_us is the wall
// time of upload + submit; submit_cpu_us and wait_cpu_us the CPU time the
// stepping thread spends in them (the device's threads, lavapipe's
// included, are not counted; Wait polls every 50 ms for cancellation, so
// its CPU time grows with the step's length).
func replayHost(ctx context.Context, env *Env) (Result, error) {
	const n, px = 8, 64
	m, err := f0Graph(n, px, true)
	if err != nil {
		return Result{}, err
	}
	x, err := gpu.Compile(ctx, env.Lib, m.g, gpu.Options{Profile: true})
	if err != nil {
		return Result{}, fmt.Errorf("compile: %w", err) // a missing kernel fails the case, never skips it
	}
	defer x.Close()
	for i, p := range m.params {
		v := make([]float32, p.Size())
		std := 1.0
		if len(p.Shape()) > 1 {
			std = 1 / math.Sqrt(float64(p.Size()/p.Shape()[0]))
		}
		for j := range v {
			v[j] = float32(std * math.Sin(float64(i*7919+j)))
		}
		if err := x.Write(p, v); err != nil {
			return Result{}, err
		}
	}
	img := make([]float32, m.x.Size())
	for i := range img {
		img[i] = float32(math.Cos(float64(i)))
	}
	labels := make([]float32, n)
	for i := range labels {
		labels[i] = float32(i * 97 % 1000)
	}
	feeds := map[*graph.Tensor][]float32{m.x: img, m.labels: labels}
	if err := x.Step(ctx, 0, feeds); err != nil { // warm-up
		return Result{}, err
	}
	// One OS thread does the whole step, so its CPU time is the host's
	// work.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var wallGPU, submit, submitCPU, waitCPU []time.Duration
	cpuOK := true
	reps := max(env.Reps, 3)
	submits0 := env.Lib.Device().Submits()
	for i := 0; i < reps; i++ {
		c0, ok0 := threadCPU()
		t0 := time.Now()
		if err := x.Submit(uint64(i), feeds); err != nil {
			return Result{}, err
		}
		c1, ok1 := threadCPU()
		t1 := time.Now()
		if err := x.Wait(ctx); err != nil {
			return Result{}, err
		}
		c2, ok2 := threadCPU()
		wall := time.Since(t0)
		_, gpuT, err := x.Program().Timings()
		if err != nil {
			return Result{}, err
		}
		cpuOK = cpuOK && ok0 && ok1 && ok2
		wallGPU, submit = append(wallGPU, wall-gpuT), append(submit, t1.Sub(t0))
		submitCPU, waitCPU = append(submitCPU, c1-c0), append(waitCPU, c2-c1)
	}
	if env.Log != nil {
		env.Log(Breakdown(x.Program()))
	}
	us := func(d []time.Duration) float64 { return float64(median(d).Microseconds()) }
	var r Result
	r.add(us(wallGPU), "host_us/step")
	r.add(us(submit), "submit_us")
	if cpuOK {
		r.add(us(submitCPU), "submit_cpu_us")
		r.add(us(waitCPU), "wait_cpu_us")
	}
	r.add(float64(x.Program().Len()), "dispatches")
	r.add(float64(x.Program().Segments()), "batches")
	// Queue submits per step, staged uploads of the inputs included.
	r.add(float64(env.Lib.Device().Submits()-submits0)/float64(reps), "submits/step")
	return r, nil
}
