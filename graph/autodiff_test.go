package graph_test

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/graphtest"
)

// TestGradientsFiniteDifferences checks reverse-mode gradients against
// central differences in float64: a whole small NFNet (WS convs, grouped
// 3x3, SE, drop path, skip gains, residuals, a transition block with the
// pooled shortcut conv, dropout, label-smoothed cross-entropy) and the
// conv net of the GPU tests (timm WS, SiLU, a tensor used three times)
// under the loss sum(out * r) for a fixed r. With h = 1e-5 the
// truncation error is O(h^2) ~ 1e-10 relative and the rounding error
// ~ 1e-16/h ~ 1e-11, so a 1e-6 relative bound is tight for a correct
// gradient and far below any real mistake (a missing term is O(1)).
func TestGradientsFiniteDifferences(t *testing.T) {
	for _, tc := range []struct {
		name  string
		build func(t *testing.T) (b *graphtest.Builder, loss *graph.Tensor, wrt []*graph.Tensor, feeds map[*graph.Tensor][]float64)
	}{
		{"small-nfnet-ce", func(t *testing.T) (*graphtest.Builder, *graph.Tensor, []*graph.Tensor, map[*graph.Tensor][]float64) {
			b, x, labels, loss := graphtest.SmallNet(2, 8, 4, 0.3, 0.2)
			graphtest.Must(t, b.Err)
			return b, loss, b.Params, map[*graph.Tensor][]float64{x: graphtest.To64(graphtest.Randn(99, x.Size(), 1)), labels: {1, 3}}
		}},
		{"conv-net", func(t *testing.T) (*graphtest.Builder, *graph.Tensor, []*graph.Tensor, map[*graph.Tensor][]float64) {
			c := graphtest.NewConvNet(t, 2)
			g := c.B.G
			r, err := g.Constant("r", c.Out.Shape(), graphtest.Randn(5, c.Out.Size(), 1))
			graphtest.Must(t, err)
			loss := c.B.T(g.Sum(c.B.T(g.Mul(c.Out, r))))
			graphtest.Must(t, c.B.Err)
			g.Keep(loss)
			return c.B, loss, c.Xs, map[*graph.Tensor][]float64{c.X: graphtest.To64(graphtest.Randn(98, c.X.Size(), 1))}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, loss, wrt, feeds := tc.build(t)
			grads, err := b.G.Gradients(loss, wrt)
			graphtest.Must(t, err)
			for i, d := range grads {
				if d == nil {
					t.Fatalf("no gradient for %v", wrt[i])
				}
			}
			c := graph.NewCPU[float64](b.G)
			for p, v := range b.Init {
				graphtest.Must(t, c.Set(p, graphtest.To64(v)))
			}
			ctx := context.Background()
			// The seed fixes the drop-path and dropout masks: take the
			// first that keeps some samples and drops others.
			var seed uint64
			for seed = 1; ; seed++ {
				graphtest.Must(t, c.Run(ctx, seed, feeds))
				var masks []float64
				for _, n := range b.G.Nodes() {
					if n.Op() == "drop path mask" {
						masks = append(masks, c.Value(n.Outputs()[0])...)
					}
				}
				if slices.Contains(masks, 0) && slices.Contains(masks, 1) {
					break
				}
				if seed == 100 {
					t.Fatalf("no seed up to 100 gives mixed drop-path masks")
				}
			}
			analytic := make([][]float64, len(grads))
			for i, d := range grads {
				analytic[i] = append([]float64(nil), c.Value(d)...)
			}
			lossAt := func() float64 {
				graphtest.Must(t, c.Run(ctx, seed, feeds))
				return c.Value(loss)[0]
			}
			const h = 1e-5
			checked := 0
			for i, p := range wrt {
				v := c.Value(p)
				if p.Role() == graph.Input {
					v = feeds[p] // Run copies the feed in each time
				}
				// A few elements per tensor: first, last and a middle one.
				for _, j := range uniq(0, len(v)/2, len(v)-1) {
					old := v[j]
					v[j] = old + h
					up := lossAt()
					v[j] = old - h
					down := lossAt()
					v[j] = old
					num := (up - down) / (2 * h)
					a := analytic[i][j]
					if !(math.Abs(a-num) <= 1e-9+1e-6*max(math.Abs(a), math.Abs(num))) {
						t.Errorf("d loss / d %v[%d]: autodiff %.10g, finite differences %.10g", p, j, a, num)
					}
					checked++
				}
			}
			t.Logf("%d tensors, %d elements checked, %d nodes (%d backward)", len(wrt), checked, len(b.G.Nodes()), len(b.G.Nodes())-loss.Node().ID()-1)
		})
	}
}

func uniq(v ...int) []int {
	var out []int
	for _, x := range v {
		if len(out) == 0 || out[len(out)-1] != x {
			out = append(out, x)
		}
	}
	return out
}

// TestGradientAccumulates checks that a tensor used several times gets
// the sum of its gradients: y = x*x + 3x + x, so dy/dx = 2x + 4.
func TestGradientAccumulates(t *testing.T) {
	g := graph.New()
	x, err := g.Param("x", graph.Shape{3})
	graphtest.Must(t, err)
	sq, err := g.Mul(x, x)
	graphtest.Must(t, err)
	x3, err := g.Scale(x, 3)
	graphtest.Must(t, err)
	s, err := g.Add(sq, x3)
	graphtest.Must(t, err)
	s, err = g.Add(s, x)
	graphtest.Must(t, err)
	y, err := g.Sum(s)
	graphtest.Must(t, err)
	d, err := g.Gradients(y, []*graph.Tensor{x})
	graphtest.Must(t, err)
	c := graph.NewCPU[float64](g)
	graphtest.Must(t, c.Set(x, []float64{1, -2, 0.5}))
	graphtest.Must(t, c.Run(context.Background(), 0, nil))
	for i, want := range []float64{6, 0, 5} {
		if got := c.Value(d[0])[i]; got != want {
			t.Errorf("dy/dx[%d] = %v, want %v", i, got, want)
		}
	}
}
