package graph_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/graphtest"
	"github.com/nfvk/nfvk/kernels/ref"
)

// lowerNet is a forward graph whose every live op lowers to one Backend
// call (besides the EMA pairs), with two dead nodes (the activation a
// Scale folded and the drop path Residual fused), followed by the
// Optimizer over its parameters (gradients fed as inputs) and the EMA.
type lowerNet struct {
	g                *graph.Graph
	hyper            *graph.Tensor
	rule             agc.UnitRule
	targets          []graph.OptimTarget
	avgs, averaged   []*graph.Tensor
	fileShapes       map[string][]int
	deadOps, liveOps []string
}

func newLowerNet(t *testing.T, layout graphtest.EMALayout) *lowerNet {
	b := graphtest.NewBuilder()
	g := b.G
	x := b.T(g.Input("x", graph.Shape{2, 4, 8, 8}))
	labels := b.T(g.Labels("labels", 2))
	w := b.Param("c.w", graph.Shape{8, 4, 3, 3}, 0, 1)
	gain := b.Param("c.gain", graph.Shape{8}, 1, 0.1)
	bias := b.Param("c.b", graph.Shape{8}, 0, 0.1)
	c := b.T(g.Conv2D(x, b.T(g.WS(w, gain, graph.WSOpts{})), bias, graph.ConvOpts{Same: true}))
	h := b.T(g.Act(c, ref.ActGELUTanh, ref.GammaGELU))
	h = b.T(g.Scale(h, 0.5)) // a new activation: the first is dead
	h = b.T(g.Dropout(h, 0.1))
	h = b.T(g.DropPath(h, 0.2)) // the application is fused: dead
	skip := b.Param("skip_gain", graph.Shape{1}, 0.5, 0)
	r := b.T(g.Residual(c, h, skip, 0.2))
	pooled := b.T(g.AvgPool2x2(r))
	m := b.T(g.Scale(b.T(g.GlobalMean(pooled)), 2))
	logits := b.T(g.Linear(m, b.Param("head.w", graph.Shape{3, 8}, 0, 0.3), nil))
	loss := b.T(g.SoftmaxCE(logits, labels, 0.1))
	correct := b.T(g.Top1Correct(logits, labels))
	sum := b.T(g.Sum(logits))
	mean := b.T(g.Mean(pooled))
	graphtest.Must(t, b.Err)
	g.Keep(loss, correct, sum, mean)
	grads := make([]*graph.Tensor, len(b.Params))
	for i, p := range b.Params {
		grads[i] = b.T(g.Input("grad/"+p.Name(), p.Shape()))
	}
	graphtest.Must(t, b.Err)
	n := &lowerNet{g: g, rule: agc.Timm, fileShapes: map[string][]int{"c.gain": {8, 1, 1, 1}}}
	n.hyper = b.T(g.Input("hyper", graph.Shape{agc.HyperWords}))
	graphtest.Must(t, b.Err)
	n.targets = graphtest.Targets(t, g, b.Params, grads, n.fileShapes)
	graphtest.Must(t, g.Optimizer(n.hyper, n.rule, n.targets))
	n.avgs, n.averaged, _ = graphtest.AddEMA(t, g, n.hyper, b.Params, layout)
	n.deadOps = []string{"act gelu_tanh", "drop path"}
	n.liveOps = []string{"ws", "conv2d", "act gelu_tanh", "dropout", "drop path mask", "residual", "avgpool2x2",
		"global mean", "scale", "linear", "softmax cross-entropy", "top-1 correct", "sum", "mean", "optimizer", "ema"}
	return n
}

// method is the Backend method the op lowers to.
func method(op string) string {
	if strings.HasPrefix(op, "act ") {
		return "Activation"
	}
	return map[string]string{
		"ws": "WS", "conv2d": "Conv2D", "dropout": "Dropout", "drop path mask": "DropPathMask", "residual": "Residual",
		"avgpool2x2": "AvgPool2D", "global mean": "GlobalAvgPool", "scale": "Scale", "linear": "GEMM",
		"softmax cross-entropy": "SoftmaxCrossEntropy", "top-1 correct": "SoftmaxCrossEntropy", "sum": "Sum",
		"mean": "Mean", "optimizer": "OptimizerStep", "ema": "EMAUpdate",
	}[op]
}

