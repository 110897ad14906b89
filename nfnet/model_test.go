package nfnet

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/engine/enginetest"
	"github.com/nfvk/nfvk/graph"
	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/safetensors"
)

// modelKernels opens the default Vulkan device (lavapipe in CI) with the
// validation layer where installed; validation messages fail the test.
func modelKernels(t testing.TB) *kernels.Kernels {
	t.Helper()
	d := enginetest.Open(t)
	return kernels.New(d)
}

// fixture opens a safetensors fixture or skips.
func fixture(t *testing.T, name string) *safetensors.File {
	t.Helper()
	f, err := safetensors.Open(fixturePath(t, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func f32(t *testing.T, f *safetensors.File, name string) ([]float32, []int) {
	t.Helper()
	v, s, err := f.Float32s(name)
	if err != nil {
		t.Fatal(err)
	}
	return v, s
}

// maxAbsDiff returns max |a-b| and max |b|.
func maxAbsDiff(t *testing.T, what string, a, b []float32) (diff, scale float64) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d values, want %d", what, len(a), len(b))
	}
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		if !(d <= diff) { // NaN lands here and stays
			diff = d
		}
		scale = max(scale, math.Abs(float64(b[i])))
	}
	return diff, scale
}

// smallFixture is the timm reference model with its weights and batch.
type smallFixture struct {
	l       *Layout
	weights map[string][]float32
	io      *safetensors.File
	x       []float32
	xShape  []int
	labels  []int64
}

func loadSmallFixture(t *testing.T) smallFixture {
	t.Helper()
	l := mustLayout(t, loadSmall(t))
	w, err := LoadWeights(fixturePath(t, "small_params.safetensors"), l)
	if err != nil {
		t.Fatal(err)
	}
	io := fixture(t, "small_io.safetensors")
	x, xs := f32(t, io, "input")
	labels, _, err := io.Int64s("labels")
	if err != nil {
		t.Fatal(err)
	}
	return smallFixture{l: l, weights: w, io: io, x: x, xShape: xs, labels: labels}
}

// timmStep are the optimizer settings of small_step1/small_step2.
var timmStep = Optim{LR: 0.1, Momentum: 0.9, Nesterov: true, AGCClip: 0.01, AGCEps: 1e-3,
	AGCExclude: []string{"head.fc"}, AGCUnits: agc.Timm}

// checkParity compares a ParityResult with the fixtures at the README's
// tolerances: logits and loss 1e-5 absolute; every gradient within 1e-3
// of its max |value|; parameters after steps 1e-5.
func checkParity(t *testing.T, fx smallFixture, res *ParityResult, steps int) {
	t.Helper()
	want, _ := f32(t, fx.io, "logits")
	if d, _ := maxAbsDiff(t, "logits", res.Logits, want); !(d <= 1e-5) {
		t.Errorf("logits: max error %.3g > 1e-5", d)
	} else {
		t.Logf("logits: max error %.3g", d)
	}
	grads := fixture(t, "small_grads.safetensors")
	wl, _ := f32(t, grads, "loss")
	if d := math.Abs(float64(res.Loss) - float64(wl[0])); !(d <= 1e-5) {
		t.Errorf("loss %v, want %v (error %.3g > 1e-5)", res.Loss, wl[0], d)
	} else {
		t.Logf("loss: error %.3g", d)
	}
	if res.Grads != nil {
		worst, worstName := 0.0, ""
		for _, sp := range fx.l.Params() {
			wg, _ := f32(t, grads, "grad/"+sp.Name)
			d, s := maxAbsDiff(t, "grad/"+sp.Name, res.Grads[sp.Name], wg)
			rel := d / max(s, 1e-30)
			if !(rel <= 1e-3) {
				t.Errorf("grad/%s: max error %.3g is %.3g of max |grad| %.3g (limit 1e-3)", sp.Name, d, rel, s)
			}
			if !(rel <= worst) {
				worst, worstName = rel, sp.Name
			}
		}
		t.Logf("gradients: worst relative error %.3g (%s)", worst, worstName)
	}
	if steps > 0 {
		file := map[int]string{1: "small_step1.safetensors", 2: "small_step2.safetensors"}[steps]
		ref := fixture(t, file)
		worst, worstName := 0.0, ""
		for _, sp := range fx.l.Params() {
			wp, _ := f32(t, ref, "param/"+sp.Name)
			d, _ := maxAbsDiff(t, "param/"+sp.Name, res.Params[sp.Name], wp)
			if !(d <= 1e-5) {
				t.Errorf("after %d steps param/%s: max error %.3g > 1e-5", steps, sp.Name, d)
			}
			if !(d <= worst) {
				worst, worstName = d, sp.Name
			}
		}
		t.Logf("params after %d steps: max error %.3g (%s)", steps, worst, worstName)
		if steps == 2 {
			wl2, _ := f32(t, ref, "loss")
			if d := math.Abs(float64(res.Losses[1]) - float64(wl2[0])); !(d <= 1e-5) {
				t.Errorf("loss at step-1 parameters %v, want %v (error %.3g)", res.Losses[1], wl2[0], d)
			}
		}
	}
}

