package train

import (
	"context"
	"math"
	"testing"

	"github.com/nfvk/nfvk/agc"
	"github.com/nfvk/nfvk/internal/fixtures"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/safetensors"
)

// Parity with timm's real NFNet code (internal/fixtures: a DeepMind-style
// model built with timm's NfCfg, its weights, a batch, logits, loss,
// gradients and two AGC+SGD steps).

// fixture opens a timm reference file (internal/fixtures).
func fixture(t *testing.T, name string) *safetensors.File {
	t.Helper()
	f, err := safetensors.Open(fixtures.Path(t, name))
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
	l       *nfnet.Layout
	weights map[string][]float32
	io      *safetensors.File
	x       []float32
	xShape  []int
	labels  []int64
}

func loadSmallFixture(t *testing.T) smallFixture {
	t.Helper()
	cfg, err := nfnet.LoadConfig(fixtures.Path(t, "small_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := nfnet.NewLayout(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w, err := nfnet.LoadWeights(fixtures.Path(t, "small_params.safetensors"), l)
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
// AGC clips the skip gains too, as timm does.
var timmStep = agc.Recipe{Epochs: 1, LR: 0.1, Momentum: 0.9, Nesterov: true, AGCClip: 0.01, AGCEps: 1e-3,
	AGCExclude: []string{"head.fc"}, AGCUnits: agc.Timm, AGCSkipGains: true}

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
// AGC+SGD steps (the optimizer and EMA ops of the training graph) against small_step2 (step 1 is checked by the command's
// test in cmd/nfvk).
func TestTimmParity(t *testing.T) {
	fx := loadSmallFixture(t)
	k := loopKernels(t)
	ctx := context.Background()
	res, err := Parity(ctx, k, fx.l, fx.weights, fx.x, fx.xShape, fx.labels,
		ParityOptions{Grad: true, LabelSmoothing: 0.1, Steps: 2, Recipe: timmStep})
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
		ParityOptions{Grad: true, LabelSmoothing: 0.1, Steps: 1, Recipe: timmStep})
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
	res, err := Parity(context.Background(), loopKernels(t), fx.l, fx.weights, x, xs, nil, ParityOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := res.Logits
	if d, _ := maxAbsDiff(t, "logits_odd", got, want); !(d <= 1e-5) {
		t.Errorf("logits_odd: max error %.3g > 1e-5", d)
	} else {
		t.Logf("logits_odd: max error %.3g", d)
	}
}