// TestLowerCallsBackendInOrder: Lower records one Backend call per live
// node, in execution order, skipping dead nodes, with the plan's memory
// of the node's tensors as operands (and the plan's seed for random
// ops), every operand inside its planned buffer; the Optimizer passes
// each target's memory, file shape, units and flags; the EMA is one call
// over both pools when the averages mirror the parameters and one call
// per pair otherwise (a pass over the whole pool would also average the
// parameters the EMA leaves out).
func TestLowerCallsBackendInOrder(t *testing.T) {
	for _, tc := range []struct {
		layout   graphtest.EMALayout
		emaCalls int // by the number of pairs
	}{
		{graphtest.EMAMirrored, 1},
		{graphtest.EMAReversed, -1},
		{graphtest.EMAEveryOther, -1},
	} {
		t.Run(tc.layout.String(), func(t *testing.T) {
			net := newLowerNet(t, tc.layout)
			rec := &recorder{}
			p, err := graph.PlanMemory(net.g, graph.PlanOptions{Align: 64, Backend: rec})
			graphtest.Must(t, err)
			graphtest.Must(t, graph.Lower(net.g, p, rec))
			var live, dead []string
			calls := rec.calls
			for _, n := range net.g.Nodes() {
				if !p.Run[n.ID()] {
					dead = append(dead, n.Op())
					continue
				}
				live = append(live, n.Op())
				k := 1
				if n.Op() == "ema" && tc.emaCalls < 0 {
					k = len(net.avgs)
				}
				if len(calls) < k {
					t.Fatalf("node %d %v: %d calls left, want %d", n.ID(), n, len(calls), k)
				}
				for _, c := range calls[:k] {
					checkCall(t, net, p, n, c, k == 1)
				}
				calls = calls[k:]
			}
			if len(calls) > 0 {
				t.Errorf("%d calls after the last live node, first %s", len(calls), calls[0].method)
			}
			if !slices.Equal(live, net.liveOps) || !slices.Equal(dead, net.deadOps) {
				t.Errorf("lowered %q, skipped %q; want %q, %q", live, dead, net.liveOps, net.deadOps)
			}
		})
	}
}

// checkCall checks one call of node n; whole says it is the node's only
// call (an EMA pair's call has only that pair's tensors).
func checkCall(t *testing.T, net *lowerNet, p *graph.Plan, n *graph.Node, c call, whole bool) {
	t.Helper()
	if want := method(n.Op()); c.method != want {
		t.Fatalf("node %d %v: called %s, want %s", n.ID(), n, c.method, want)
	}
	for i, m := range c.mems {
		if !m.Absent() && (m.Buf < 0 || m.Buf >= len(p.Buffers) || m.Off < 0 || m.Off+m.Size > p.Buffers[m.Buf].Size) {
			t.Errorf("%s of node %d: operand %d %+v is outside the planned buffers", c.method, n.ID(), i, m)
		}
	}
	switch n.Op() {
	case "dropout", "drop path mask":
		if c.mems[0] != p.Seed {
			t.Errorf("%s: seed %+v, want the plan's %+v", c.method, c.mems[0], p.Seed)
		}
	case "optimizer":
		checkOptim(t, net, p, c)
	case "ema":
		if whole {
			checkMirroredEMA(t, net, p, c)
			return
		}
		pair := slices.Index(net.avgs, tensorAt(net.g, p, c.mems[0]))
		if pair < 0 || c.mems[1] != p.Mem[net.averaged[pair].ID()] || c.mems[2] != p.Mem[net.hyper.ID()] {
			t.Errorf("ema call %+v is not an (average, parameter, step values) pair of the op", c.mems)
		}
		return
	}
	for _, tt := range append(slices.Clone(n.Inputs()), n.Outputs()...) {
		if tt != nil && !slices.Contains(c.mems, p.Mem[tt.ID()]) {
			t.Errorf("%s of node %d %v: %v's memory %+v is not an operand (%+v)", c.method, n.ID(), n, tt, p.Mem[tt.ID()], c.mems)
		}
	}
}

// tensorAt is the tensor planned at m, or nil.
func tensorAt(g *graph.Graph, p *graph.Plan, m graph.Mem) *graph.Tensor {
	for _, t := range g.Tensors() {
		if p.Mem[t.ID()] == m {
			return t
		}
	}
	return nil
}

