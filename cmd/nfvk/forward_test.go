package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/internal/fixtures"
	"github.com/nfvk/nfvk/safetensors"
)

// fixtureFile returns the path of a timm reference file; a missing one
// fails the test.
func fixtureFile(t *testing.T, name string) string {
	t.Helper()
	return fixtures.Path(t, name)
}

func needDevice(t *testing.T) {
	t.Helper()
	if _, err := engine.Devices(); err != nil {
		t.Skipf("no Vulkan device: %v", err)
	}
}

func openST(t *testing.T, path string) *safetensors.File {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func tensor(t *testing.T, f *safetensors.File, name string) []float32 {
	t.Helper()
	v, _, err := f.Float32s(name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// maxErr returns max |got-want| (NaN-propagating) and max |want|.
func maxErr(t *testing.T, what string, got, want []float32) (d, scale float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		e := math.Abs(float64(got[i]) - float64(want[i]))
		if !(e <= d) {
			d = e
		}
		scale = max(scale, math.Abs(float64(want[i])))
	}
	return d, scale
}

// forward runs `nfvk forward` in-process with the fixture's config and
// weights plus extra flags and returns the output file.
func forward(t *testing.T, input string, extra ...string) *safetensors.File {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.safetensors")
	args := append([]string{"forward",
		"--config", fixtureFile(t, "small_config.json"),
		"--weights", fixtureFile(t, "small_params.safetensors"),
		"--input", input,
		"--out", out}, extra...)
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("nfvk %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("%s", strings.TrimSpace(stdout.String()))
	return openST(t, out)
}

// timmStepFlags are the fixture's training settings (README: small_step1).
var timmStepFlags = []string{"--lr", "0.1", "--momentum", "0.9", "--nesterov", "--weight-decay", "0",
	"--agc", "0.01", "--agc-eps", "1e-3", "--agc-exclude", "head.fc", "--agc-units", "timm",
	"--label-smoothing", "0.1"}

// checkLogitsLoss compares logits and loss with small_io at 1e-5.
func checkLogitsLoss(t *testing.T, out *safetensors.File) {
	t.Helper()
	io := openST(t, fixtureFile(t, "small_io.safetensors"))
	if d, _ := maxErr(t, "logits", tensor(t, out, "logits"), tensor(t, io, "logits")); !(d <= 1e-5) {
		t.Errorf("logits: max error %.3g > 1e-5", d)
	} else {
		t.Logf("logits: max error %.3g", d)
	}
	if d, _ := maxErr(t, "loss", tensor(t, out, "loss"), tensor(t, io, "loss")); !(d <= 1e-5) {
		t.Errorf("loss: error %.3g > 1e-5", d)
	} else {
		t.Logf("loss: error %.3g", d)
	}
}

// TestForwardTimmStep1 runs exactly the acceptance command: one step with
// --grad, checking logits, loss, every gradient (within 1e-3 of its max
// |value|) and every parameter after the step (1e-5) against timm.
func TestForwardTimmStep1(t *testing.T) {
	needDevice(t)
	out := forward(t, fixtureFile(t, "small_io.safetensors"), append([]string{"--grad", "--steps", "1"}, timmStepFlags...)...)
	checkLogitsLoss(t, out)
	grads := openST(t, fixtureFile(t, "small_grads.safetensors"))
	step1 := openST(t, fixtureFile(t, "small_step1.safetensors"))
	names := 0
	worstG, worstP := 0.0, 0.0
	for _, n := range grads.Names() {
		if !strings.HasPrefix(n, "grad/") {
			continue
		}
		names++
		d, s := maxErr(t, n, tensor(t, out, n), tensor(t, grads, n))
		if !(d <= 1e-3*s) {
			t.Errorf("%s: max error %.3g > 1e-3 * max |grad| %.3g", n, d, s)
		}
		worstG = max(worstG, d/max(s, 1e-30))
		p := "param/" + strings.TrimPrefix(n, "grad/")
		d, _ = maxErr(t, p, tensor(t, out, p), tensor(t, step1, p))
		if !(d <= 1e-5) {
			t.Errorf("%s after 1 step: max error %.3g > 1e-5", p, d)
		}
		worstP = max(worstP, d)
	}
	if names != 114 {
		t.Errorf("fixture has %d gradients, want 114", names)
	}
	t.Logf("gradients: worst relative error %.3g; params after step 1: max error %.3g", worstG, worstP)
}

// TestForwardTimmStep2 runs two steps and compares with small_step2.
func TestForwardTimmStep2(t *testing.T) {
	needDevice(t)
	out := forward(t, fixtureFile(t, "small_io.safetensors"), append([]string{"--steps", "2"}, timmStepFlags...)...)
	checkLogitsLoss(t, out)
	step2 := openST(t, fixtureFile(t, "small_step2.safetensors"))
	worst := 0.0
	for _, n := range step2.Names() {
		if !strings.HasPrefix(n, "param/") {
			continue
		}
		d, _ := maxErr(t, n, tensor(t, out, n), tensor(t, step2, n))
		if !(d <= 1e-5) {
			t.Errorf("%s after 2 steps: max error %.3g > 1e-5", n, d)
		}
		worst = max(worst, d)
	}
	losses := tensor(t, out, "losses")
	if d := math.Abs(float64(losses[1]) - float64(tensor(t, step2, "loss")[0])); !(d <= 1e-5) {
		t.Errorf("loss at step-1 parameters %v: error %.3g > 1e-5", losses[1], d)
	}
	t.Logf("params after step 2: max error %.3g; losses %v", worst, losses)
}

// TestForwardOdd feeds input_odd (36x36: odd SAME padding, ceil-mode
// pooling) as the command's input and compares with logits_odd.
func TestForwardOdd(t *testing.T) {
	needDevice(t)
	io := openST(t, fixtureFile(t, "small_io.safetensors"))
	x, shape, err := io.Float32s("input_odd")
	if err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(t.TempDir(), "odd.safetensors")
	if err := safetensors.WriteFile(in, []safetensors.Tensor{safetensors.F32("input", shape, x)}, nil); err != nil {
		t.Fatal(err)
	}
	out := forward(t, in)
	if d, _ := maxErr(t, "logits_odd", tensor(t, out, "logits"), tensor(t, io, "logits_odd")); !(d <= 1e-5) {
		t.Errorf("logits_odd: max error %.3g > 1e-5", d)
	} else {
		t.Logf("logits_odd: max error %.3g", d)
	}
}

// TestForwardCPU runs the command on the CPU references.
func TestForwardCPU(t *testing.T) {
	out := forward(t, fixtureFile(t, "small_io.safetensors"), append([]string{"--cpu", "--grad"}, timmStepFlags...)...)
	checkLogitsLoss(t, out)
}

// TestForwardErrors checks that bad invocations fail with errors naming
// what is wrong, before any device work.
func TestForwardErrors(t *testing.T) {
	cfg := fixtureFile(t, "small_config.json")
	params := fixtureFile(t, "small_params.safetensors")
	io := fixtureFile(t, "small_io.safetensors")
	dir := t.TempDir()
	write := func(name string, ts ...safetensors.Tensor) string {
		p := filepath.Join(dir, name)
		if err := safetensors.WriteFile(p, ts, nil); err != nil {
			t.Fatal(err)
		}
		return p
	}
	noLabels := write("nolabels.safetensors", safetensors.F32("input", []int{1, 1, 8, 8}, make([]float32, 64)))
	badRank := write("rank.safetensors", safetensors.F32("input", []int{1, 64}, make([]float32, 64)))
	badLabel := write("badlabel.safetensors", safetensors.F32("input", []int{1, 1, 32, 32}, make([]float32, 1024)),
		safetensors.I64("labels", []int{1}, []int64{10}))
	noInput := write("noinput.safetensors", safetensors.F32("x", []int{1}, []float32{0}))
	wrongWeights := write("weights.safetensors", safetensors.F32("stem.conv1.weight", []int{4, 1, 3, 3}, make([]float32, 36)))
	badCfg := filepath.Join(dir, "bad.json")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badCfg, bytes.Replace(data, []byte(`"group_size": 16`), []byte(`"group_size": 48`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.safetensors")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no weights", []string{"--config", cfg, "--input", io, "--out", out}, "missing --weights"},
		{"no labels", []string{"--config", cfg, "--weights", params, "--input", noLabels, "--out", out, "--grad"}, `tensor named "labels"`},
		{"no input", []string{"--config", cfg, "--weights", params, "--input", noInput, "--out", out}, `no tensor named "input"`},
		{"input rank", []string{"--config", cfg, "--weights", params, "--input", badRank, "--out", out}, "want [N, C, H, W]"},
		{"label range", []string{"--config", cfg, "--weights", params, "--input", badLabel, "--out", out, "--grad", "--cpu"}, "labels[0] = 10"},
		{"missing weights", []string{"--config", cfg, "--weights", wrongWeights, "--input", io, "--out", out}, "missing tensor stem.conv1.bias"},
		{"impossible config", []string{"--config", badCfg, "--weights", params, "--input", io, "--out", out}, "group_size"},
		{"units", []string{"--config", cfg, "--weights", params, "--input", io, "--out", out, "--agc-units", "per-row"}, `unit rule "per-row"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append([]string{"forward"}, c.args...), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
}