// TestTimmParity runs the timm reference model through Parity on the
// device: logits, loss, every gradient, and the parameters after two
// AGC+SGD steps against small_step2 (step 1 is checked by the command's
// test in cmd/nfvk).
func TestTimmParity(t *testing.T) {
	fx := loadSmallFixture(t)
	k := modelKernels(t)
	ctx := context.Background()
	res, err := Parity(ctx, k, fx.l, fx.weights, fx.x, fx.xShape, fx.labels,
		ParityOptions{Grad: true, LabelSmoothing: 0.1, Steps: 2, Optim: timmStep})
	if err != nil {
		t.Fatal(err)
	}
	checkParity(t, fx, res, 2)
}

// TestTimmParityCPU is TestTimmParity with the CPU references, one step:
// when the device disagrees with timm, this says whether the model or a
// kernel is wrong.
func TestTimmParityCPU(t *testing.T) {
	fx := loadSmallFixture(t)
	res, err := Parity(context.Background(), nil, fx.l, fx.weights, fx.x, fx.xShape, fx.labels,
		ParityOptions{Grad: true, LabelSmoothing: 0.1, Steps: 1, Optim: timmStep, CPU: true})
	if err != nil {
		t.Fatal(err)
	}
	checkParity(t, fx, res, 1)
}

// TestTimmParityOdd checks the odd-size input (36 -> 18 -> 9 -> 5 -> 3 ->
// 2: odd SAME padding and ceil-mode pooling) on the device.
func TestTimmParityOdd(t *testing.T) {
	fx := loadSmallFixture(t)
	x, xs := f32(t, fx.io, "input_odd")
	want, _ := f32(t, fx.io, "logits_odd")
	got, err := Forward(context.Background(), modelKernels(t), fx.l, fx.weights, x, xs)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := maxAbsDiff(t, "logits_odd", got, want); !(d <= 1e-5) {
		t.Errorf("logits_odd: max error %.3g > 1e-5", d)
	} else {
		t.Logf("logits_odd: max error %.3g", d)
	}
}

// TestLoadWeightsErrors checks that a missing tensor and a wrong shape
// are reported by name.
func TestLoadWeightsErrors(t *testing.T) {
	l := mustLayout(t, loadSmall(t))
	fx := loadSmallFixture(t)
	dir := t.TempDir()
	var ts []safetensors.Tensor
	for _, sp := range l.Params() {
		switch sp.Name {
		case "stem.conv1.weight":
			continue // missing
		case "final_conv.bias":
			ts = append(ts, safetensors.F32(sp.Name, []int{sp.Shape[0] - 1}, fx.weights[sp.Name][1:]))
		default:
			ts = append(ts, safetensors.F32(sp.Name, sp.Shape, fx.weights[sp.Name]))
		}
	}
	p := filepath.Join(dir, "bad.safetensors")
	if err := safetensors.WriteFile(p, ts, nil); err != nil {
		t.Fatal(err)
	}
	_, err := LoadWeights(p, l)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"missing tensor stem.conv1.weight", "final_conv.bias has shape [511]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := LoadWeights(filepath.Join(dir, "absent.safetensors"), l); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent file: %v", err)
	}
}

// TestBuildErrors checks that configs nfvk cannot compute, and inputs
// that do not fit, fail at build time with an error naming the cause.
func TestBuildErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		edit  func(*Config)
		input []int
		want  string
	}{
		{"max pool stem", func(c *Config) { c.StemType = "deep_pool" }, nil, `"deep_pool" ends in a max pool`},
		{"activation without kernel", func(c *Config) { c.ActLayer = "celu" }, nil, `act_layer: "celu" has no kernel`},
		{"deepmind eps", func(c *Config) { c.StdConv, c.StdConvEps = StdConvDeepMind, 1e-5 }, nil, "std_conv_eps"},
		{"input channels", func(c *Config) {}, []int{2, 1, 28, 28}, "want [N, 3 (in_chans), H, W]"},
		{"input rank", func(c *Config) {}, []int{2, 3, 28}, "want [N, 3 (in_chans), H, W]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := tinyConfig()
			c.edit(&cfg)
			l, err := NewLayout(cfg)
			if err != nil {
				t.Fatal(err)
			}
			in := c.input
			if in == nil {
				in = []int{2, 3, 28, 28}
			}
			g := graph.New()
			x, err := g.Input("input", graph.Shape(in))
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = Build(g, l, x, BuildOptions{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}
