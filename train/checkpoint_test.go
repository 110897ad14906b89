package train

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/safetensors"
)

// tinyConfig is a two-stage NFNet small enough that a checkpoint of it is
// a few hundred kilobytes, with every tensor kind (convs, gains, biases,
// 0-d skip gains, SE, classifier).
func tinyConfig(t testing.TB) nfnet.Config {
	t.Helper()
	cfg := nfnet.DefaultConfig()
	cfg.Name = "tiny"
	cfg.InChans, cfg.NumClasses = 1, 10
	cfg.Depths, cfg.Channels = []int{1, 1}, []int{16, 32}
	cfg.GroupSize = 8
	cfg.AttnLayer = "se"
	cfg.Skipinit = true
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// otherConfig differs from tinyConfig in the width of the second stage
// only, so some tensors keep their shapes and some do not.
func otherConfig(t testing.TB) nfnet.Config {
	cfg := tinyConfig(t)
	cfg.Channels = []int{16, 48}
	return cfg
}

// makeCheckpoint returns a valid checkpoint of cfg whose every value
// depends on step, so that two steps' checkpoints differ everywhere.
func makeCheckpoint(t testing.TB, cfg nfnet.Config, step int64) *Checkpoint {
	t.Helper()
	specs, err := nfnet.Params(cfg)
	if err != nil {
		t.Fatal(err)
	}
	init, err := nfnet.Init(specs, 7)
	if err != nil {
		t.Fatal(err)
	}
	const spe = 100
	c := &Checkpoint{
		Step:          step,
		Epoch:         int(step / spe),
		StepsPerEpoch: spe,
		Position:      data.Position{Epoch: int(step / spe), Step: int(step % spe)},
		RNG:           RNGState{Seed: 1<<63 + 5, DataSeed: 42},
		Config:        cfg,
		Run:           json.RawMessage(`{"lr":0.1,"batch":128}`),
		Summary:       Summary{Epochs: 2, TrainLoss: 0.5, TestAcc: 0.875, BestTestAcc: 0.9, BestEpoch: 1, ElapsedS: 12.5},
		Params:        map[string]Tensor{},
		EMA:           map[string]Tensor{},
		Momentum:      map[string]Tensor{},
	}
	s := float32(step)
	for i, sp := range specs {
		p, e, m := slices.Clone(init[i]), slices.Clone(init[i]), make([]float32, len(init[i]))
		for j := range p {
			p[j] += s
			e[j] = e[j]*0.5 + s
			m[j] = s + float32(j)
		}
		c.Params[sp.Name] = Tensor{slices.Clone(sp.Shape), p}
		c.EMA[sp.Name] = Tensor{slices.Clone(sp.Shape), e}
		c.Momentum[sp.Name] = Tensor{slices.Clone(sp.Shape), m}
	}
	return c
}

// equalCheckpoints compares two checkpoints, treating nil and empty shapes
// alike (both are 0-d).
func equalCheckpoints(a, b *Checkpoint) bool {
	norm := func(c *Checkpoint) Checkpoint {
		n := *c
		n.Path = "" // where it came from, not what it holds
		for _, m := range []*map[string]Tensor{&n.Params, &n.EMA, &n.Momentum} {
			cp := maps.Clone(*m)
			for k, v := range cp {
				if len(v.Shape) == 0 {
					v.Shape = nil
				}
				cp[k] = v
			}
			*m = cp
		}
		return n
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func TestCheckpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ckpt.safetensors")
	for _, step := range []int64{0, 1, 250} {
		want := makeCheckpoint(t, tinyConfig(t), step)
		if err := SaveCheckpoint(path, want); err != nil {
			t.Fatal(err)
		}
		got, err := LoadCheckpoint(path)
		if err != nil {
			t.Fatal(err)
		}
		if got.Path != path {
			t.Errorf("loaded checkpoint's Path = %q, want %q", got.Path, path)
		}
		if !equalCheckpoints(got, want) {
			t.Errorf("step %d: loaded checkpoint differs from the saved one", step)
		}
	}
	// Overwriting leaves no temporary files behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after 3 saves, want 1", len(entries))
	}
}

// TestCheckpointNonFinite checks that a diverged run's summary (NaN loss)
// and a run without options survive the round trip.
func TestCheckpointNonFinite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckpt.safetensors")
	c := makeCheckpoint(t, tinyConfig(t), 3)
	c.Summary.TrainLoss = math.NaN()
	c.Run = nil
	for _, p := range c.Params {
		p.Data[0] = float32(math.Inf(1)) // a diverged weight is still state
		break
	}
	if err := SaveCheckpoint(path, c); err != nil {
		t.Fatal(err)
	}
	got, err := LoadCheckpoint(path)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(got.Summary.TrainLoss) || got.Run != nil {
		t.Errorf("summary %+v run %q, want NaN loss and no run options", got.Summary, got.Run)
	}
}

