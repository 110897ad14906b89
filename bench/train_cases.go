package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/internal/fixtures"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/train"
)

// trainCases time the training loop's compiled step (train.Session:
// forward, loss, backward, fused AGC+SGD of all tensors, weight EMA) as
// the loop runs it: upload a batch and the step values, submit, wait,
// read the loss. images/s is from wall time, which is what training sees
// (on lavapipe the "GPU" is the same CPU); gpu_ms is the GPU timestamps'
// total; peak_MiB is the device arena's high-water mark (engine
// MemoryStats) while the step exists. The log breaks the GPU time down
// by dispatch kind and names the slowest dispatches.
func trainCases() []Case {
	variant := func(name string) func() (nfnet.Config, error) {
		return func() (nfnet.Config, error) { return nfnet.Variant(name) }
	}
	cases := []struct {
		name    string
		small   bool
		heavy   bool
		cfg     func() (nfnet.Config, error)
		n, h, w int
		prec    graph.Precision
	}{
		{"default-b128", true, false, func() (nfnet.Config, error) { return nfnet.Nano(1, 10), nil }, 128, 28, 28, graph.FP32},
		{"default-b128-fp16", false, false, func() (nfnet.Config, error) { return nfnet.Nano(1, 10), nil }, 128, 28, 28, graph.FP16},
		{"default-b128-bf16", false, false, func() (nfnet.Config, error) { return nfnet.Nano(1, 10), nil }, 128, 28, 28, graph.BF16},
		{"fixture-b128", false, false, fixtureConfig, 128, 32, 32, graph.FP32},
		{"f0-64px-b8", false, false, variant("f0"), 8, 64, 64, graph.FP32},
		// Mixed precision (README "Mixed precision"): peak_MiB beside
		// f0-64px-b8's.
		{"f0-64px-b8-fp16", false, false, variant("f0"), 8, 64, 64, graph.FP16},
		// F0 at its training resolution, the figure to set beside
		// timm's dm_nfnet_f0 on the same GPU (tools/gpu-check).
		{"f0-192px-b32", false, true, variant("f0"), 32, 192, 192, graph.FP32},
	}
	var cs []Case
	for _, c := range cases {
		cs = append(cs, Case{Name: "TrainStep/" + c.name, Small: c.small, Heavy: c.heavy, Run: func(ctx context.Context, env *Env) (Result, error) {
			cfg, err := c.cfg()
			if err != nil {
				return Result{}, err
			}
			l, err := nfnet.NewLayout(cfg)
			if err != nil {
				return Result{}, err
			}
			return trainStep(ctx, env, l, c.n, c.h, c.w, c.prec)
		}})
	}
	return cs
}

// fixtureConfig is the small_config.json model of the timm fixtures (the
// PyTorch calibration model); outside the source tree the case is skipped.
func fixtureConfig() (nfnet.Config, error) {
	p, err := fixtures.Lookup("small_config.json")
	if err != nil {
		return nfnet.Config{}, fmt.Errorf("%w: %v", ErrSkip, err)
	}
	return nfnet.LoadConfig(p)
}

