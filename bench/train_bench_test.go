package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/internal/fixtures"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/train"
)

// BenchmarkTrainStep times the training loop's compiled step (train.Session:
// forward, loss, backward, fused AGC+SGD of all tensors, weight EMA) as
// the loop runs it: upload a batch and the step values, submit, wait,
// read the loss. images/s is from wall time, which is what training sees
// (on lavapipe the "GPU" is the same CPU); gpu_ms is the GPU timestamps'
// total; peak_MiB is the device arena's high-water mark (engine
// MemoryStats) while the step exists. The log line breaks the GPU time
// down by dispatch kind and names the slowest dispatches.
func BenchmarkTrainStep(b *testing.B) {
	cases := []struct {
		name    string
		cfg     func(b *testing.B) nfnet.Config
		n, h, w int
	}{
		{"default-b128", func(*testing.B) nfnet.Config { return nfnet.Nano(1, 10) }, 128, 28, 28},
		{"fixture-b128", fixtureConfig, 128, 32, 32},
		{"f0-64px-b8", func(b *testing.B) nfnet.Config {
			c, err := nfnet.Variant("f0")
			if err != nil {
				b.Fatal(err)
			}
			return c
		}, 8, 64, 64},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			l, err := nfnet.NewLayout(c.cfg(b))
			if err != nil {
				b.Fatal(err)
			}
			benchStep(b, l, c.n, c.h, c.w)
		})
	}
}

// fixtureConfig is the small_config.json model of the timm fixtures
// (the PyTorch calibration model).
func fixtureConfig(b *testing.B) nfnet.Config {
	cfg, err := nfnet.LoadConfig(fixtures.Path(b, "small_config.json"))
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

func benchStep(b *testing.B, l *nfnet.Layout, n, h, w int) {
	ctx := context.Background()
	dev.ResetPeak()
	base := dev.MemoryStats().LiveBytes
	r := train.NanoRecipe()
	r.AGCExclude = []string{"head.fc"}
	s, err := train.NewSession(ctx, l, train.SessionOptions{Kernels: lib, Profile: true,
		Train: nfnet.TrainOptions{Batch: n, Height: h, Width: w, LabelSmoothing: 0.1, Recipe: r.Recipe}})
	if err != nil {
		b.Fatal(err) // a missing kernel fails the benchmark, never skips it
	}
	defer s.Close()
	vals, err := nfnet.Init(s.Specs, 1)
	if err != nil {
		b.Fatal(err)
	}
	ps := map[string][]float32{}
	for i, sp := range s.Specs {
		ps[sp.Name] = vals[i]
	}
	if err := s.SetState(train.State{Params: ps}); err != nil {
		b.Fatal(err)
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
	step := func(i int) time.Duration {
		t0 := time.Now()
		if err := s.Submit(x, labels, hy, uint64(i)); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Wait(ctx); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0)
	}
	step(0) // warm-up
	var walls, gpus []time.Duration
	b.ResetTimer()
	for i := 0; i < max(b.N, 3); i++ {
		walls = append(walls, step(i+1))
		_, gpu, err := s.TrainProgram().Timings()
		if err != nil {
			b.Fatal(err)
		}
		gpus = append(gpus, gpu)
	}
	b.StopTimer()
	logBreakdown(b, s.TrainProgram())
	logSlowest(b, s.TrainProgram(), 12)
	slices.Sort(walls)
	slices.Sort(gpus)
	wall := walls[len(walls)/2]
	b.ReportMetric(float64(n)/wall.Seconds(), "images/s")
	b.ReportMetric(float64(gpus[len(gpus)/2].Microseconds())/1e3, "gpu_ms")
	b.ReportMetric(float64(dev.MemoryStats().PeakBytes-base)/(1<<20), "peak_MiB")
	b.ReportMetric(float64(s.TrainProgram().Len()), "dispatches")
}

// logSlowest logs the k slowest dispatches of the last run with their
// share of the step's GPU time: which layers a model's step spends on.
func logSlowest(b *testing.B, p *engine.Program, k int) {
	ts, total, err := p.Timings()
	if err != nil {
		b.Fatal(err)
	}
	ts = slices.Clone(ts)
	slices.SortFunc(ts, func(a, c engine.Timing) int { return int(c.Duration - a.Duration) })
	var sb strings.Builder
	fmt.Fprintf(&sb, "slowest of %d dispatches:", len(ts))
	for _, t := range ts[:min(k, len(ts))] {
		fmt.Fprintf(&sb, " %s %.2fms %.1f%%;", t.Label, float64(t.Duration.Microseconds())/1e3, 100*float64(t.Duration)/float64(total))
	}
	b.Log(sb.String())
}
