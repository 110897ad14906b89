package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nfvk/nfvk/engine"
	"github.com/nfvk/nfvk/train"
)

// TestTrainRefusesTooBigModel: an F3 at 1024 px (about 40 GiB of
// parameters, state and activations) is refused promptly, before its
// run directory exists, with what it needs and what the device has, and
// the command's name said once.
func TestTrainRefusesTooBigModel(t *testing.T) {
	needDevice(t)
	dev, err := engine.Open(engine.Options{})
	if err != nil {
		t.Fatal(err)
	}
	avail := dev.MemoryBudget().Available()
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	if avail > 64<<30 {
		t.Skipf("the device offers %d GiB: the model would fit", avail>>30)
	}
	dir := t.TempDir()
	writeFolderData(t, dir, 2)
	runs := filepath.Join(dir, "runs")
	var out bytes.Buffer
	start := time.Now()
	err = run(context.Background(), []string{"train", "--variant", "f3", "--data", "folder", "--data-dir", dir, "--size", "1024", "--batch", "4",
		"--runs", runs, "--run", "big", "--quiet"}, &out, &out)
	took := time.Since(start)
	if !errors.Is(err, train.ErrDoesNotFit) || !strings.Contains(err.Error(), "of device memory") {
		t.Fatalf("err %v, want ErrDoesNotFit", err)
	}
	if strings.Contains(err.Error(), "train: train:") {
		t.Errorf("the command's name twice: %v", err)
	}
	t.Logf("refused in %v: %v", took, err)
	if took > 20*time.Second { // a second or two unloaded, data loading included
		t.Errorf("took %v to refuse", took)
	}
	if _, err := os.Stat(filepath.Join(runs, "big")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("run directory created for a run that cannot start (%v)", err)
	}
}
