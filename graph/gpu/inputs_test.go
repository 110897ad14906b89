package gpu_test

import (
	"context"
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/engine/enginetest"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/gpu"
	"github.com/nfvk/nfvk/graph/graphtest"
	"github.com/nfvk/nfvk/kernels"
)

// TestStagedStepOneSubmit: on a device treated as discrete a training
// step (images, labels, learning rate and seed fed) is one queue submit,
// and its losses equal the mapped path's to the bit, also on steps that
// feed nothing new (the inputs keep their values).
func TestStagedStepOneSubmit(t *testing.T) {
	const n, hw = 8, 8
	ctx := context.Background()
	t.Setenv("NFVK_FORCE_STAGING", "0") // Options cannot turn it off
	devs := map[string]*engine.Device{
		"mapped": enginetest.Open(t),
		"staged": enginetest.OpenWith(t, engine.Options{DisableUnifiedMemory: true}),
	}
	if !devs["mapped"].Unified() {
		t.Skip("this device has no mapped device memory to compare with")
	}
	xv, lv := graphtest.Separable(1, n, hw)
	losses := map[string][]float32{}
	for name, d := range devs {
		b, x, labels, lr, loss := graphtest.TinyCNN(t, n, hw)
		exe, err := gpu.Compile(ctx, kernels.New(d), b.G, gpu.Options{})
		graphtest.Must(t, err)
		defer exe.Close()
		if (exe.UploadRing() != nil) != (name == "staged") {
			t.Fatalf("%s: upload ring %v", name, exe.UploadRing())
		}
		for p, v := range b.Init {
			graphtest.Must(t, exe.Write(p, v))
		}
		for i := range 6 {
			feeds := map[*graph.Tensor][]float32{x: xv, labels: lv, lr: {0.5 / float32(i+1)}}
			if i%3 == 2 {
				feeds = nil
			}
			before := d.Submits()
			graphtest.Must(t, exe.Step(ctx, uint64(i), feeds))
			if got := d.Submits() - before; name == "staged" && got != 1 {
				t.Errorf("staged step %d: %d submits, want 1", i, got)
			}
			l, err := exe.Read(loss)
			graphtest.Must(t, err)
			losses[name] = append(losses[name], l[0])
		}
	}
	for i, want := range losses["mapped"] {
		if got := losses["staged"][i]; got != want {
			t.Errorf("step %d: staged loss %v, mapped %v", i, got, want)
		}
	}
}
