package graph_test

import (
	"testing"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/graphtest"
	"github.com/nfvk/nfvk/kernels/ref"
)

func TestPlanMemory(t *testing.T) {
	chain := func(t *testing.T) *graph.Graph {
		g := graph.New()
		x, err := g.Input("x", graph.Shape{1024})
		graphtest.Must(t, err)
		for i := 0; i < 10; i++ {
			x, err = g.Act(x, ref.ActReLU, 1)
			graphtest.Must(t, err)
		}
		g.Keep(x)
		return g
	}
	net := func(t *testing.T) *graph.Graph {
		b, _, _, loss := graphtest.SmallNet(4, 16, 10, 0.2, 0.2)
		graphtest.Must(t, b.Err)
		grads, err := b.G.Gradients(loss, b.Params)
		graphtest.Must(t, err)
		graphtest.Must(t, b.G.SGD(b.Params, grads, 0.1))
		return b.G
	}
	for _, tc := range []struct {
		name     string
		build    func(*testing.T) *graph.Graph
		align    int64
		maxRatio float64
	}{
		// Nine temporaries of 4 KiB, each live across one node: two
		// slots suffice (input and output of the current node).
		{"chain", chain, 64, 2.0 / 9},
		{"chain-align256", chain, 256, 2.0 / 9},
		// Forward activations must survive until their backward node:
		// the win comes from the backward temporaries.
		{"small-nfnet-train", net, 64, 0.6},
		{"small-nfnet-train-keep-ws", func(t *testing.T) *graph.Graph { return netKeepWS(t) }, 64, 0.6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := tc.build(t)
			p, err := graph.PlanMemory(g, graph.PlanOptions{Align: tc.align})
			graphtest.Must(t, err)
			if err := p.Check(g); err != nil {
				t.Fatal(err)
			}
			for _, tt := range g.Tensors() {
				if tt.Persistent() != (p.Offset[tt.ID()] < 0) && p.Run[tt.Node().ID()] {
					t.Errorf("%v (%v): persistent %v but offset %d", tt, tt.Role(), tt.Persistent(), p.Offset[tt.ID()])
				}
			}
			if r := p.Ratio(); r > tc.maxRatio {
				t.Errorf("peak %d / naive %d = %.3f, want <= %.3f", p.PeakBytes, p.NaiveBytes, r, tc.maxRatio)
			}
			t.Logf("peak %d B, naive %d B (ratio %.3f), persistent %d B", p.PeakBytes, p.NaiveBytes, p.Ratio(), p.PersistentBytes)
		})
	}
}

// TestPlanPrunesFusedDropPath: the drop-path application Residual fuses
// is dead, gets no memory and is not executed on the GPU.
func TestPlanPrunesFusedDropPath(t *testing.T) {
	net := graphtest.NewConvNet(t, 2)
	p, err := graph.PlanMemory(net.B.G, graph.PlanOptions{})
	graphtest.Must(t, err)
	found := false
	for _, n := range net.B.G.Nodes() {
		if n.Op() == "drop path" {
			found = true
			if p.Run[n.ID()] || p.Offset[n.Outputs()[0].ID()] >= 0 {
				t.Errorf("%v runs or has memory", n)
			}
		}
	}
	if !found {
		t.Fatal("no drop path node")
	}
}

// TestShapeErrors: ops check shapes when added and name the op and the
// shapes.
func TestShapeErrors(t *testing.T) {
	g := graph.New()
	x, _ := g.Input("x", graph.Shape{2, 3, 8, 8})
	w, _ := g.Param("w", graph.Shape{4, 2, 3, 3})
	v, _ := g.Input("v", graph.Shape{2, 5})
	l, _ := g.Labels("l", 3)
	for _, tc := range []struct {
		name string
		add  func() (*graph.Tensor, error)
		want string
	}{
		{"conv channels", func() (*graph.Tensor, error) { return g.Conv2D(x, w, nil, graph.ConvOpts{}) }, "graph: conv2d(x[2 3 8 8], w[4 2 3 3], _): w has 2 input channels per group, x has 3 channels in 1 groups"},
		{"add shapes", func() (*graph.Tensor, error) { return g.Add(x, v) }, "graph: add(x[2 3 8 8], v[2 5]): shapes [2 3 8 8] and [2 5] differ"},
		{"linear features", func() (*graph.Tensor, error) { return g.Linear(v, w, nil) }, "graph: linear(v[2 5], w[4 2 3 3], _, _): w [4 2 3 3] must have rank 2"},
		{"labels count", func() (*graph.Tensor, error) { return g.SoftmaxCE(v, l, 0) }, "graph: softmax cross-entropy(v[2 5], l[3]): labels must be i32 [2]"},
		{"se gate", func() (*graph.Tensor, error) { return g.SEGate(x, v, 2) }, "graph: se gate(x[2 3 8 8], v[2 5]): z [2 5], want [2 3]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y, err := tc.add()
			if y != nil || err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, %v\nwant error %s", y, err, tc.want)
			}
		})
	}
}

func TestGraphString(t *testing.T) {
	g := graph.New()
	x, _ := g.Input("x", graph.Shape{2, 3})
	y, err := g.Act(x, ref.ActReLU, 1)
	graphtest.Must(t, err)
	if _, err := g.Sum(y); err != nil {
		t.Fatal(err)
	}
	want := "0 act relu(x[2 3]) -> act_relu#1[2 3]\n1 sum(act_relu#1[2 3]) -> sum#2[]\n"
	if got := g.String(); got != want {
		t.Errorf("got\n%swant\n%s", got, want)
	}
}

// netKeepWS is the small NFNet's training graph reusing the forward's
// standardized weights in the backward: no recomputed WS nodes.
func netKeepWS(t *testing.T) *graph.Graph {
	b, _, _, loss := graphtest.SmallNet(4, 16, 10, 0.2, 0.2)
	graphtest.Must(t, b.Err)
	b.G.SetRecomputeWS(false)
	grads, err := b.G.Gradients(loss, b.Params)
	graphtest.Must(t, err)
	graphtest.Must(t, b.G.SGD(b.Params, grads, 0.1))
	ws, convs := 0, 0
	for _, n := range b.G.Nodes() {
		switch n.Op() {
		case "ws":
			ws++
		case "conv2d":
			convs++
		}
	}
	if ws != convs {
		t.Errorf("%d ws nodes, want one per conv (%d)", ws, convs)
	}
	return b.G
}
