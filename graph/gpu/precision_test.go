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
// index is off by O(1). BF16 is the same with bfloat16's 2^-8 (8 times
// float16's): 8e-2.
func TestFP16StepMatchesCPU(t *testing.T) {
	testHalfStepMatchesCPU(t, graph.FP16, 1e-2)
}

func TestBF16StepMatchesCPU(t *testing.T) {
	testHalfStepMatchesCPU(t, graph.BF16, 8e-2)
}

func testHalfStepMatchesCPU(t *testing.T, prec graph.Precision, tol float64) {
	k := testKernels(t)
	ctx := context.Background()
	for _, seed := range []uint64{1, 2} {
		b, x, labels, loss := graphtest.SmallNet(4, 16, 10, 0.3, 0.2)
		graphtest.Must(t, b.Err)
		grads, err := b.G.Gradients(loss, b.Params)
		graphtest.Must(t, err)
		b.G.Keep(grads...)
		exe, err := gpu.Compile(ctx, k, b.G, gpu.Options{Precision: prec})
		graphtest.Must(t, err)
		defer exe.Close()
		half, casts := 0, 0
		for _, tt := range b.G.Tensors() {
			if tt.DType() == prec.ActivationDType() {
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
			t.Fatalf("precision %v stored no tensor in 16 bits", prec)
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
			graphtest.AssertClose(t, name, got, want, tol*termScale(cpu, tt), tol)
		}
		t.Logf("seed %d: %d of %d tensors %v, %d converted copies, arena %d B", seed, half, len(b.G.Tensors()), prec.ActivationDType(), casts, exe.Plan().PeakBytes)
	}
}

// TestPrecisionErrors: a device without 16-bit storage is refused for
// fp16 and bf16 naming the feature; bf16 does not need
// VK_KHR_shader_bfloat16.
func TestPrecisionErrors(t *testing.T) {
	info := engine.DeviceInfo{Name: "test device"}
	for _, p := range []graph.Precision{graph.FP16, graph.BF16} {
		if err := gpu.CheckPrecision(info, p); err == nil || !strings.Contains(err.Error(), "storageBuffer16BitAccess") {
			t.Errorf("%v without 16-bit storage: %v", p, err)
		}
	}
	info.Storage16 = true
	for _, p := range []graph.Precision{graph.FP32, graph.FP16, graph.BF16} {
		if err := gpu.CheckPrecision(info, p); err != nil {
			t.Errorf("%v with 16-bit storage: %v", p, err)
		}
	}
	if err := gpu.CheckPrecision(info, graph.Precision(9)); err == nil {
		t.Error("an unknown precision accepted")
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