func trainStep(ctx context.Context, env *Env, l *nfnet.Layout, n, h, w int, prec graph.Precision) (Result, error) {
	dev := env.Dev
	dev.ResetPeak()
	base := dev.MemoryStats().LiveBytes
	r := train.NanoRecipe()
	r.AGCExclude = []string{"head.fc"}
	to := nfnet.TrainOptions{Batch: n, Height: h, Width: w, LabelSmoothing: 0.1, Recipe: r.Recipe}
	if prec == graph.FP16 { // as nfvk train runs it: with loss scaling
		to.LossScaleGrowth = train.DefaultLossScaleGrowth
	}
	s, err := train.NewSession(ctx, l, train.SessionOptions{Kernels: env.Lib, Profile: true, Precision: prec, Train: to})
	if err != nil {
		return Result{}, fmt.Errorf("session: %w", err) // a missing kernel fails the case, never skips it
	}
	defer s.Close()
	vals, err := nfnet.Init(s.Specs, 1)
	if err != nil {
		return Result{}, err
	}
	ps := map[string][]float32{}
	for i, sp := range s.Specs {
		ps[sp.Name] = vals[i]
	}
	if err := s.SetState(train.State{Params: ps}); err != nil {
		return Result{}, err
	}
	x := make([]float32, n*l.Config.InChans*h*w)
	for i := range x {
		x[i] = float32(math.Sin(float64(i) * 0.37))
	}
	labels := make([]int32, n)
	for i := range labels {
		labels[i] = int32(i % l.Config.NumClasses)
	}
	hy := agc.Hyper{LR: 0.01, Momentum: 0.9, Nesterov: true, WeightDecay: 5e-5, Lambda: 0.04, EMADecay: 0.999}
	step := func(i int) (time.Duration, error) {
		t0 := time.Now()
		if err := s.Submit(x, labels, hy, uint64(i)); err != nil {
			return 0, err
		}
		if _, err := s.Wait(ctx); err != nil {
			return 0, err
		}
		return time.Since(t0), nil
	}
	if _, err := step(0); err != nil { // warm-up
		return Result{}, err
	}
	var walls, gpus []time.Duration
	for i := 0; i < max(env.Reps, 3); i++ {
		wall, err := step(i + 1)
		if err != nil {
			return Result{}, err
		}
		_, gpu, err := s.TrainProgram().Timings()
		if err != nil {
			return Result{}, err
		}
		walls, gpus = append(walls, wall), append(gpus, gpu)
	}
	if env.Log != nil {
		env.Log(Breakdown(s.TrainProgram()))
		env.Log(slowest(s.TrainProgram(), 12))
	}
	var res Result
	res.add(float64(n)/median(walls).Seconds(), "images/s")
	res.add(float64(median(gpus).Microseconds())/1e3, "gpu_ms")
	res.add(float64(dev.MemoryStats().PeakBytes-base)/(1<<20), "peak_MiB")
	res.add(float64(s.TrainProgram().Len()), "dispatches")
	return res, nil
}

// Breakdown is the GPU time of p's last run by kind of dispatch (the label
// up to its shape), largest first, on one line: where a step's time goes.
func Breakdown(p *engine.Program) string {
	ts, total, err := p.Timings()
	if err != nil {
		return fmt.Sprintf("no breakdown: %v", err)
	}
	by := map[string]time.Duration{}
	count := map[string]int{}
	for _, t := range ts {
		// The label's leading words, up to its shape or range.
		var words []string
		for _, w := range strings.Fields(t.Label) {
			if strings.IndexAny(w[:1], "0123456789[({") == 0 {
				break
			}
			words = append(words, w)
		}
		kind := strings.Join(words, " ")
		by[kind] += t.Duration
		count[kind]++
	}
	kinds := make([]string, 0, len(by))
	for k := range by {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, c string) int { return int(by[c] - by[a]) })
	var sb strings.Builder
	// One line: benchmark logs are cut after a few lines.
	fmt.Fprintf(&sb, "GPU time %v in %d dispatches:", total, len(ts))
	for _, k := range kinds {
		fmt.Fprintf(&sb, " %s x%d %.1f%%;", k, count[k], 100*float64(by[k])/float64(total))
	}
	return sb.String()
}

// slowest names the k slowest dispatches of p's last run with their share
// of its GPU time: which layers a model's step spends on.
func slowest(p *engine.Program, k int) string {
	ts, total, err := p.Timings()
	if err != nil {
		return fmt.Sprintf("no timings: %v", err)
	}
	ts = slices.Clone(ts)
	slices.SortFunc(ts, func(a, c engine.Timing) int { return int(c.Duration - a.Duration) })
	var sb strings.Builder
	fmt.Fprintf(&sb, "slowest of %d dispatches:", len(ts))
	for _, t := range ts[:min(k, len(ts))] {
		fmt.Fprintf(&sb, " %s %.2fms %.1f%%;", t.Label, float64(t.Duration.Microseconds())/1e3, 100*float64(t.Duration)/float64(total))
	}
	return sb.String()
}