func writeCheckpointBytes(t testing.TB, c *Checkpoint) []byte {
	t.Helper()
	tensors, meta, err := c.encode()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, tensors, meta); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLoadCheckpointTruncated(t *testing.T) {
	full := writeCheckpointBytes(t, makeCheckpoint(t, tinyConfig(t), 5))
	hdr := 8 + int(binary.LittleEndian.Uint64(full))
	dir := t.TempDir()
	for _, n := range []int{0, 1, 7, 8, 9, hdr / 2, hdr - 1, hdr, hdr + 1, hdr + 4, (hdr + len(full)) / 2, len(full) - 4, len(full) - 1} {
		path := filepath.Join(dir, fmt.Sprintf("trunc-%d.safetensors", n))
		if err := os.WriteFile(path, full[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadCheckpoint(path)
		switch {
		case err == nil:
			t.Errorf("truncated to %d of %d bytes: loaded", n, len(full))
		case !strings.Contains(err.Error(), path) || !errors.Is(err, ErrBadCheckpoint):
			t.Errorf("truncated to %d bytes: error %q does not name the file or wrap ErrBadCheckpoint", n, err)
		}
	}
	if _, err := LoadCheckpoint(filepath.Join(dir, "missing.safetensors")); !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrBadCheckpoint) {
		t.Errorf("missing file: %v, want fs.ErrNotExist and not ErrBadCheckpoint", err)
	}
}

// minimalConfig is the smallest model with every kind of header entry:
// one stage, no SE, no skip gains, so its header is about 8 kB.
func minimalConfig(t testing.TB) nfnet.Config {
	cfg := tinyConfig(t)
	cfg.Depths, cfg.Channels = []int{1}, []int{8}
	cfg.AttnLayer, cfg.Skipinit, cfg.GroupSize = "", false, 0
	return cfg
}

// TestCheckpointHeaderBitFlips flips one bit in every byte of the header
// (bit 3i mod 8 of byte i, so every bit position occurs), one byte at a
// time: each damaged file must be rejected, or decode to exactly the
// original checkpoint (a flip JSON cannot notice and that changes
// nothing). One bit per byte rather than all eight keeps the test near two
// seconds; safetensors' header parse dominates it.
func TestCheckpointHeaderBitFlips(t *testing.T) {
	want := makeCheckpoint(t, minimalConfig(t), 5)
	full := writeCheckpointBytes(t, want)
	hdr := 8 + int(binary.LittleEndian.Uint64(full))
	buf := slices.Clone(full)
	accepted := 0
	for i := range hdr {
		bit := byte(1) << (3 * i % 8)
		buf[i] ^= bit
		c, err := parseCheckpoint(buf)
		if err == nil {
			accepted++
			if !equalCheckpoints(c, want) {
				t.Fatalf("byte %d: bit %#x flipped: accepted, with different contents", i, bit)
			}
		}
		buf[i] ^= bit
	}
	t.Logf("%d of %d header bit flips accepted, all harmless", accepted, hdr)

	// Through the file API the error names the file.
	path := filepath.Join(t.TempDir(), "flipped.safetensors")
	buf[hdr-20] ^= 0x04
	os.WriteFile(path, buf, 0o644)
	if _, err := LoadCheckpoint(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("flipped header byte: error %v does not name %s", err, path)
	}
}

// parseCheckpoint decodes a checkpoint from memory, as LoadCheckpoint does
// from a file.
func parseCheckpoint(b []byte) (*Checkpoint, error) {
	f, err := safetensors.Parse(b)
	if err != nil {
		return nil, err
	}
	return decodeCheckpoint(f)
}

// TestCheckpointDataFlips flips one bit in each tensor's data: the
// checksum must catch it and the error name the tensor.
func TestCheckpointDataFlips(t *testing.T) {
	full := writeCheckpointBytes(t, makeCheckpoint(t, tinyConfig(t), 5))
	f, err := safetensors.Parse(full)
	if err != nil {
		t.Fatal(err)
	}
	data := 8 + int64(binary.LittleEndian.Uint64(full))
	for i, name := range f.Names() {
		info, _ := f.Info(name)
		buf := slices.Clone(full)
		pos := data + info.Begin + int64(i)%(info.End-info.Begin)
		buf[pos] ^= 1 << (i % 8)
		_, err := parseCheckpoint(buf)
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", name)) || !strings.Contains(err.Error(), "checksum") {
			t.Errorf("bit flipped in %s: error %v, want a checksum error naming it", name, err)
		}
	}
}

