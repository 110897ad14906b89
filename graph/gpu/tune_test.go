package gpu_test

import (
	"context"
	"testing"
	"time"

	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/gpu"
	"github.com/nfvk/nfvk/graph/graphtest"
	"github.com/nfvk/nfvk/kernels"
)

// TestTunedStepMatchesDefault tunes (forced on lavapipe) the shapes of
// the tiny CNN's training step, and compiles the step with the tuned
// table and with a table of every shape's slowest passing candidate: a
// few steps of each match the class's kernels within the tolerance of
// TestGPUMatchesCPU (float32 sums in another order).
func TestTunedStepMatchesDefault(t *testing.T) {
	const n, hw = 8, 8
	ctx := context.Background()
	k := testKernels(t)
	b, x, labels, lr, loss := graphtest.TinyCNN(t, n, hw)
	shapes, err := gpu.TuneShapes(k, b.G)
	graphtest.Must(t, err)
	if len(shapes.GEMM) == 0 || len(shapes.Conv) < 3 {
		t.Fatalf("shapes %+v: want GEMMs and every conv pass", shapes)
	}
	tab, err := k.Tune(ctx, shapes, kernels.TuneOptions{Budget: 5 * time.Minute, Reps: 1})
	graphtest.Must(t, err)
	slowest := *tab
	slowest.Entries = nil
	for _, e := range tab.Entries {
		if e.Chosen < 0 {
			t.Fatalf("%s: nothing chosen: %+v", e.Name(), e.Candidates)
		}
		for i, c := range e.Candidates {
			if c.Err == "" && c.Micros > e.Candidates[e.Chosen].Micros {
				e.Chosen = i
			}
		}
		slowest.Entries = append(slowest.Entries, e)
	}
	xv, lv := graphtest.Separable(1, n, hw)
	feeds := map[*graph.Tensor][]float32{x: xv, labels: lv, lr: {0.5}}
	run := func(k *kernels.Kernels) map[*graph.Tensor][]float32 {
		exe, err := gpu.Compile(ctx, k, b.G, gpu.Options{})
		graphtest.Must(t, err)
		defer exe.Close()
		for p, v := range b.Init {
			graphtest.Must(t, exe.Write(p, v))
		}
		for i := range 3 {
			graphtest.Must(t, exe.Step(ctx, uint64(i), feeds))
		}
		out := map[*graph.Tensor][]float32{}
		for _, p := range append(b.Params, loss) {
			v, err := exe.Read(p)
			graphtest.Must(t, err)
			out[p] = v
		}
		return out
	}
	want := run(k)
	for name, table := range map[string]*kernels.TuneTable{"fastest": tab, "slowest": &slowest} {
		got := run(k.WithTable(table))
		for p, w := range want {
			graphtest.AssertClose(t, name+" "+p.Name(), got[p], w, 2e-5*graphtest.MaxAbs(w), 1e-4)
		}
	}
}
