package train

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestLossScaleMetrics: an fp16 run's lines carry loss_scale and
// skipped_steps (0 included), an fp32 run's neither, and both read back.
func TestLossScaleMetrics(t *testing.T) {
	fp16 := EpochMetrics{Epoch: 1, Step: 468, TrainLoss: 1.4, TestAcc: 0.82, ImagesPerS: 140, ElapsedS: 400, LossScale: 65536}
	fp32 := fp16
	fp32.LossScale = 0
	for _, c := range []struct {
		m    EpochMetrics
		want string // a substring of the line, or "" for neither field
	}{
		{fp16, `"loss_scale":65536,"skipped_steps":0`},
		{func() EpochMetrics { m := fp16; m.LossScale, m.SkippedSteps = 0.5, 3; return m }(), `"loss_scale":0.5,"skipped_steps":3`},
		{fp32, ""},
	} {
		b, err := json.Marshal(c.m)
		if err != nil {
			t.Fatal(err)
		}
		line := string(b)
		if c.want == "" && (strings.Contains(line, "loss_scale") || strings.Contains(line, "skipped")) {
			t.Errorf("fp32 line %s has loss scaling fields", line)
		}
		if c.want != "" && !strings.Contains(line, c.want) {
			t.Errorf("line %s lacks %s", line, c.want)
		}
		var got EpochMetrics
		if err := json.Unmarshal(b, &got); err != nil || got != c.m {
			t.Errorf("%s read back as %+v: %v", line, got, err)
		}
	}
	var m EpochMetrics
	if err := json.Unmarshal([]byte(`{"epoch":1,"step":2,"train_loss":1,"test_acc":0.5,"images_per_s":1,"elapsed_s":1,"loss_scale":1,"skipped_steps":3}`), &m); err == nil {
		t.Error("3 skipped steps of 2: no error")
	}
}

// TestLossScaleCheckpoint: a checkpoint's loss scale state round-trips;
// a bad scale is refused naming the metadata key.
func TestLossScaleCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	want := makeCheckpoint(t, tinyConfig(t), 12)
	want.LossScale = &LossScaleState{Scale: 0x1p-3, GoodSteps: 5, SkippedSteps: 7}
	if err := SaveCheckpoint(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.LossScale == nil || *got.LossScale != *want.LossScale {
		t.Fatalf("loss scale %+v, want %+v", got.LossScale, want.LossScale)
	}
	if !equalCheckpoints(got, want) {
		t.Error("loaded checkpoint differs from the saved one")
	}
	want.LossScale.Scale = 3
	b := writeCheckpointBytes(t, want)
	if _, err := parseCheckpoint(b); err == nil || !strings.Contains(err.Error(), metaLossScale) {
		t.Errorf("scale 3: %v, want an error naming %q", err, metaLossScale)
	}
}

// TestLossScaleRecipe: the recipe's loss scale must be a power of two and
// its growth interval not negative; the defaults apply to fp16 runs only.
func TestLossScaleRecipe(t *testing.T) {
	r := NanoRecipe()
	r.Height, r.Width = 28, 28
	if s, g := r.lossScale(); s != 0 || g != 0 {
		t.Errorf("fp32: loss scale %v, growth %d", s, g)
	}
	r.Precision = "fp16"
	if s, g := r.lossScale(); s != DefaultLossScale || g != DefaultLossScaleGrowth {
		t.Errorf("fp16 defaults: loss scale %v, growth %d", s, g)
	}
	for _, c := range []struct {
		scale  float64
		growth int
		field  string
	}{{1000, 0, "loss_scale"}, {-4, 0, "loss_scale"}, {0x1p200, 0, "loss_scale"}, {0, -1, "loss_scale_growth"}} {
		r.LossScale, r.LossScaleGrowth = c.scale, c.growth
		if err := r.Validate(); err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("scale %v growth %d: %v, want an error naming %s", c.scale, c.growth, err, c.field)
		}
	}
}
