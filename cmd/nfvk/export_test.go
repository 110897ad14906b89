package main

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/train"
)

// exportRun saves a checkpoint of nano (1 channel, 10 classes) at step 30
// into a run directory under root and returns the run directory and the
// checkpoint. Its raw weights are nano's init and its EMA a different
// function of them, so an export of the wrong family is caught; edit, when
// not nil, changes the checkpoint before it is saved.
func exportRun(t *testing.T, root string, edit func(*train.Checkpoint)) (string, *train.Checkpoint) {
	t.Helper()
	cfg := nfnet.Nano(1, 10)
	specs, err := nfnet.Params(cfg)
	if err != nil {
		t.Fatal(err)
	}
	init, err := nfnet.Init(specs, 3)
	if err != nil {
		t.Fatal(err)
	}
	ck := &train.Checkpoint{Step: 30, Epoch: 1, StepsPerEpoch: 20, Position: data.Position{Epoch: 1, Step: 10},
		Config: cfg, Params: map[string]train.Tensor{}, EMA: map[string]train.Tensor{}, Momentum: map[string]train.Tensor{}}
	for i, sp := range specs {
		ema := make([]float32, len(init[i]))
		for j, v := range init[i] {
			ema[j] = 0.5*v + 0.25
		}
		ck.Params[sp.Name] = train.Tensor{Shape: sp.Shape, Data: init[i]}
		ck.EMA[sp.Name] = train.Tensor{Shape: sp.Shape, Data: ema}
		ck.Momentum[sp.Name] = train.Tensor{Shape: sp.Shape, Data: make([]float32, len(init[i]))}
	}
	if edit != nil {
		edit(ck)
	}
	r, err := train.NewRun(root, "r", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Path, err = r.SaveCheckpoint(ck, 0); err != nil {
		t.Fatal(err)
	}
	return r.Dir, ck
}

// checkExported reads an exported file back: the layout's parameters by
// name and shape, nothing else, with want's values bit for bit.
func checkExported(t *testing.T, path string, cfg nfnet.Config, want map[string]train.Tensor, which string) {
	t.Helper()
	l, err := nfnet.NewLayout(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := openST(t, path)
	if f.Len() != len(l.Params()) {
		t.Errorf("%s holds %d tensors, the model has %d parameters", path, f.Len(), len(l.Params()))
	}
	for _, sp := range l.Params() {
		info, ok := f.Info(sp.Name)
		if !ok || !slices.Equal(info.Shape, sp.Shape) {
			t.Errorf("%s: %s is %v (present %v), want shape %v", path, sp.Name, info.Shape, ok, sp.Shape)
			continue
		}
		got := tensor(t, f, sp.Name)
		if !slices.EqualFunc(got, want[sp.Name].Data, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
			t.Errorf("%s: %s differs from the checkpoint's %s weights", path, sp.Name, which)
		}
	}
	if m := f.Metadata(); m["weights"] != which || m["producer"] != train.ExportProducer || m["step"] != "30" || m["config_name"] != cfg.Name {
		t.Errorf("%s: metadata %v, want %s weights of step 30 of %s by %s", path, m, which, cfg.Name, train.ExportProducer)
	}
}

func exportCmd(args ...string) (string, error) {
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"export"}, args...), &out, &out)
	return out.String(), err
}

// TestExport: a run directory exports its latest checkpoint's EMA; an
// existing file is kept without --force and replaced with it; --raw
// exports the raw weights; flags go before or after the checkpoint.
func TestExport(t *testing.T) {
	dir := t.TempDir()
	runDir, ck := exportRun(t, filepath.Join(dir, "runs"), nil)
	out := filepath.Join(dir, "model.safetensors")
	msg, err := exportCmd(runDir, "--out", out)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if !strings.HasPrefix(msg, "wrote "+out+": EMA weights of "+ck.Path) || strings.Contains(msg, "note:") {
		t.Errorf("export output %q", msg)
	}
	checkExported(t, out, ck.Config, ck.EMA, train.ExportEMA)

	before, _ := os.ReadFile(out)
	_, err = exportCmd("--raw", "--out", out, ck.Path)
	if err == nil || !strings.Contains(err.Error(), out+" exists; pass --force") {
		t.Errorf("export over an existing file: error %v, want a refusal naming %s", err, out)
	}
	if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
		t.Errorf("a refused export changed %s", out)
	}

	if _, err := exportCmd("--raw", ck.Path, "--force", "--out", out); err != nil {
		t.Fatalf("export --raw --force: %v", err)
	}
	checkExported(t, out, ck.Config, ck.Params, train.ExportRaw)
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("%s holds %d entries, want runs and the export: a temporary file was left", dir, len(entries))
	}
}

// TestExportRefusesCheckpoint: the checkpoint read is never the output,
// with --force or without, and under another name for the same file.
func TestExportRefusesCheckpoint(t *testing.T) {
	runDir, ck := exportRun(t, t.TempDir(), nil)
	link := filepath.Join(runDir, "link.safetensors")
	if err := os.Symlink(filepath.Base(ck.Path), link); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{ck.Path, link} {
		_, err := exportCmd(runDir, "--force", "--out", out)
		if err == nil || !strings.Contains(err.Error(), "an input of this command; refusing to replace it") {
			t.Errorf("export onto the checkpoint as %s: error %v, want a refusal", out, err)
		}
	}
	if _, err := train.LoadCheckpoint(ck.Path); err != nil {
		t.Errorf("the checkpoint no longer loads: %v", err)
	}
}

// TestExportRefusesNaN: a diverged EMA tensor is refused by name and no
// file is written; the raw weights, which are finite, still export.
func TestExportRefusesNaN(t *testing.T) {
	const victim = "stages.1.0.conv2.weight"
	dir := t.TempDir()
	runDir, _ := exportRun(t, filepath.Join(dir, "runs"), func(ck *train.Checkpoint) {
		ck.EMA[victim].Data[5] = float32(math.NaN())
	})
	out := filepath.Join(dir, "model.safetensors")
	_, err := exportCmd(runDir, "--out", out)
	if err == nil || !strings.Contains(err.Error(), `ema tensor "`+victim+`" holds NaN`) {
		t.Errorf("export of a NaN EMA: error %v, want one naming %s", err, victim)
	}
	if _, serr := os.Stat(out); serr == nil {
		t.Errorf("a refused export wrote %s", out)
	}
	if _, err := exportCmd(runDir, "--raw", "--out", out); err != nil {
		t.Errorf("export --raw of finite raw weights: %v", err)
	}
}

// TestExportUsage: --help and argument errors print export's usage line.
func TestExportUsage(t *testing.T) {
	msg, err := exportCmd("--help")
	if err != nil || !strings.HasPrefix(msg, "usage: nfvk export") || !strings.Contains(msg, "-force") {
		t.Errorf("export --help: %v, %q", err, msg)
	}
	for _, args := range [][]string{{}, {"ck.safetensors"}, {"a", "b", "--out", "x"}, {"--no-such-flag"}} {
		_, err := exportCmd(args...)
		if err == nil || !strings.Contains(err.Error(), "usage: nfvk export") {
			t.Errorf("export %q: error %v, want one with the usage line", args, err)
		}
	}
	if _, err := exportCmd(filepath.Join(t.TempDir(), "none"), "--out", "x"); err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("export of a missing checkpoint: error %v, want one naming it", err)
	}
}
