package train

import (
	"context"
	"testing"
	"time"

	"github.com/nfvk/nfvk/kernels"
	"github.com/nfvk/nfvk/nfnet"
)

// TestTrainTuned: a run with forced tuning tunes the shapes of its step
// and eval pass before training, then trains; Tune measures the same
// model's step on its own.
func TestTrainTuned(t *testing.T) {
	k := loopKernels(t)
	o := tinyOptions(t, k, blobs(64, 1), blobs(32, 2), 1, 32)
	o.MaxSteps = 2
	entries := 0
	o.Tune = &kernels.TuneSetup{Force: true, TuneOptions: kernels.TuneOptions{Budget: 3 * time.Second,
		Progress: func(p kernels.TuneProgress) { entries = p.Total }}}
	res, err := Train(context.Background(), o, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Step != 2 || entries == 0 {
		t.Fatalf("%d steps, %d shapes tuned", res.Step, entries)
	}
	l, err := nfnet.NewLayout(o.Model)
	if err != nil {
		t.Fatal(err)
	}
	rec := o.Recipe
	rec.Height, rec.Width = 8, 8
	tab, err := Tune(context.Background(), k, l, TuneOptions{Recipe: rec, EvalBatch: 32, Setup: kernels.TuneSetup{Force: true,
		TuneOptions: kernels.TuneOptions{Budget: time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Entries) != entries {
		t.Errorf("Tune measured %d shapes, the run %d", len(tab.Entries), entries)
	}
	if _, err := Tune(context.Background(), k, nil, TuneOptions{}); err == nil {
		t.Error("Tune without a model: no error")
	}
}