// reseal recomputes the checksums after a test damaged tensors or
// metadata on purpose, so that the validation behind them is what rejects
// the file.
func reseal(tensors []safetensors.Tensor, meta map[string]string) {
	crcs := map[string]string{}
	for _, t := range tensors {
		crcs[t.Name] = tensorCRC(t.Name, t.DType, t.Shape, t.Data)
	}
	b, _ := json.Marshal(crcs)
	meta[metaTensorCRC] = string(b)
	meta[metaMetadataCRC] = metadataCRC(meta)
}

func TestLoadCheckpointInvalid(t *testing.T) {
	cfg := tinyConfig(t)
	base := makeCheckpoint(t, cfg, 5)
	specs, _ := nfnet.Params(cfg)
	first, last := specs[0].Name, specs[len(specs)-1].Name
	drop := func(name string) func([]safetensors.Tensor, map[string]string) []safetensors.Tensor {
		return func(ts []safetensors.Tensor, _ map[string]string) []safetensors.Tensor {
			return slices.DeleteFunc(ts, func(t safetensors.Tensor) bool { return t.Name == name })
		}
	}
	setMeta := func(k, v string) func([]safetensors.Tensor, map[string]string) []safetensors.Tensor {
		return func(ts []safetensors.Tensor, m map[string]string) []safetensors.Tensor {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
			return ts
		}
	}
	otherCfg, _ := json.Marshal(otherConfig(t))
	tests := []struct {
		name   string
		mutate func([]safetensors.Tensor, map[string]string) []safetensors.Tensor
		want   string // in the error
		reseal bool
	}{
		{"missing ema twin", drop("ema/" + first), `parameter "param/` + first + `" has no ema twin`, true},
		{"missing momentum twin", drop("momentum/" + last), `has no momentum twin "momentum/` + last + `"`, true},
		{"orphan ema", drop("param/" + last), `has no parameter "param/` + last + `"`, true},
		{"twin of another shape", func(ts []safetensors.Tensor, _ map[string]string) []safetensors.Tensor {
			for i, t := range ts {
				if t.Name == "momentum/"+first {
					ts[i] = safetensors.F32(t.Name, []int{len(t.Data) / 4}, make([]float32, len(t.Data)/4))
				}
			}
			return ts
		}, `tensor "momentum/` + first + `" has shape`, true},
		{"param of another shape than its config", func(ts []safetensors.Tensor, _ map[string]string) []safetensors.Tensor {
			for i, t := range ts {
				if strings.HasSuffix(t.Name, "/"+first) {
					ts[i] = safetensors.F32(t.Name, []int{len(t.Data) / 4}, make([]float32, len(t.Data)/4))
				}
			}
			return ts
		}, `tensor "param/` + first + `" has shape`, true},
		{"config of another model", setMeta(metaConfig, string(otherCfg)), "do not match the stored config", true},
		{"tensor outside the families", func(ts []safetensors.Tensor, _ map[string]string) []safetensors.Tensor {
			return append(ts, safetensors.F32("grad/x", []int{1}, []float32{1}))
		}, `"grad/x" is not under`, true},
		{"integer tensor", func(ts []safetensors.Tensor, _ map[string]string) []safetensors.Tensor {
			for i, t := range ts {
				if t.Name == "ema/"+last {
					n := len(t.Data) / 4
					ts[i] = safetensors.Tensor{Name: t.Name, DType: safetensors.DTypeI32, Shape: t.Shape, Data: make([]byte, 4*n)}
				}
			}
			return ts
		}, "dtype I32, want F32", true},
		{"no metadata", func(ts []safetensors.Tensor, m map[string]string) []safetensors.Tensor {
			clear(m)
			return ts
		}, "no __metadata__", false},
		{"other format", setMeta(metaFormat, "pytorch"), `"format" is "pytorch"`, true},
		{"newer version", setMeta(metaVersion, "2"), `"format_version" is "2"`, true},
		{"unknown key", setMeta("optimizer", "adam"), `unknown metadata key "optimizer"`, true},
		{"step not a number", setMeta(metaStep, "five"), `"step": "five" is not an integer`, true},
		{"negative epoch", setMeta(metaEpoch, "-1"), `"epoch" is negative`, true},
		{"missing position", setMeta(metaPosition, ""), `"position" is missing`, true},
		{"position with unknown field", setMeta(metaPosition, `{"epoch":0,"step":5,"x":1}`), `unknown field "x"`, true},
		{"step disagrees with position", setMeta(metaStep, "6"), "step 6 is not position", true},
		{"epoch disagrees with position", setMeta(metaEpoch, "1"), "epoch 1 differs from position's epoch 0", true},
		{"position past the epoch", setMeta(metaPosition, `{"epoch":0,"step":100}`), "out of range for 100 steps per epoch", true},
		{"bad config", setMeta(metaConfig, `{"depths":[1],"channels":[]}`), `metadata "config"`, true},
		{"bad rng", setMeta(metaRNG, `{"seed":-1}`), `metadata "rng"`, true},
		{"bad summary", setMeta(metaSummary, `{"epochs":1,"test_acc":1.5}`), "summary", true},
		{"run options not JSON", setMeta(metaRun, `{"lr":`), `metadata "run" is not valid JSON`, true},
		{"tensor without checksum", func(ts []safetensors.Tensor, m map[string]string) []safetensors.Tensor {
			var crcs map[string]string
			json.Unmarshal([]byte(m[metaTensorCRC]), &crcs)
			delete(crcs, "ema/"+last)
			b, _ := json.Marshal(crcs)
			m[metaTensorCRC] = string(b)
			m[metaMetadataCRC] = metadataCRC(m)
			return ts
		}, `"ema/` + last + `" has no checksum`, false},
		{"checksum of a missing tensor", func(ts []safetensors.Tensor, m map[string]string) []safetensors.Tensor {
			var crcs map[string]string
			json.Unmarshal([]byte(m[metaTensorCRC]), &crcs)
			crcs["param/ghost"] = "00000000"
			b, _ := json.Marshal(crcs)
			m[metaTensorCRC] = string(b)
			m[metaMetadataCRC] = metadataCRC(m)
			return ts
		}, `"param/ghost" is listed`, false},
		{"metadata edited without its checksum", setMeta(metaStep, "6"), "metadata checksum", false},
	}
	dir := t.TempDir()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tensors, meta, err := base.encode()
			if err != nil {
				t.Fatal(err)
			}
			tensors = tc.mutate(tensors, meta)
			if tc.reseal {
				reseal(tensors, meta)
			}
			path := filepath.Join(dir, fmt.Sprintf("case%d.safetensors", i))
			if err := safetensors.WriteFile(path, tensors, meta); err != nil {
				t.Fatal(err)
			}
			_, err = LoadCheckpoint(path)
			switch {
			case err == nil:
				t.Fatal("loaded")
			case !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %q does not contain %q", err, tc.want)
			case !strings.Contains(err.Error(), path) || !errors.Is(err, ErrBadCheckpoint):
				t.Errorf("error %q does not name %s or wrap ErrBadCheckpoint", err, path)
			}
		})
	}
}

