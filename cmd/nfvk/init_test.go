package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/internal/fixtures"
)

// TestTrainInit starts the timm fixture model (1 input channel, 10
// classes) from its weights on a 3-channel, 2-class folder dataset. The
// stem's first conv no longer fits: without --init-partial the run is
// refused, naming the tensor and its shapes, before the device is opened
// (the device named then does not exist); with it, that conv and the
// classifier start fresh and the rest loads. Another architecture is
// refused by name too.
func TestTrainInit(t *testing.T) {
	needDevice(t)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := t.TempDir()
	writeFolderData(t, dir, 16)
	cfg, params := fixtures.Path(t, "small_config.json"), fixtures.Path(t, "small_params.safetensors")
	runs := filepath.Join(dir, "runs")
	args := func(extra ...string) []string {
		return append([]string{"train", "--config", cfg, "--data", "folder", "--data-dir", dir, "--size", "32",
			"--init", params, "--batch", "8", "--epochs", "1", "--runs", runs, "--quiet"}, extra...)
	}
	var out bytes.Buffer
	t.Run("refused", func(t *testing.T) {
		t.Setenv("NFVK_DEVICE", "no-such-device")
		for _, a := range [][]string{args("--run", "strict"), {"train", "--variant", "nano", "--data", "folder", "--data-dir", dir,
			"--init", params, "--runs", runs, "--run", "nano", "--quiet"}} {
			err := run(context.Background(), a, &out, &out)
			if err == nil || !strings.Contains(err.Error(), params) || !strings.Contains(err.Error(), "stem.conv1.weight") {
				t.Errorf("%v: error %v, want one naming %s and stem.conv1.weight", a, err, params)
			}
			if err != nil && strings.Contains(err.Error(), "no-such-device") {
				t.Errorf("the device was opened before the weights were checked: %v", err)
			}
		}
	})
	t.Run("partial", func(t *testing.T) {
		out.Reset()
		if err := run(context.Background(), args("--init-partial", "--max-steps", "2", "--run", "partial"), &out, &out); err != nil {
			t.Fatalf("train --init --init-partial: %v\n%s", err, out.String())
		}
		for _, want := range []string{"111 tensors loaded, 3 initialised afresh", "fresh head.fc.weight", "fresh stem.conv1.weight",
			"partial load: shape [4 1 3 3] in the file", "stopped after step 2"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, out.String())
			}
		}
	})
	t.Run("run directory", func(t *testing.T) {
		out.Reset()
		a := []string{"train", "--config", cfg, "--data", "folder", "--data-dir", dir, "--size", "32", "--init", filepath.Join(runs, "partial"),
			"--batch", "8", "--epochs", "1", "--max-steps", "1", "--runs", runs, "--run", "again", "--quiet"}
		if err := run(context.Background(), a, &out, &out); err != nil {
			t.Fatalf("train --init RUN: %v\n%s", err, out.String())
		}
		if want := "ckpt-000000000002.safetensors (checkpoint params): 114 tensors loaded"; !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	})
}
