package gpu_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/graph/gpu"
	"github.com/nfvk/nfvk/graph/graphtest"
)

// TestFP16StepMatchesCPU runs the whole training graph of the small NFNet
// (stem, blocks, transition, SE, drop path, dropout, head, smoothed
// cross-entropy, every parameter's gradient) with precision FP16 against
// the float32 CPU executor. Tolerance: every activation the step stores
// as float16 carries a relative rounding of at most 2^-11 (4.9e-4); a
// value of the forward and backward passes goes through about ten such
// stores along any path (conv, activation, conv, ... and back), and first
// order errors add, so results agree within about 5e-3 of the tensor's
// largest magnitude: 1e-2 of it (plus 1e-2 relative) is checked; for a
// sum that cancels, of the sum of its terms' magnitudes (termScale). The
// float32 path passes with 2e-5 (TestGPUMatchesCPU); a wrong conversion or
// index is off by O(1).
func TestFP16StepMatchesCPU(t *testing.T) {
	k := testKernels(t)
	ctx := context.Background()
	for _, seed := range []uint64{1, 2} {
		b, x, labels, loss := graphtest.SmallNet(4, 16, 10, 0.3, 0.2)
		graphtest.Must(t, b.Err)
		grads, err := b.G.Gradients(loss, b.Params)
		graphtest.Must(t, err)
		b.G.Keep(grads...)
		exe, err := gpu.Compile(ctx, k, b.G, gpu.Options{Precision: graph.FP16})
		graphtest.Must(t, err)
		defer exe.Close()
		half, casts := 0, 0
		for _, tt := range b.G.Tensors() {
			if tt.DType() == graph.Float16 {
				half++
			}
		}
		for _, cs := range exe.Plan().Casts {
			casts += len(cs)
			// Every op on activations has a float16 kernel or follows its
			// inputs: only the float32 image is converted (for the stem).
			for _, c := range cs {
				if c.Tensor.Role() != graph.Input {
					t.Errorf("converted copy of %v (%v): an op without a float16 kernel on float16 activations", c.Tensor, c.Tensor.Role())
				}
			}
		}
		if half == 0 {
			t.Fatal("precision fp16 stored no tensor as float16")
		}
		cpu := graph.NewCPU[float32](b.G)
		for p, v := range b.Init {
			graphtest.Must(t, cpu.Set(p, v))
			graphtest.Must(t, exe.Write(p, v))
		}
		feeds := map[*graph.Tensor][]float32{x: graphtest.Randn(7, x.Size(), 1), labels: {3, 0, 9, 3}}
		graphtest.Must(t, cpu.Run(ctx, seed, feeds))
		graphtest.Must(t, exe.Step(ctx, seed, feeds))
		for i, tt := range append([]*graph.Tensor{loss}, grads...) {
			got, err := exe.Read(tt)
			graphtest.Must(t, err)
			want := cpu.Value(tt)
			name := "loss"
			if i > 0 {
				name = "grad " + b.Params[i-1].Name()
			}
			graphtest.AssertClose(t, name, got, want, 1e-2*termScale(cpu, tt), 1e-2)
		}
		t.Logf("seed %d: %d of %d tensors float16, %d converted copies, arena %d B", seed, half, len(b.G.Tensors()), casts, exe.Plan().PeakBytes)
	}
}

// TestPrecisionErrors: a device without 16-bit storage is refused naming
// the feature, bf16 naming the extension, before anything is allocated.
func TestPrecisionErrors(t *testing.T) {
	info := engine.DeviceInfo{Name: "test device"}
	if err := gpu.CheckPrecision(info, graph.FP16); err == nil || !strings.Contains(err.Error(), "storageBuffer16BitAccess") {
		t.Errorf("fp16 without 16-bit storage: %v", err)
	}
	if err := gpu.CheckPrecision(info, graph.BF16); err == nil || !strings.Contains(err.Error(), "VK_KHR_shader_bfloat16") {
		t.Errorf("bf16: %v", err)
	}
	info.Storage16 = true
	if err := gpu.CheckPrecision(info, graph.FP16); err != nil {
		t.Errorf("fp16 with 16-bit storage: %v", err)
	}
	if err := gpu.CheckPrecision(info, graph.FP32); err != nil {
		t.Errorf("fp32: %v", err)
	}
	k := testKernels(t)
	b, _, _, _ := graphtest.SmallNet(2, 16, 10, 0, 0)
	graphtest.Must(t, b.Err)
	if _, err := gpu.Compile(context.Background(), k, b.G, gpu.Options{Precision: graph.BF16}); err == nil {
		t.Error("bf16 compiled")
	}
}

// termScale is the magnitude an error of tensor t is relative to: its
// largest element, or for a residual's skip-gain gradient (one sum over
// the block of h*dout, which cancels) the sum of |h*dout|.
func termScale(cpu *graph.CPU[float32], t *graph.Tensor) float64 {
	n := t.Node()
	if n == nil || n.Op() != "residual backward" || t != n.Outputs()[1] {
		return graphtest.MaxAbs(cpu.Value(t))
	}
	h, dout := cpu.Value(n.Inputs()[0]), cpu.Value(n.Inputs()[3])
	s := 0.0
	for i := range h {
		s += math.Abs(float64(h[i]) * float64(dout[i]))
	}
	return s
}
