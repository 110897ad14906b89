package graph_test

import (
	"context"
	"testing"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/graphtest"
)

// TestTrainSeparable trains the tiny WS-conv classifier on a fixed
// separable batch with the float32 CPU executor until the training loss
// is near zero (graph/gpu trains the same graph on the device).
func TestTrainSeparable(t *testing.T) {
	const n, hw, steps = 16, 8, 150
	b, x, labels, lr, loss := graphtest.TinyCNN(t, n, hw)
	xv, lv := graphtest.Separable(1, n, hw)
	feeds := map[*graph.Tensor][]float32{x: xv, labels: lv, lr: {0.5}}
	c := graph.NewCPU[float32](b.G)
	for p, v := range b.Init {
		graphtest.Must(t, c.Set(p, v))
	}
	graphtest.TrainToZero(t, steps, func(i int) float32 {
		graphtest.Must(t, c.Run(context.Background(), uint64(i), feeds))
		return c.Value(loss)[0]
	})
}
