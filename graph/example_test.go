package graph_test

import (
	"context"
	"fmt"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels/ref"
)

// Build a tiny model, differentiate its loss, add SGD and train it with
// the CPU executor. On a device the same graph runs with gpu.Compile
// and Executable.Step of package graph/gpu (recorded once, replayed
// every step).
func Example() {
	g := graph.New()
	x, _ := g.Input("x", graph.Shape{4, 2})
	labels, _ := g.Labels("labels", 4)
	w, _ := g.Param("w", graph.Shape{2, 2})
	b, _ := g.Param("b", graph.Shape{2})
	h, _ := g.Linear(x, w, b)
	h, _ = g.Act(h, ref.ActGELUTanh, ref.GammaGELU)
	loss, err := g.SoftmaxCE(h, labels, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	g.Keep(loss)
	grads, _ := g.Gradients(loss, []*graph.Tensor{w, b})
	if err := g.SGD([]*graph.Tensor{w, b}, grads, 0.5); err != nil {
		fmt.Println(err)
		return
	}

	cpu := graph.NewCPU[float32](g)
	_ = cpu.Set(w, []float32{0.1, -0.2, 0.3, 0.1})
	feeds := map[*graph.Tensor][]float32{
		x:      {1, 0, 0, 1, -1, 0, 0, -1},
		labels: {0, 1, 1, 0},
	}
	for step := 0; step < 100; step++ {
		if err := cpu.Run(context.Background(), uint64(step), feeds); err != nil {
			fmt.Println(err)
			return
		}
		if step == 0 || step == 99 {
			fmt.Printf("step %d: loss %.3f\n", step, cpu.Value(loss)[0])
		}
	}
	// A shape error names the op and the shapes.
	_, err = g.Add(x, w)
	fmt.Println(err)
	// Output:
	// step 0: loss 0.678
	// step 99: loss 0.010
	// graph: add(x[4 2], w[2 2]): shapes [4 2] and [2 2] differ
}