func checkOptim(t *testing.T, net *lowerNet, p *graph.Plan, c call) {
	t.Helper()
	if c.mems[0] != p.Mem[net.hyper.ID()] || len(c.optim) != len(net.targets) {
		t.Fatalf("optimizer: step values %+v and %d tensors, want %+v and %d", c.mems[0], len(c.optim), p.Mem[net.hyper.ID()], len(net.targets))
	}
	for i, got := range c.optim {
		tg := net.targets[i]
		shape := []int(tg.Param.Shape())
		if s, ok := net.fileShapes[tg.Param.Name()]; ok {
			shape = s
		}
		units := 0
		if tg.Clip {
			var err error
			units, _, err = agc.Units(shape, net.rule)
			graphtest.Must(t, err)
		}
		want := graph.OptimTensor{Name: tg.Param.Name(), Shape: shape, Param: p.Mem[tg.Param.ID()], Grad: p.Mem[tg.Grad.ID()],
			Momentum: p.Mem[tg.Momentum.ID()], WeightDecay: tg.WeightDecay, AGC: tg.Clip, Units: units}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("optimizer tensor %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
}

// checkMirroredEMA: one call over the parameters' whole extent in both
// pools, which have the same layout.
func checkMirroredEMA(t *testing.T, net *lowerNet, p *graph.Plan, c call) {
	t.Helper()
	extent := func(ts []*graph.Tensor) graph.Mem {
		m := graph.Mem{Buf: p.Mem[ts[0].ID()].Buf, Off: p.Mem[ts[0].ID()].Off}
		for _, tt := range ts {
			mt := p.Mem[tt.ID()]
			m.Off = min(m.Off, mt.Off)
			m.Size = max(m.Size, mt.Off+mt.Size)
		}
		m.Size -= m.Off
		return m
	}
	want := []graph.Mem{extent(net.avgs), extent(net.averaged), p.Mem[net.hyper.ID()]}
	if !slices.Equal(c.mems, want) {
		t.Errorf("mirrored ema: %+v, want %+v", c.mems, want)
	}
}

// TestLowerNoKernel: ops without a GPU kernel fail Lower with an error
// naming each of them once, in order of appearance, wrapping
// ErrNoKernel; nothing falls back to the CPU, and the other nodes are
// still lowered, so one error names every missing kernel.
func TestLowerNoKernel(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(g *graph.Graph, b *graphtest.Builder) []*graph.Tensor
		want  string
	}{
		{"one", func(g *graph.Graph, b *graphtest.Builder) []*graph.Tensor {
			a := b.T(g.Input("a", graph.Shape{4}))
			return []*graph.Tensor{b.T(g.Mul(a, a))}
		}, "graph: op mul has no GPU kernel yet"},
		{"several", func(g *graph.Graph, b *graphtest.Builder) []*graph.Tensor {
			x := b.T(g.Input("x", graph.Shape{2, 1, 2, 2}))
			y := b.T(g.Mul(x, x))
			y = b.T(g.DropPath(y, 0.5)) // unfused: its output is kept
			y = b.T(g.Act(y, ref.ActReLU, 1))
			return []*graph.Tensor{b.T(g.Mul(y, x))}
		}, "graph: ops mul, drop path have no GPU kernel yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := graphtest.NewBuilder()
			keep := tc.build(b.G, b)
			graphtest.Must(t, b.Err)
			b.G.Keep(keep...)
			rec := &recorder{}
			p, err := graph.PlanMemory(b.G, graph.PlanOptions{Backend: rec})
			graphtest.Must(t, err)
			err = graph.Lower(b.G, p, rec)
			if !errors.Is(err, graph.ErrNoKernel) || err.Error() != tc.want {
				t.Fatalf("Lower = %v, want %s", err, tc.want)
			}
			if tc.name == "several" && !slices.ContainsFunc(rec.calls, func(c call) bool { return c.method == "Activation" }) {
				t.Error("the activation after the missing kernels was not lowered")
			}
		})
	}
}

// TestLowerBackendError: a Backend error stops Lower at that node and
// comes back wrapped, naming the node.
func TestLowerBackendError(t *testing.T) {
	net := newLowerNet(t, graphtest.EMAMirrored)
	boom := errors.New("out of descriptor sets")
	rec := &recorder{fail: map[string]error{"Residual": boom}}
	p, err := graph.PlanMemory(net.g, graph.PlanOptions{Backend: rec})
	graphtest.Must(t, err)
	err = graph.Lower(net.g, p, rec)
	var res *graph.Node
	for _, n := range net.g.Nodes() {
		if n.Op() == "residual" {
			res = n
		}
	}
	want := fmt.Sprintf("graph: lower node %d %v: %v", res.ID(), res, boom)
	if !errors.Is(err, boom) || err.Error() != want {
		t.Fatalf("Lower = %v, want %s", err, want)
	}
	if last := rec.calls[len(rec.calls)-1].method; last != "Residual" {
		t.Errorf("last call %s, want Lower to stop at the failing Residual", last)
	}
}