func TestSaveCheckpointRejects(t *testing.T) {
	cfg := tinyConfig(t)
	specs, _ := nfnet.Params(cfg)
	name := specs[3].Name
	tests := []struct {
		name   string
		mutate func(*Checkpoint)
		want   string
	}{
		{"missing momentum", func(c *Checkpoint) { delete(c.Momentum, name) }, "has no momentum twin"},
		{"ema of another shape", func(c *Checkpoint) {
			e := c.EMA[name]
			c.EMA[name] = Tensor{[]int{len(e.Data)}, e.Data}
		}, "has shape"},
		{"data of the wrong length", func(c *Checkpoint) {
			p := c.Params[name]
			c.Params[name] = Tensor{p.Shape, p.Data[1:]}
		}, "values for shape"},
		{"extra parameter", func(c *Checkpoint) {
			for _, m := range []map[string]Tensor{c.Params, c.EMA, c.Momentum} {
				m["extra"] = Tensor{[]int{1}, []float32{0}}
			}
		}, `"param/extra" is not a parameter of the model`},
		{"no parameters", func(c *Checkpoint) { c.Params, c.EMA, c.Momentum = nil, nil, nil }, "no parameters"},
		{"step off its position", func(c *Checkpoint) { c.Step++ }, "is not position"},
		{"zero steps per epoch", func(c *Checkpoint) { c.StepsPerEpoch = 0 }, "steps_per_epoch 0"},
		{"invalid run options", func(c *Checkpoint) { c.Run = json.RawMessage("{") }, "run options"},
		{"accuracy above 1", func(c *Checkpoint) { c.Summary.TestAcc = 87 }, "summary"},
		{"invalid config", func(c *Checkpoint) { c.Config.Depths = nil }, "config"},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := makeCheckpoint(t, cfg, 5)
			tc.mutate(c)
			path := filepath.Join(dir, "c.safetensors")
			err := SaveCheckpoint(path, c)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %v, want one naming %s and containing %q", err, path, tc.want)
			}
			if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a rejected checkpoint left a file: %v", err)
			}
		})
	}
}

