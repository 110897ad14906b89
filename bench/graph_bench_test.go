package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/gpu"
	"github.com/nfvk/nfvk/kernels/ref"
	"github.com/nfvk/nfvk/nfnet"
)

// A whole NFNet training step as a graph: BenchmarkMemoryPlan reports how
// much the memory plan saves, BenchmarkReplayHost what a replayed step
// costs the host.

// nfnetGraph is the training step of a network built from an nfnet
// layout: forward, label-smoothed cross-entropy, backward and SGD.
type nfnetGraph struct {
	g         *graph.Graph
	x, labels *graph.Tensor
	loss      *graph.Tensor
	params    []*graph.Tensor
}

// buildNFNet walks layout l (nfnet.NewLayout) for a batch of n px x px
// images. It lives here because graph must not import nfnet.
func buildNFNet(l *nfnet.Layout, n, px int, recomputeWS bool) (*nfnetGraph, error) {
	g := graph.New()
	g.SetRecomputeWS(recomputeWS)
	m := &nfnetGraph{g: g}
	var err error
	// t keeps the first error so the walk reads as a list of layers.
	t := func(v *graph.Tensor, e error) *graph.Tensor {
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	param := func(name string, shape graph.Shape) *graph.Tensor {
		p := t(g.Param(name, shape))
		if p != nil {
			m.params = append(m.params, p)
		}
		return p
	}
	var actKind ref.Act
	switch a := l.Act; {
	case a.Name == "gelu" && a.GeluApproximate:
		actKind = ref.ActGELUTanh
	case a.Name == "gelu":
		actKind = ref.ActGELUErf
	case a.Name == "relu":
		actKind = ref.ActReLU
	case a.Name == "silu":
		actKind = ref.ActSiLU
	default:
		return nil, fmt.Errorf("activation %q not supported", a.Name)
	}
	act := func(x *graph.Tensor) *graph.Tensor {
		if err != nil {
			return nil
		}
		return t(g.Act(x, actKind, l.Act.Gamma))
	}
	conv := func(c nfnet.Conv, x *graph.Tensor) *graph.Tensor {
		if err != nil {
			return nil
		}
		groups := max(c.Groups, 1)
		w := param(c.Weight, graph.Shape{c.Out, c.In / groups, c.Kernel, c.Kernel})
		gain := param(c.Gain, graph.Shape{c.Out})
		bias := param(c.Bias, graph.Shape{c.Out})
		var o graph.WSOpts
		switch {
		case c.WS.Mode == nfnet.StdConvTimm:
			o = graph.WSOpts{Formula: graph.WSTimm, Eps: c.WS.Eps, Gamma: c.WS.Gamma}
		case c.WS.Mode == nfnet.StdConvDeepMind && c.WS.Gamma == 1 && c.WS.Eps == ref.DeepMindWSMinNVar:
			o = graph.WSOpts{Formula: graph.WSDeepMind}
		default:
			err = fmt.Errorf("%s: weight standardization %+v not supported", c.Module, c.WS)
			return nil
		}
		what := t(g.WS(w, gain, o))
		sh := x.Shape()
		p := c.Padding(sh[2], sh[3])
		return t(g.Conv2D(x, what, bias, graph.ConvOpts{Stride: c.Stride, Groups: groups, Pad: [4]int{p.Top, p.Bottom, p.Left, p.Right}}))
	}
	linear := func(x *graph.Tensor, out int, wname, bname string) *graph.Tensor {
		if err != nil {
			return nil
		}
		in := x.Size() / x.Shape()[0]
		return t(g.Linear(x, param(wname, graph.Shape{out, in}), param(bname, graph.Shape{out})))
	}

	m.x = t(g.Input("x", graph.Shape{n, l.Config.InChans, px, px}))
	m.labels = t(g.Labels("labels", n))
	h := m.x
	for _, s := range l.Stem.Layers {
		h = conv(s.Conv, h)
		if s.ActAfter {
			h = act(h)
		}
	}
	if l.Stem.Pool != nil {
		return nil, errors.New("stem pool not supported")
	}
	for _, b := range l.Blocks {
		if err != nil {
			break
		}
		if b.Attn != nil || b.DropPathScaleByKeep {
			return nil, fmt.Errorf("%s: mid-block attention or timm's scaled drop path not supported", b.Module)
		}
		x := h
		pre := act(x)
		if b.Beta != 1 {
			pre = t(g.Scale(pre, b.Beta))
		}
		shortcut := x
		if d := b.Downsample; d != nil {
			s := pre
			if d.Pool != nil {
				if d.Pool.Kind != nfnet.AvgPool || d.Pool.Kernel != 2 || d.Pool.Stride != 2 {
					return nil, fmt.Errorf("%s: pool %+v not supported", b.Module, *d.Pool)
				}
				s = t(g.AvgPool2x2(s))
			}
			shortcut = conv(d.Conv, s)
		}
		r := conv(b.Conv1, pre)
		r = conv(b.Conv2, act(r))
		if b.Conv2b != nil {
			r = conv(*b.Conv2b, act(r))
		}
		r = conv(b.Conv3, act(r))
		if se := b.AttnLast; se != nil && err == nil {
			z := linear(t(g.GlobalMean(r)), se.Hidden, se.FC1Weight, se.FC1Bias)
			z = t(g.Act(z, ref.ActReLU, 1))
			z = linear(z, se.Channels, se.FC2Weight, se.FC2Bias)
			r = t(g.SEGate(r, z, se.Gain))
		}
		if b.DropPath > 0 {
			r = t(g.DropPath(r, b.DropPath))
		}
		var skip *graph.Tensor
		if b.SkipGain != "" {
			skip = param(b.SkipGain, graph.Shape{1})
		} else {
			skip = t(g.Constant(b.Module+".one", graph.Shape{1}, []float32{1}))
		}
		h = t(g.Residual(shortcut, r, skip, b.Alpha))
	}
	if l.FinalConv != nil {
		h = conv(*l.FinalConv, h)
	}
	h = act(h)
	h = t(g.GlobalMean(h))
	if l.Head.DropRate > 0 && err == nil {
		h = t(g.Dropout(h, l.Head.DropRate))
	}
	logits := linear(h, l.Head.Classes, l.Head.Weight, l.Head.Bias)
	m.loss = t(g.SoftmaxCE(logits, m.labels, 0.1))
	if err != nil {
		return nil, err
	}
	g.Keep(m.loss)
	grads, err := g.Gradients(m.loss, m.params)
	if err != nil {
		return nil, err
	}
	if err := g.SGD(m.params, grads, 0.1); err != nil {
		return nil, err
	}
	return m, nil
}

func f0Graph(b *testing.B, n, px int, recomputeWS bool) *nfnetGraph {
	b.Helper()
	cfg, err := nfnet.Variant("f0")
	if err != nil {
		b.Fatal(err)
	}
	l, err := nfnet.NewLayout(cfg)
	if err != nil {
		b.Fatal(err)
	}
	m, err := buildNFNet(l, n, px, recomputeWS)
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkMemoryPlan plans the F0 training step at batch 8, 64x64 and
// reports planned peak / naive sum of activation and temporary sizes
// (plan_ratio), the peak itself (peak_MiB), and the planning time; by
// default the conv backward recomputes the standardized weights (whose
// copies count in the naive sum), keep-ws reuses the forward's.
func BenchmarkMemoryPlan(b *testing.B) {
	for _, c := range []struct {
		name        string
		recomputeWS bool
	}{
		{"f0-64px-b8", true},          // the default
		{"f0-64px-b8-keep-ws", false}, // forward's standardized weights kept for the backward
	} {
		b.Run(c.name, func(b *testing.B) {
			m := f0Graph(b, 8, 64, c.recomputeWS)
			align := max(int64(dev.Info().MinStorageBufferOffsetAlignment), 16)
			var p *graph.Plan
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				var err error
				if p, err = graph.PlanMemory(m.g, graph.PlanOptions{Align: align, Backend: gpu.PlanBackend(lib)}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(p.Ratio(), "plan_ratio")
			b.ReportMetric(float64(p.PeakBytes)/(1<<20), "peak_MiB")
			b.ReportMetric(float64(p.NaiveBytes)/(1<<20), "naive_MiB")
			b.ReportMetric(float64(p.PersistentBytes)/(1<<20), "persistent_MiB")
			b.ReportMetric(float64(len(m.g.Nodes())), "nodes")
		})
	}
}

// BenchmarkReplayHost replays the compiled F0 training step and reports
// the host time per step, everything but GPU execution: host_us/step is
// the step's wall time (upload, submit, wait) minus the GPU time between
// its first and last timestamps, so it also counts the driver's queue and
// wake-up latency (larger on a loaded CPU device). submit_us is the wall
// time of upload + submit; submit_cpu_us and wait_cpu_us the CPU time the
// stepping thread spends in them (the device's threads, lavapipe's
// included, are not counted; Wait polls every 50 ms for cancellation, so
// its CPU time grows with the step's length).
func BenchmarkReplayHost(b *testing.B) {
	b.Run("f0-64px-b8", func(b *testing.B) {
		const n, px = 8, 64
		m := f0Graph(b, n, px, true)
		ctx := context.Background()
		x, err := gpu.Compile(ctx, lib, m.g, gpu.Options{Profile: true})
		if err != nil {
			b.Fatal(err) // a missing kernel fails the benchmark, never skips it
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
				b.Fatal(err)
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
			b.Fatal(err)
		}
		// One OS thread does the whole step, so its CPU time is the
		// host's work.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var wallGPU, submit, submitCPU, waitCPU []time.Duration
		b.ResetTimer()
		for i := 0; i < max(b.N, 3); i++ {
			c0, t0 := threadCPU(b), time.Now()
			if err := x.Submit(uint64(i), feeds); err != nil {
				b.Fatal(err)
			}
			c1, t1 := threadCPU(b), time.Now()
			if err := x.Wait(ctx); err != nil {
				b.Fatal(err)
			}
			c2, wall := threadCPU(b), time.Since(t0)
			_, gpu, err := x.Program().Timings()
			if err != nil {
				b.Fatal(err)
			}
			wallGPU = append(wallGPU, wall-gpu)
			submit = append(submit, t1.Sub(t0))
			submitCPU = append(submitCPU, c1-c0)
			waitCPU = append(waitCPU, c2-c1)
		}
		b.StopTimer()
		logBreakdown(b, x.Program())
		median := func(d []time.Duration) float64 {
			slices.Sort(d)
			return float64(d[len(d)/2].Microseconds())
		}
		b.ReportMetric(median(wallGPU), "host_us/step")
		b.ReportMetric(median(submit), "submit_us")
		b.ReportMetric(median(submitCPU), "submit_cpu_us")
		b.ReportMetric(median(waitCPU), "wait_cpu_us")
		b.ReportMetric(float64(x.Program().Len()), "dispatches")
		b.ReportMetric(float64(x.Program().Segments()), "submits")
	})
}

// logBreakdown logs the GPU time of the last run by kind of dispatch.
func logBreakdown(b *testing.B, p *engine.Program) { b.Log(Breakdown(p)) }

// BenchmarkGraphFusion times the passes the graph fuses away, on an F0
// stage-1 activation at 64 px, batch 8 ([8, 256, 16, 16]): the block
// input act(x)*beta as an activation then a scale, or one activation
// with gamma*beta; a gradient accumulation a+b as a copy then an axpby,
// or one in-place axpby.
func BenchmarkGraphFusion(b *testing.B) {
	const n = 8 * 256 * 16 * 16
	const gamma, beta = ref.GammaGELU, 0.98
	cases := []struct {
		name  string
		build func(p *engine.Program, x, y, z *engine.Buffer) error
	}{
		{"act-scale/separate", func(p *engine.Program, x, y, _ *engine.Buffer) error {
			if err := lib.Activation(p, ref.ActGELUTanh, gamma, x.Span(), y.Span()); err != nil {
				return err
			}
			return lib.Scale(p, beta, y.Span(), y.Span())
		}},
		{"act-scale/fused", func(p *engine.Program, x, y, _ *engine.Buffer) error {
			return lib.Activation(p, ref.ActGELUTanh, gamma*beta, x.Span(), y.Span())
		}},
		{"grad-accumulate/copy-axpby", func(p *engine.Program, x, y, z *engine.Buffer) error {
			if err := lib.Copy(p, z.Span(), x.Span()); err != nil {
				return err
			}
			return lib.Axpby(p, 1, y.Span(), 1, z.Span())
		}},
		{"grad-accumulate/in-place", func(p *engine.Program, x, y, _ *engine.Buffer) error {
			return lib.Axpby(p, 1, y.Span(), 1, x.Span())
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			x, y, z := buffer(b, "x", n), buffer(b, "y", n), buffer(b, "z", n)
			p := program(b, c.name, func(p *engine.Program) error { return c.build(p, x, y, z) })
			b.ReportMetric(float64(gpuTime(b, p).Microseconds()), "gpu_us")
		})
	}
}

// threadCPU is the CPU time the calling OS thread has used.
func threadCPU(b *testing.B) time.Duration {
	const rusageThread = 1 // RUSAGE_THREAD (Linux), which package syscall does not name
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLinearLowering times the three passes of a linear layer
// (forward without bias, backward data, backward weight) on the 1x1-conv
// kernels and on GEMM, for NFNet-F0's linears at batch 8: the head
// (3072 -> 1000) and the widest SE (1536 -> 768). graph lowers each pass
// to the faster.
func BenchmarkLinearLowering(b *testing.B) {
	for _, sh := range []struct {
		name       string
		n, in, out int
	}{{"head", 8, 3072, 1000}, {"se1536", 8, 1536, 768}} {
		conv := ref.Conv2DShape{N: sh.n, C: sh.in, H: 1, W: 1, O: sh.out, KH: 1, KW: 1, StrideH: 1, StrideW: 1, Groups: 1}
		for _, c := range []struct {
			name  string
			build func(p *engine.Program, x, w, y *engine.Buffer) error
		}{
			{"forward/conv1x1", func(p *engine.Program, x, w, y *engine.Buffer) error {
				return lib.Conv2D(p, conv, x.Span(), w.Span(), engine.Span{}, y.Span())
			}},
			{"forward/gemm", func(p *engine.Program, x, w, y *engine.Buffer) error {
				return lib.GEMM(p, ref.GEMMShape{M: sh.n, N: sh.out, K: sh.in, TransB: true}, 1, x.Span(), w.Span(), 0, y.Span())
			}},
			{"data/conv1x1", func(p *engine.Program, x, w, y *engine.Buffer) error {
				return lib.Conv2DBackwardData(p, conv, y.Span(), w.Span(), x.Span())
			}},
			{"data/gemm", func(p *engine.Program, x, w, y *engine.Buffer) error {
				return lib.GEMM(p, ref.GEMMShape{M: sh.n, N: sh.in, K: sh.out}, 1, y.Span(), w.Span(), 0, x.Span())
			}},
			{"weight/conv1x1", func(p *engine.Program, x, w, y *engine.Buffer) error {
				return lib.Conv2DBackwardFilter(p, conv, x.Span(), y.Span(), w.Span())
			}},
			{"weight/gemm", func(p *engine.Program, x, w, y *engine.Buffer) error {
				return lib.GEMM(p, ref.GEMMShape{M: sh.out, N: sh.in, K: sh.n, TransA: true}, 1, y.Span(), x.Span(), 0, w.Span())
			}},
		} {
			b.Run(sh.name+"/"+c.name, func(b *testing.B) {
				x, w, y := buffer(b, "x", sh.n*sh.in), buffer(b, "w", sh.out*sh.in), buffer(b, "y", sh.n*sh.out)
				p := program(b, c.name, func(p *engine.Program) error { return c.build(p, x, w, y) })
				reportGFLOPs(b, 2*float64(sh.n*sh.in*sh.out), gpuTime(b, p))
			})
		}
	}
}
