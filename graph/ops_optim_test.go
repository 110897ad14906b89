package graph_test

import (
	"context"
	"slices"
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/graphtest"
)

// optimCase is a tiny graph with a known gradient: loss = sum(p * r) per
// parameter, so each gradient is exactly its r, updated by the
// Optimizer and averaged by the EMA.
type optimCase struct {
	g                     *graph.Graph
	hyper                 *graph.Tensor
	params, grads, avgs   []*graph.Tensor
	targets               []graph.OptimTarget
	init, r               [][]float32
	fileShapes            map[string][]int
	weightDecay, excluded []string
}

func newOptimCase(t *testing.T, rule agc.UnitRule) *optimCase {
	c := &optimCase{g: graph.New(), fileShapes: map[string][]int{"gain": {6, 1, 1, 1}}}
	b := &graphtest.Builder{G: c.g, Init: map[*graph.Tensor][]float32{}}
	var terms []*graph.Tensor
	for i, s := range []graph.Shape{{6, 2, 3, 3}, {6}, {1}, {3, 6}} {
		p := b.Param([]string{"conv.w", "gain", "skip_gain", "head.w"}[i], s, float64(i%2), 0.5)
		// Gradients of several times each unit's parameter norm, so that
		// AGC clips most units.
		r := graphtest.Randn(uint64(40+i), s.Size(), 3)
		rc := b.T(c.g.Constant("r/"+p.Name(), s, r))
		terms = append(terms, b.T(c.g.Sum(b.T(c.g.Mul(p, rc)))))
		c.init, c.r = append(c.init, b.Init[p]), append(c.r, r)
	}
	loss := terms[0]
	for _, tt := range terms[1:] {
		loss = b.T(c.g.Add(loss, tt))
	}
	graphtest.Must(t, b.Err)
	c.params = b.Params
	var err error
	c.grads, err = c.g.Gradients(loss, c.params)
	graphtest.Must(t, err)
	c.hyper, err = c.g.Input("hyper", graph.Shape{agc.HyperWords})
	graphtest.Must(t, err)
	c.targets = graphtest.Targets(t, c.g, c.params, c.grads, c.fileShapes)
	graphtest.Must(t, c.g.Optimizer(c.hyper, rule, c.targets))
	c.avgs, _, _ = graphtest.AddEMA(t, c.g, c.hyper, c.params, graphtest.EMAMirrored)
	for _, tg := range c.targets {
		if tg.WeightDecay {
			c.weightDecay = append(c.weightDecay, tg.Param.Name())
		}
		if !tg.Clip {
			c.excluded = append(c.excluded, tg.Param.Name())
		}
	}
	return c
}

// f32 is v as the float32 the step values hold.
func f32(v float64) float64 { return float64(float32(v)) }

