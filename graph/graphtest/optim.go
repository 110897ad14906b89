package graphtest

import (
	"strings"
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/graph"
)

// EMALayout chooses how AddEMA creates the weight averages.
type EMALayout int

const (
	// NoEMA adds no averages.
	NoEMA EMALayout = iota
	// EMAMirrored adds one average per parameter in the parameters'
	// order, so the average pool mirrors the parameter pool: one pass.
	EMAMirrored
	// EMAReversed adds them in reverse order: a pool of the same size
	// laid out differently, updated pair by pair.
	EMAReversed
	// EMAEveryOther adds one average per parameter in order but averages
	// only every other parameter: the others (idle) must stay untouched.
	EMAEveryOther
)

func (l EMALayout) String() string {
	return [...]string{"none", "mirrored", "reversed", "every-other"}[l]
}

// Targets adds a momentum State per parameter and returns the
// Optimizer's targets with NFNet's policy: weight decay on the weights
// (".w") outside the head, AGC on everything but the head (as timm
// excludes the classifier). fileShapes gives parameters, by name, a file
// shape other than their graph shape (it decides their AGC units).
func Targets(t testing.TB, g *graph.Graph, params, grads []*graph.Tensor, fileShapes map[string][]int) []graph.OptimTarget {
	t.Helper()
	ts := make([]graph.OptimTarget, len(params))
	for i, p := range params {
		m, err := g.State("momentum/"+p.Name(), p.Shape())
		Must(t, err)
		head := strings.HasPrefix(p.Name(), "head.")
		ts[i] = graph.OptimTarget{Param: p, Grad: grads[i], Momentum: m, Shape: fileShapes[p.Name()],
			WeightDecay: strings.HasSuffix(p.Name(), ".w") && !head, Clip: !head}
	}
	return ts
}

// AddEMA adds the averages of params in layout l and the EMA op over
// them, reading its decay from hyper; it returns the EMA's pairs
// (averages and their parameters, in its order) and the averages it
// leaves alone.
func AddEMA(t testing.TB, g *graph.Graph, hyper *graph.Tensor, params []*graph.Tensor, l EMALayout) (avgs, averaged, idle []*graph.Tensor) {
	t.Helper()
	if l == NoEMA {
		return nil, nil, nil
	}
	all := make([]*graph.Tensor, len(params))
	for j := range params {
		i := j
		if l == EMAReversed {
			i = len(params) - 1 - j
		}
		var err error
		all[i], err = g.Average("ema/"+params[i].Name(), params[i].Shape())
		Must(t, err)
	}
	for i, a := range all {
		if l == EMAEveryOther && i%2 == 1 {
			idle = append(idle, a)
			continue
		}
		avgs, averaged = append(avgs, a), append(averaged, params[i])
	}
	Must(t, g.EMA(hyper, avgs, averaged))
	return avgs, averaged, idle
}

// OptimConfig configures NewOptimNet.
type OptimConfig struct {
	// Rule splits tensors into AGC units.
	Rule agc.UnitRule
	// FileShapes is Targets' fileShapes.
	FileShapes map[string][]int
	// EMA is the weight average's layout.
	EMA EMALayout
}

// OptimNet is SmallNet's training step (no drop path, no dropout) with
// NFNet's update as graph ops: the Optimizer over every parameter
// (Targets), then the EMA (AddEMA), both reading their step's values
// from Hyper.
type OptimNet struct {
	*Builder
	X, Labels, Loss *graph.Tensor
	// Hyper is the per-step input of agc.HyperWords values.
	Hyper *graph.Tensor
	// Grads and Targets are by parameter.
	Grads   []*graph.Tensor
	Targets []graph.OptimTarget
	// Averages and Averaged are the EMA's pairs, in its order; Idle the
	// averages it leaves alone.
	Averages, Averaged, Idle []*graph.Tensor
}

// NewOptimNet builds the step for batches of n [3, hw, hw] images of k
// classes.
func NewOptimNet(t testing.TB, n, hw, k int, c OptimConfig) *OptimNet {
	t.Helper()
	b, x, labels, loss := SmallNet(n, hw, k, 0, 0)
	Must(t, b.Err)
	g := b.G
	o := &OptimNet{Builder: b, X: x, Labels: labels, Loss: loss}
	var err error
	o.Grads, err = g.Gradients(loss, b.Params)
	Must(t, err)
	o.Hyper, err = g.Input("hyper", graph.Shape{agc.HyperWords})
	Must(t, err)
	o.Targets = Targets(t, g, b.Params, o.Grads, c.FileShapes)
	Must(t, g.Optimizer(o.Hyper, c.Rule, o.Targets))
	o.Averages, o.Averaged, o.Idle = AddEMA(t, g, o.Hyper, b.Params, c.EMA)
	return o
}

// Feeds are step's inputs: a seeded batch, labels and h's encoding.
func (o *OptimNet) Feeds(t testing.TB, step int, h agc.Hyper) map[*graph.Tensor][]float32 {
	t.Helper()
	hv, err := h.Values()
	Must(t, err)
	n, k := o.Labels.Size(), o.Loss.Node().Inputs()[0].Shape()[1]
	labels := make([]float32, n)
	for i := range labels {
		labels[i] = float32((step*7 + i*3) % k)
	}
	return map[*graph.Tensor][]float32{o.X: Randn(uint64(1000+step), o.X.Size(), 1), o.Labels: labels, o.Hyper: hv}
}
