package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/safetensors"
)

// encodeExport runs ExportWeights and parses its output back, as a reader
// of the file would see it.
func encodeExport(t *testing.T, ck *Checkpoint, raw bool) *safetensors.File {
	t.Helper()
	tensors, meta, err := ExportWeights(ck, raw)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, tensors, meta); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestExportWeights: every parameter of the config, by timm name and
// shape, with the chosen family's values bit for bit, and nothing else.
func TestExportWeights(t *testing.T) {
	cfg := tinyConfig(t)
	ck := makeCheckpoint(t, cfg, 250)
	ck.Path = filepath.Join("runs", "x", "ckpt-000000000250.safetensors")
	specs, err := nfnet.Params(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []bool{false, true} {
		want, which := ck.EMA, ExportEMA
		if raw {
			want, which = ck.Params, ExportRaw
		}
		f := encodeExport(t, ck, raw)
		if f.Len() != len(specs) {
			t.Errorf("%s: %d tensors, want the model's %d", which, f.Len(), len(specs))
		}
		var sawSkip, sawSE bool
		for _, sp := range specs {
			info, ok := f.Info(sp.Name)
			if !ok {
				t.Errorf("%s: %s missing", which, sp.Name)
				continue
			}
			if !slices.Equal(info.Shape, sp.Shape) || info.DType != safetensors.DTypeF32 {
				t.Errorf("%s: %s is %s %v, want F32 %v", which, sp.Name, info.DType, info.Shape, sp.Shape)
			}
			sawSkip = sawSkip || (sp.Kind == nfnet.SkipGain && len(info.Shape) == 0)
			sawSE = sawSE || (sp.Kind == nfnet.SEWeight && len(info.Shape) == 4 && info.Shape[2] == 1 && info.Shape[3] == 1)
			got, _, err := f.Float32s(sp.Name)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, want[sp.Name].Data, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
				t.Errorf("%s: %s differs from the checkpoint's values", which, sp.Name)
			}
		}
		if !sawSkip || !sawSE {
			t.Errorf("%s: 0-d skip gain seen %v, (O,I,1,1) SE weight seen %v; the test config must have both", which, sawSkip, sawSE)
		}
		meta := f.Metadata()
		for k, v := range map[string]string{"producer": ExportProducer, "format": "pt", "config_name": "tiny",
			"step": "250", "epoch": "2", "weights": which, "source": "ckpt-000000000250.safetensors"} {
			if meta[k] != v {
				t.Errorf("%s: metadata %q = %q, want %q", which, k, meta[k], v)
			}
		}
		if back, err := nfnet.ParseConfig([]byte(meta["config"])); err != nil || !slices.Equal(back.Channels, cfg.Channels) {
			t.Errorf("%s: metadata config %q does not parse back to the model's (%v)", which, meta["config"], err)
		}
		if _, ok := meta["not_in_timm"]; ok {
			t.Errorf("%s: a timm config is noted as not timm's: %s", which, meta["not_in_timm"])
		}
	}
}

// TestExportRefuses: non-finite values of the exported family, DeepMind
// names and tensors that do not fit the config are errors naming the
// tensor; non-finite values elsewhere are not the export's business.
func TestExportRefuses(t *testing.T) {
	const victim = "stages.1.0.conv2.weight"
	for _, c := range []struct {
		name   string
		raw    bool
		edit   func(ck *Checkpoint)
		want   string
		target error
	}{
		{"nan ema", false, func(ck *Checkpoint) { ck.EMA[victim].Data[3] = float32(math.NaN()) }, `ema tensor "` + victim + `" holds NaN at index 3`, nil},
		{"inf raw", true, func(ck *Checkpoint) { ck.Params[victim].Data[0] = float32(math.Inf(-1)) }, `raw tensor "` + victim + `" holds -Inf`, nil},
		{"missing", false, func(ck *Checkpoint) { delete(ck.EMA, victim) }, `"` + victim + `"`, nil},
		{"shape", false, func(ck *Checkpoint) { ck.EMA[victim] = Tensor{Shape: []int{1}, Data: []float32{0}} }, `"` + victim + `" has shape [1]`, nil},
		{"extra", false, func(ck *Checkpoint) { ck.EMA["stages.9.weight"] = Tensor{Shape: []int{1}, Data: []float32{0}} }, `"stages.9.weight" is not a parameter`, nil},
		{"deepmind names", false, func(ck *Checkpoint) { ck.Config.ParamNames = nfnet.NamesDeepMind }, `param_names "deepmind"`, ErrDeepMindNames},
	} {
		ck := makeCheckpoint(t, tinyConfig(t), 3)
		ck.Path = "ck.safetensors"
		c.edit(ck)
		_, _, err := ExportWeights(ck, c.raw)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), ck.Path) {
			t.Errorf("%s: error %v, want one naming %s and %q", c.name, err, ck.Path, c.want)
		}
		if c.target != nil && !errors.Is(err, c.target) {
			t.Errorf("%s: error %v does not wrap %v", c.name, err, c.target)
		}
	}

	// A diverged raw weight does not stop the EMA's export, nor the reverse.
	ck := makeCheckpoint(t, tinyConfig(t), 3)
	ck.Params[victim].Data[0] = float32(math.NaN())
	if _, _, err := ExportWeights(ck, false); err != nil {
		t.Errorf("EMA export with a NaN raw weight: %v", err)
	}
}

// TestExportNotInTimm: a config with nfvk's DeepMind switches but timm's
// names exports, and the metadata says what timm would compute otherwise.
func TestExportNotInTimm(t *testing.T) {
	cfg := tinyConfig(t)
	cfg.StdConv, cfg.StdConvEps, cfg.GeluApproximate = nfnet.StdConvDeepMind, nfnet.DefaultDeepMindStdConvEps, true
	f := encodeExport(t, makeCheckpoint(t, cfg, 1), false)
	var notes []string
	if err := json.Unmarshal([]byte(f.Metadata()["not_in_timm"]), &notes); err != nil {
		t.Fatalf("metadata not_in_timm: %v", err)
	}
	if len(notes) != 2 || !strings.Contains(notes[0], "std_conv") || !strings.Contains(notes[1], "gelu_approximate") {
		t.Errorf("not_in_timm = %q, want the std_conv and gelu_approximate notes", notes)
	}
}

// TestWriteExport: the file on disk is what ExportWeights returns, and no
// temporary file is left beside it.
func TestWriteExport(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	ck := makeCheckpoint(t, tinyConfig(t), 7)
	if err := WriteExport(path, ck, false); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got, _, err := f.Float32s("head.fc.bias"); err != nil || !slices.Equal(got, ck.EMA["head.fc.bias"].Data) {
		t.Errorf("head.fc.bias = %v (%v), want the EMA's %v", got, err, ck.EMA["head.fc.bias"].Data)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries, want the export alone", len(entries))
	}
}