// TestOptimizerCPU: the Optimizer and EMA ops on the CPU executors match
// agc.SGD and agc.EMAUpdate run on the host, configured independently of
// the op (the step values rounded to float32 as the encoding stores
// them, the head excluded from AGC by name, weight decay by tensor, the
// gain clipped in its file shape): bit for bit in float32; the float64
// executor rounds the update through float32 (bit for bit too) and
// averages in float64 (within 1e-6 of the
// largest average). The gradients stay
// untouched: AGC clips a copy, as the GPU kernel keeps the clipped
// gradient in registers.
func TestOptimizerCPU(t *testing.T) {
	const steps = 3
	for _, tc := range []struct {
		name string
		rule agc.UnitRule
		h    agc.Hyper
	}{
		{"deepmind-nesterov", agc.DeepMind, agc.Hyper{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 0.01, Lambda: 0.05, EMADecay: 0.9}},
		{"timm-heavy-ball", agc.Timm, agc.Hyper{LR: 0.3, Momentum: 0.5, WeightDecay: 0.1, Lambda: 0.02, Eps: 0.01, EMADecay: 0.5}},
		{"no-momentum-no-agc", agc.Timm, agc.Hyper{LR: 0.05, WeightDecay: 0.2, EMADecay: 0.99}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newOptimCase(t, tc.rule)
			hv, err := tc.h.Values()
			graphtest.Must(t, err)
			c32, c64 := graph.NewCPU[float32](c.g), graph.NewCPU[float64](c.g)
			for i, p := range c.params {
				graphtest.Must(t, c32.Set(p, c.init[i]))
				graphtest.Must(t, c64.Set(p, graphtest.To64(c.init[i])))
			}
			// The host's reference, from the same values.
			sgd := agc.SGD{LR: f32(tc.h.LR), Momentum: f32(tc.h.Momentum), Nesterov: tc.h.Nesterov, WeightDecay: f32(tc.h.WeightDecay), Exclude: c.excluded}
			if tc.h.Lambda > 0 {
				sgd.Clip = &agc.Clipper{Lambda: f32(tc.h.Lambda), Eps: f32(max(tc.h.Eps, agc.DefaultEps)), Rule: tc.rule}
			}
			decay := 1 - f32(1-tc.h.EMADecay)
			ps := make([]agc.Param, len(c.params))
			avgs := make([][]float32, len(c.params))
			for i, p := range c.params {
				shape := []int(p.Shape())
				if s, ok := c.fileShapes[p.Name()]; ok {
					shape = s
				}
				ps[i] = agc.Param{Name: p.Name(), Shape: shape, Value: slices.Clone(c.init[i]), Momentum: make([]float32, p.Size()),
					WeightDecay: slices.Contains(c.weightDecay, p.Name())}
				avgs[i] = make([]float32, p.Size())
			}
			for range steps {
				graphtest.Must(t, c32.Run(context.Background(), 0, map[*graph.Tensor][]float32{c.hyper: hv}))
				graphtest.Must(t, c64.Run(context.Background(), 0, map[*graph.Tensor][]float64{c.hyper: graphtest.To64(hv)}))
				for i := range ps {
					ps[i].Grad = slices.Clone(c.r[i])
				}
				_, err := sgd.Step(ps)
				graphtest.Must(t, err)
				for i := range ps {
					graphtest.Must(t, agc.EMAUpdate(avgs[i], ps[i].Value, decay))
				}
			}
			for i, p := range c.params {
				graphtest.AssertClose(t, p.Name(), c32.Value(p), ps[i].Value, 0, 0)
				graphtest.AssertClose(t, "momentum of "+p.Name(), c32.Value(c.targets[i].Momentum), ps[i].Momentum, 0, 0)
				graphtest.AssertClose(t, "gradient of "+p.Name(), c32.Value(c.grads[i]), c.r[i], 0, 0)
				graphtest.AssertClose(t, "average of "+p.Name(), c32.Value(c.avgs[i]), avgs[i], 0, 0)
				graphtest.AssertClose(t, "float64 "+p.Name(), to32(c64.Value(p)), ps[i].Value, 0, 0)
				graphtest.AssertClose(t, "float64 average of "+p.Name(), to32(c64.Value(c.avgs[i])), avgs[i], 1e-6*graphtest.MaxAbs(avgs[i]), 0)
			}
		})
	}
}

func to32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// TestOptimizerMoves guards TestOptimizerCPU against comparing updates
// that do nothing: AGC clips, weight decay and momentum change the result.
func TestOptimizerMoves(t *testing.T) {
	base := agc.Hyper{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 0.01, Lambda: 0.05}
	run := func(h agc.Hyper) [][]float32 {
		c := newOptimCase(t, agc.Timm)
		hv, err := h.Values()
		graphtest.Must(t, err)
		cpu := graph.NewCPU[float32](c.g)
		for i, p := range c.params {
			graphtest.Must(t, cpu.Set(p, c.init[i]))
		}
		for range 2 {
			graphtest.Must(t, cpu.Run(context.Background(), 0, map[*graph.Tensor][]float32{c.hyper: hv}))
		}
		var out [][]float32
		for _, p := range c.params {
			out = append(out, slices.Clone(cpu.Value(p)))
		}
		return out
	}
	want := run(base)
	for _, tc := range []struct {
		name  string
		h     agc.Hyper
		moved []bool // by parameter: conv.w, gain, skip_gain, head.w
	}{
		{"no agc", agc.Hyper{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 0.01}, []bool{true, true, true, false}},
		{"no weight decay", agc.Hyper{LR: 0.1, Momentum: 0.9, Nesterov: true, Lambda: 0.05}, []bool{true, false, false, false}},
		{"heavy ball", agc.Hyper{LR: 0.1, Momentum: 0.9, WeightDecay: 0.01, Lambda: 0.05}, []bool{true, true, true, true}},
	} {
		got := run(tc.h)
		for i := range got {
			if d := graphtest.MaxDiff(got[i], want[i]); (d > 1e-6) != tc.moved[i] {
				t.Errorf("%s: parameter %d moved by %g, want a change %v", tc.name, i, d, tc.moved[i])
			}
		}
	}
}

