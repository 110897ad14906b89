package main

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/train"
)

// writeStripeData writes a three-class folder dataset of 8x8 PNGs: a
// bright left ("a"), middle ("b") or right ("c") third.
func writeStripeData(t *testing.T, dir string, perClass int) {
	writeClassImages(t, dir, []string{"a", "b", "c"}, perClass, func(ci, i, x, y int) uint8 {
		v := uint8((x*29 + y*13 + i*11) % 50)
		if x*3/8 == ci {
			v += 190
		}
		return v
	})
}

// TestTrainClasses: --classes trains a model of the selected classes,
// relabelled in the order given; the checkpoint records the selection,
// eval scores on those classes only, and a resume refuses --classes.
func TestTrainClasses(t *testing.T) {
	dir := t.TempDir()
	writeStripeData(t, dir, 16)
	ctx := context.Background()
	base := []string{"train", "--data", "folder", "--data-dir", dir, "--size", "8", "--runs", filepath.Join(dir, "runs"), "--quiet"}

	// A bad list is refused by name before any device is opened.
	for _, c := range []struct{ list, want string }{
		{"a,d", `--classes "a,d": data: classes: "d" is neither a class name`},
		{"0-3", `--classes "0-3": data: classes: "0-3": class 3 out of range`},
		{"c,2", `--classes "c,2": data: classes: "2" repeats class 2 (c)`},
	} {
		var out bytes.Buffer
		err := run(ctx, append(slices.Clone(base), "--classes", c.list), &out, &out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("--classes %s: error %v, want one containing %q", c.list, err, c.want)
		}
	}

	needDevice(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	cfg := tinyConfigFile(t, dir)
	var out bytes.Buffer
	args := append(slices.Clone(base), "--config", cfg, "--classes", "c,a", "--epochs", "1", "--batch", "8",
		"--crop-pad", "0", "--run", "ca", "--max-steps", "2")
	if err := run(ctx, args, &out, &out); err != nil {
		t.Fatalf("train: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "32 train / 32 test images") || !strings.Contains(out.String(), "classes: c, a (dataset classes [2 0]") {
		t.Errorf("train output does not show the class subset:\n%s", out.String())
	}
	runDir := filepath.Join(dir, "runs", "ca")
	ck, err := loadCheckpointFor(runDir)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := train.LoadRecipe(ck)
	if err != nil {
		t.Fatal(err)
	}
	if ck.Config.NumClasses != 2 || !slices.Equal(rec.ClassSubset, []int{2, 0}) || !slices.Equal(rec.Classes, []string{"c", "a"}) {
		t.Errorf("checkpoint: %d classes, class_subset %v, classes %q; want 2, [2 0], [c a]", ck.Config.NumClasses, rec.ClassSubset, rec.Classes)
	}
	err = run(ctx, []string{"train", "--resume", runDir, "--classes", "a,c"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "--classes cannot change a resumed run") {
		t.Errorf("resume with --classes: error %v, want one refusing --classes", err)
	}
	// The resumed run trains on the checkpoint's classes (the full three
	// would not fit its two-class model).
	out.Reset()
	if err := run(ctx, []string{"train", "--resume", runDir, "--quiet"}, &out, &out); err != nil {
		t.Fatalf("resume: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "32 train / 32 test images") {
		t.Errorf("resume output does not show the class subset:\n%s", out.String())
	}
	out.Reset()
	if err := run(ctx, []string{"eval", runDir}, &out, &out); err != nil {
		t.Fatalf("eval: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "on 32 folder images") {
		t.Errorf("eval does not score the run's two classes: %s", out.String())
	}
}