func TestCheckCompatible(t *testing.T) {
	cfg := tinyConfig(t)
	c := makeCheckpoint(t, cfg, 5)
	const path = "runs/x/ckpt-000000000005.safetensors"
	c.Path = path
	specsOf := func(cfg nfnet.Config) []nfnet.ParamSpec {
		s, err := nfnet.Params(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	other := otherConfig(t)
	otherSpecs, _ := nfnet.Params(other)
	// The first tensor, in the model's order, that the checkpoint lacks or
	// holds with another shape.
	var firstDiff string
	for _, s := range otherSpecs {
		if p, ok := c.Params[s.Name]; !ok || !slices.Equal(p.Shape, s.Shape) {
			firstDiff = s.Name
			break
		}
	}
	if firstDiff == "" {
		t.Fatal("test configs have the same parameters")
	}
	deeper := tinyConfig(t)
	deeper.Depths = []int{1, 2}
	deeperSpecs, _ := nfnet.Params(deeper)
	var missing string
	for _, s := range deeperSpecs {
		if _, ok := c.Params[s.Name]; !ok {
			missing = s.Name
			break
		}
	}
	// A model with fewer parameters than the checkpoint (as if the model's
	// code had dropped some).
	fewer := specsOf(cfg)
	fewer = fewer[:len(fewer)-2]

	act := tinyConfig(t)
	act.ActLayer = "gelu"
	renamed := tinyConfig(t)
	renamed.Name = "tiny, renamed"

	tests := []struct {
		name  string
		cfg   nfnet.Config
		specs []nfnet.ParamSpec
		want  string // "" for compatible
	}{
		{"same config", cfg, specsOf(cfg), ""},
		{"only the name differs", renamed, specsOf(renamed), ""},
		{"wider stage", other, otherSpecs, fmt.Sprintf("tensor %q has shape", "param/"+firstDiff)},
		{"deeper model", deeper, deeperSpecs, fmt.Sprintf("tensor %q (shape", "param/"+missing)},
		{"fewer parameters", cfg, fewer, "is not a parameter of the model"},
		{"other activation", act, specsOf(act), `config field "act_layer" is "silu" in the checkpoint, "gelu" in the model`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := c.CheckCompatible(tc.cfg, tc.specs)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) || !errors.Is(err, ErrIncompatible) {
				t.Errorf("error %v, want ErrIncompatible naming %s and containing %q", err, path, tc.want)
			}
		})
	}
}