// TestOptimizerEMAErrors: the Optimizer and EMA check their operands
// when added and name the tensor at fault.
func TestOptimizerEMAErrors(t *testing.T) {
	g := graph.New()
	b := &graphtest.Builder{G: g}
	hyper := b.T(g.Input("hyper", graph.Shape{agc.HyperWords}))
	short := b.T(g.Input("short", graph.Shape{3}))
	w := b.T(g.Param("w", graph.Shape{2, 3}))
	x := b.T(g.Input("x", graph.Shape{2, 3}))
	gw := b.T(g.Input("gw", graph.Shape{2, 3}))
	gt := b.T(g.Input("gt", graph.Shape{3, 2}))
	m := b.T(g.State("m", graph.Shape{2, 3}))
	a := b.T(g.Average("a", graph.Shape{2, 3}))
	a2 := b.T(g.Average("a2", graph.Shape{3, 2}))
	graphtest.Must(t, b.Err)
	target := graph.OptimTarget{Param: w, Grad: gw, Momentum: m}
	with := func(f func(*graph.OptimTarget)) []graph.OptimTarget {
		tg := target
		f(&tg)
		return []graph.OptimTarget{tg}
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"step values", g.Optimizer(short, agc.Timm, []graph.OptimTarget{target}), "graph: optimizer: step values short[3] must be 8 f32 values of this graph"},
		{"no momentum", g.Optimizer(hyper, agc.Timm, with(func(o *graph.OptimTarget) { o.Momentum = nil })), "graph: optimizer: w[2 3]: parameter, gradient and momentum are all needed"},
		{"not a parameter", g.Optimizer(hyper, agc.Timm, with(func(o *graph.OptimTarget) { o.Param = x })),
			"graph: optimizer: x[2 3]: want a parameter (is a input), a persistent gradient and optimizer state (is a optimizer state)"},
		{"twice", g.Optimizer(hyper, agc.Timm, []graph.OptimTarget{target, target}), "graph: optimizer: w[2 3] given twice"},
		{"file shape", g.Optimizer(hyper, agc.Timm, with(func(o *graph.OptimTarget) { o.Shape = []int{7} })), "graph: optimizer: w[2 3]: file shape [7] has another element count"},
		{"unit rule", g.Optimizer(hyper, 0, with(func(o *graph.OptimTarget) { o.Clip = true })), "graph: optimizer: w[2 3]: agc: unknown unit rule 0"},
		{"gradient shape", g.Optimizer(hyper, agc.Timm, with(func(o *graph.OptimTarget) { o.Grad = gt })),
			"graph: optimizer(hyper[8], w[2 3], gt[3 2], m[2 3]): w gradient: shapes [2 3] and [3 2] differ"},
		{"ema step values", g.EMA(short, []*graph.Tensor{a}, []*graph.Tensor{w}), "graph: ema: step values short[3] must be 8 f32 values of this graph"},
		{"ema pairs", g.EMA(hyper, []*graph.Tensor{a}, nil), "graph: ema: 1 averages for 0 parameters"},
		{"ema roles", g.EMA(hyper, []*graph.Tensor{m}, []*graph.Tensor{w}), "graph: ema: pair 0 (m[2 3], w[2 3]): want an average and a parameter"},
		{"ema shapes", g.EMA(hyper, []*graph.Tensor{a2}, []*graph.Tensor{w}), "graph: ema(hyper[8], a2[3 2], w[2 3]): shapes [3 2] and [2 3] differ"},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("%s: got %v\nwant %s", tc.name, tc.err, tc.want)
		}
	}
	if n := len(g.Nodes()); n != 0 {
		t.Errorf("%d nodes added by failing calls", n)
	}
}
