package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/train"
)

// idxFile writes an idx file of unsigned bytes.
func idxFile(t *testing.T, path string, dims ...uint32) {
	t.Helper()
	b := []byte{0, 0, 8, byte(len(dims))}
	n := 1
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
		n *= int(d)
	}
	if err := os.WriteFile(path, append(b, make([]byte, n)...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestUserErrors: mistakes users make get errors naming the file and the
// problem, before a device is opened.
func TestUserErrors(t *testing.T) {
	dir := t.TempDir()
	// MNIST splits of different image sizes.
	mnist := filepath.Join(dir, "mnist")
	os.Mkdir(mnist, 0o755)
	idxFile(t, filepath.Join(mnist, "train-images-idx3-ubyte"), 4, 28, 28)
	idxFile(t, filepath.Join(mnist, "train-labels-idx1-ubyte"), 4)
	idxFile(t, filepath.Join(mnist, "t10k-images-idx3-ubyte"), 2, 30, 30)
	idxFile(t, filepath.Join(mnist, "t10k-labels-idx1-ubyte"), 2)
	// A checkpoint renamed to another step, and one with a NaN EMA weight.
	renamedRun, ck := exportRun(t, filepath.Join(dir, "a"), nil)
	renamed := filepath.Join(renamedRun, "ckpt-000000000099.safetensors")
	if err := os.Rename(ck.Path, renamed); err != nil {
		t.Fatal(err)
	}
	var victim string
	nanRun, _ := exportRun(t, filepath.Join(dir, "b"), func(c *train.Checkpoint) {
		// The first tensor, by name, with an index 2 (skip gains are
		// scalars): the same victim every run.
		for _, name := range slices.Sorted(maps.Keys(c.EMA)) {
			if len(c.EMA[name].Data) > 2 {
				victim = name
				break
			}
		}
		c.EMA[victim].Data[2] = float32(math.NaN())
	})
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"train", "--data", "mnist", "--data-dir", mnist, "--runs", dir},
			[]string{"t10k-images-idx3-ubyte", "1x30x30", "train-images-idx3-ubyte", "1x28x28"}},
		{[]string{"eval", renamedRun}, []string{renamed, "file name says step 99, the checkpoint holds step 30"}},
		{[]string{"eval", nanRun}, []string{`ema tensor "` + victim + `"`, "1 NaN", "index 2"}},
	} {
		var out bytes.Buffer
		err := run(context.Background(), c.args, &out, &out)
		if err == nil {
			t.Errorf("%v: no error", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not say %q", c.args, err, w)
			}
		}
	}
}

// TestDeviceFlagNamed: a --device that matches nothing is reported as
// that device, not as the environment variable.
func TestDeviceFlagNamed(t *testing.T) {
	needDevice(t)
	t.Setenv("NFVK_DEVICE", "")
	dir := t.TempDir()
	writeFolderData(t, dir, 2)
	var out bytes.Buffer
	err := run(context.Background(), []string{"train", "--device", "nvidia", "--data", "folder", "--data-dir", dir, "--size", "8", "--runs", dir}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), `device "nvidia" matches none`) || strings.Contains(err.Error(), "NFVK_DEVICE") {
		t.Fatalf("err %v, want the --device value named", err)
	}
}
