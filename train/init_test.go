package train

import (
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nfvk/nfvk/internal/fixtures"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/safetensors"
)

// These tests are pure CPU: LoadInit reads files and never touches a device.

// fixtureLayout is the layout of the timm fixture's model with numClasses
// classes.
func fixtureLayout(t *testing.T, numClasses int) *nfnet.Layout {
	t.Helper()
	cfg, err := nfnet.LoadConfig(fixtures.Path(t, "small_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.NumClasses = numClasses
	l, err := nfnet.NewLayout(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// readTensors returns every tensor of a safetensors file as F32, in name
// order, so that tests can write altered copies.
func readTensors(t *testing.T, path string) []safetensors.Tensor {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []safetensors.Tensor
	for _, name := range f.Names() {
		v, shape, err := f.Float32s(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, safetensors.F32(name, shape, v))
	}
	return out
}

// fileValues returns every tensor of a safetensors file by name.
func fileValues(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]float32{}
	for _, name := range f.Names() {
		if out[name], _, err = f.Float32s(name); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func writeTensors(t *testing.T, name string, tensors []safetensors.Tensor) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := safetensors.WriteFile(path, tensors, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

// freshValues is nfnet.Init of the whole model, by name.
func freshValues(t *testing.T, l *nfnet.Layout, seed uint64) map[string][]float32 {
	t.Helper()
	specs := l.Params()
	init, err := nfnet.Init(specs, seed)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string][]float32, len(specs))
	for i, sp := range specs {
		out[sp.Name] = init[i]
	}
	return out
}

// sameBits reports whether a and b hold the same float32 bit patterns.
func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

func mustLoadInit(t *testing.T, path string, l *nfnet.Layout, o InitOptions) (map[string][]float32, InitReport) {
	t.Helper()
	vals, rep, err := LoadInit(path, l, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := nfnet.CheckWeights(l.Params(), vals); err != nil {
		t.Fatal(err)
	}
	return vals, rep
}

// checkSources checks every parameter's value: from want when the report
// loaded it, from fresh (nfnet.Init) when it re-initialised it, and that
// the two lists partition the model.
func checkSources(t *testing.T, l *nfnet.Layout, vals map[string][]float32, rep InitReport, want, fresh map[string][]float32) {
	t.Helper()
	reinit := map[string]bool{}
	for _, r := range rep.Reinit {
		reinit[r.Name] = true
	}
	for _, sp := range l.Params() {
		loaded := slices.Contains(rep.Loaded, sp.Name)
		switch {
		case loaded == reinit[sp.Name]:
			t.Errorf("%s: loaded %v, re-initialised %v: want exactly one", sp.Name, loaded, reinit[sp.Name])
		case loaded && !sameBits(vals[sp.Name], want[sp.Name]):
			t.Errorf("%s: loaded values differ from the file's", sp.Name)
		case !loaded && !sameBits(vals[sp.Name], fresh[sp.Name]):
			t.Errorf("%s: re-initialised values differ from nfnet.Init's", sp.Name)
		}
	}
}

func mismatchStrings(ms []InitMismatch) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.String())
	}
	return out
}

func reinitNames(rep InitReport) []string {
	var out []string
	for _, r := range rep.Reinit {
		out = append(out, r.Name)
	}
	return out
}

func TestLoadInitSameConfig(t *testing.T) {
	path := fixtures.Path(t, "small_params.safetensors")
	l := fixtureLayout(t, 10)
	vals, rep := mustLoadInit(t, path, l, InitOptions{Seed: 1})
	checkSources(t, l, vals, rep, fileValues(t, path), nil)
	if len(rep.Reinit) != 0 || len(rep.Ignored) != 0 || len(rep.Warnings) != 0 || rep.Checkpoint || rep.EMA {
		t.Errorf("report %+v, want every tensor loaded from a plain file and nothing else", rep)
	}
	if len(rep.Loaded) != len(l.Params()) || rep.Path != path {
		t.Errorf("report loaded %d tensors from %q, want %d from %q", len(rep.Loaded), rep.Path, len(l.Params()), path)
	}
}

func TestLoadInitNewClassCount(t *testing.T) {
	path := fixtures.Path(t, "small_params.safetensors")
	l := fixtureLayout(t, 5)
	const seed = 3
	vals, rep := mustLoadInit(t, path, l, InitOptions{Seed: seed})
	checkSources(t, l, vals, rep, fileValues(t, path), freshValues(t, l, seed))
	if got, want := reinitNames(rep), []string{l.Head.Weight, l.Head.Bias}; !slices.Equal(got, want) {
		t.Fatalf("re-initialised %v, want the head %v", got, want)
	}
	if r := rep.Reinit[0].Reason; !strings.Contains(r, "10 classes") || !strings.Contains(r, "5") {
		t.Errorf("reason %q does not give both class counts", r)
	}
	if !strings.Contains(rep.String(), l.Head.Weight) {
		t.Errorf("summary %q does not name the head", rep.String())
	}
}

func TestLoadInitResetHead(t *testing.T) {
	path := fixtures.Path(t, "small_params.safetensors")
	l := fixtureLayout(t, 10)
	const seed = 9
	vals, rep := mustLoadInit(t, path, l, InitOptions{ResetHead: true, Seed: seed})
	file := fileValues(t, path)
	checkSources(t, l, vals, rep, file, freshValues(t, l, seed))
	if got, want := reinitNames(rep), []string{l.Head.Weight, l.Head.Bias}; !slices.Equal(got, want) {
		t.Fatalf("re-initialised %v, want the head %v", got, want)
	}
	if sameBits(vals[l.Head.Weight], file[l.Head.Weight]) {
		t.Error("the reset head still holds the file's weights")
	}
}

// A backbone without a classifier (timm's num_classes=0) gets a fresh one.
func TestLoadInitHeadless(t *testing.T) {
	l := fixtureLayout(t, 10)
	tensors := slices.DeleteFunc(readTensors(t, fixtures.Path(t, "small_params.safetensors")),
		func(x safetensors.Tensor) bool { return x.Name == l.Head.Weight || x.Name == l.Head.Bias })
	path := writeTensors(t, "backbone.safetensors", tensors)
	vals, rep := mustLoadInit(t, path, l, InitOptions{Seed: 4})
	checkSources(t, l, vals, rep, fileValues(t, path), freshValues(t, l, 4))
	if got := reinitNames(rep); len(got) != 2 || !strings.Contains(rep.Reinit[0].Reason, "no classifier") {
		t.Errorf("re-initialised %v (%+v), want the head, for want of one", got, rep.Reinit)
	}
}

func TestLoadInitOtherArchitecture(t *testing.T) {
	nl, err := nfnet.NewLayout(nfnet.Nano(1, 10))
	if err != nil {
		t.Fatal(err)
	}
	nano := freshValues(t, nl, 11)
	var tensors []safetensors.Tensor
	for _, sp := range nl.Params() {
		tensors = append(tensors, safetensors.F32(sp.Name, sp.Shape, nano[sp.Name]))
	}
	path := writeTensors(t, "nano.safetensors", tensors)
	l := fixtureLayout(t, 10)

	_, _, err = LoadInit(path, l, InitOptions{Seed: 2})
	var me *MismatchError
	if !errors.As(err, &me) {
		t.Fatalf("error %v, want a *MismatchError", err)
	}
	kinds := map[MismatchKind]int{}
	for _, m := range me.Mismatches {
		kinds[m.Kind]++
	}
	if kinds[MissingTensor] == 0 || kinds[ExtraTensor] == 0 || kinds[ShapeMismatch] == 0 {
		t.Errorf("mismatches by kind %v, want missing, extra and mis-shaped tensors", kinds)
	}
	msg := err.Error()
	for _, want := range []string{path,
		"stem.conv1.weight: missing", // the fixture's deep stem
		"stem.conv.weight: extra",    // Nano's single stem conv
		"head.fc.weight: shape [10 256] in the file, the model needs [10 512]", // another feature width, not a class count
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not contain %q:\n%s", want, msg)
		}
	}

	const seed = 2
	vals, rep := mustLoadInit(t, path, l, InitOptions{Partial: true, Seed: seed})
	checkSources(t, l, vals, rep, nano, freshValues(t, l, seed))
	if got, want := mismatchStrings(rep.Warnings), mismatchStrings(me.Mismatches); !slices.Equal(got, want) {
		t.Errorf("warnings %q, want the error's mismatches %q", got, want)
	}
	if len(rep.Ignored) != kinds[ExtraTensor] || !slices.Contains(rep.Ignored, "stem.conv.weight") {
		t.Errorf("ignored %v, want the %d extra tensors", rep.Ignored, kinds[ExtraTensor])
	}
	if len(rep.Loaded) == 0 {
		t.Error("no tensor of matching name and shape was loaded (the skip gains are 0-d in both)")
	}
	// The file's classifier bias has the right shape, but its weight does
	// not: the classifier is initialised afresh as a whole.
	if slices.Contains(rep.Loaded, l.Head.Bias) {
		t.Errorf("%s loaded beside a fresh %s", l.Head.Bias, l.Head.Weight)
	}
}

func TestLoadInitExtraAndDType(t *testing.T) {
	l := fixtureLayout(t, 10)
	tensors := readTensors(t, fixtures.Path(t, "small_params.safetensors"))
	const gain = "stem.conv1.gain"
	i := slices.IndexFunc(tensors, func(x safetensors.Tensor) bool { return x.Name == gain })
	tensors[i] = safetensors.I64(gain, tensors[i].Shape, make([]int64, len(tensors[i].Data)/4))
	tensors = append(tensors, safetensors.F32("num_batches_tracked", nil, []float32{0}))
	path := writeTensors(t, "extra.safetensors", tensors)

	_, _, err := LoadInit(path, l, InitOptions{})
	var me *MismatchError
	if !errors.As(err, &me) || len(me.Mismatches) != 2 {
		t.Fatalf("error %v, want a *MismatchError of two tensors", err)
	}
	if m := me.Mismatches[0]; m.Name != gain || m.Kind != DTypeMismatch {
		t.Errorf("first mismatch %v, want %s's dtype", m, gain)
	}
	if m := me.Mismatches[1]; m.Name != "num_batches_tracked" || m.Kind != ExtraTensor {
		t.Errorf("second mismatch %v, want the extra tensor", m)
	}
	_, rep := mustLoadInit(t, path, l, InitOptions{Partial: true})
	if !slices.Equal(rep.Ignored, []string{"num_batches_tracked"}) || !slices.Equal(reinitNames(rep), []string{gain}) {
		t.Errorf("partial load ignored %v and re-initialised %v", rep.Ignored, reinitNames(rep))
	}
}

// BF16 files (a common form of published weights) widen exactly.
func TestLoadInitBF16(t *testing.T) {
	l := fixtureLayout(t, 10)
	want := map[string][]float32{}
	var tensors []safetensors.Tensor
	for _, x := range readTensors(t, fixtures.Path(t, "small_params.safetensors")) {
		var raw []byte
		var v []float32
		for i := 0; i < len(x.Data); i += 4 {
			raw = append(raw, x.Data[i+2], x.Data[i+3]) // the high half of a little-endian float32
			v = append(v, math.Float32frombits(uint32(x.Data[i+2])<<16|uint32(x.Data[i+3])<<24))
		}
		tensors = append(tensors, safetensors.Tensor{Name: x.Name, DType: safetensors.DTypeBF16, Shape: x.Shape, Data: raw})
		want[x.Name] = v
	}
	path := writeTensors(t, "bf16.safetensors", tensors)
	vals, rep := mustLoadInit(t, path, l, InitOptions{})
	checkSources(t, l, vals, rep, want, nil)
}

func saveTestCheckpoint(t *testing.T, c *Checkpoint) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ckpt-250.safetensors")
	if err := SaveCheckpoint(path, c); err != nil {
		t.Fatal(err)
	}
	return path
}

func tensorValues(m map[string]Tensor) map[string][]float32 {
	out := make(map[string][]float32, len(m))
	for k, v := range m {
		out[k] = v.Data
	}
	return out
}

func TestLoadInitCheckpoint(t *testing.T) {
	cfg := tinyConfig(t)
	c := makeCheckpoint(t, cfg, 250)
	path := saveTestCheckpoint(t, c)
	l, err := nfnet.NewLayout(cfg)
	if err != nil {
		t.Fatal(err)
	}
	vals, rep := mustLoadInit(t, path, l, InitOptions{})
	checkSources(t, l, vals, rep, tensorValues(c.Params), nil)
	if !rep.Checkpoint || rep.EMA {
		t.Errorf("report says checkpoint %v, EMA %v; want the checkpoint's params", rep.Checkpoint, rep.EMA)
	}
	vals, rep = mustLoadInit(t, path, l, InitOptions{EMA: true})
	checkSources(t, l, vals, rep, tensorValues(c.EMA), nil)
	if !rep.Checkpoint || !rep.EMA {
		t.Errorf("report says checkpoint %v, EMA %v; want the checkpoint's EMA", rep.Checkpoint, rep.EMA)
	}

	// Fine-tuning a checkpoint on another dataset: a new head, the rest
	// the checkpoint's.
	cfg5 := cfg
	cfg5.NumClasses = 5
	l5, err := nfnet.NewLayout(cfg5)
	if err != nil {
		t.Fatal(err)
	}
	vals, rep = mustLoadInit(t, path, l5, InitOptions{EMA: true, Seed: 6})
	checkSources(t, l5, vals, rep, tensorValues(c.EMA), freshValues(t, l5, 6))
	if len(rep.Reinit) != 2 {
		t.Errorf("re-initialised %v, want the head", reinitNames(rep))
	}
}

func TestLoadInitEMAOfPlainFile(t *testing.T) {
	path := fixtures.Path(t, "small_params.safetensors")
	_, _, err := LoadInit(path, fixtureLayout(t, 10), InitOptions{EMA: true})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not an nfvk checkpoint") {
		t.Fatalf("error %v, want one naming %s and saying it is not a checkpoint", err, path)
	}
}

// A checkpoint of another model is refused from its header: the damaged
// data, which only LoadCheckpoint's checksums would notice, is never read.
func TestLoadInitDecidesFromHeader(t *testing.T) {
	path := saveTestCheckpoint(t, makeCheckpoint(t, tinyConfig(t), 250))
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	buf[len(buf)-1] ^= 0x40 // the last tensor's data
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	other, err := nfnet.NewLayout(otherConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	var me *MismatchError
	if _, _, err := LoadInit(path, other, InitOptions{}); !errors.As(err, &me) || me.What != "checkpoint params" {
		t.Errorf("another model: error %v, want a *MismatchError of the checkpoint params", err)
	}
	same, err := nfnet.NewLayout(tinyConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadInit(path, same, InitOptions{}); !errors.Is(err, ErrBadCheckpoint) || !strings.Contains(err.Error(), path) {
		t.Errorf("same model: error %v, want the checksum failure naming %s", err, path)
	}
}

func TestLoadInitNonFinite(t *testing.T) {
	l := fixtureLayout(t, 10)
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		tensors := readTensors(t, fixtures.Path(t, "small_params.safetensors"))
		const name = "stages.1.0.conv2.weight"
		i := slices.IndexFunc(tensors, func(x safetensors.Tensor) bool { return x.Name == name })
		copy(tensors[i].Data[12:], safetensors.F32("", nil, []float32{bad}).Data)
		path := writeTensors(t, "nonfinite.safetensors", tensors)
		_, _, err := LoadInit(path, l, InitOptions{})
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), path) ||
			!strings.Contains(err.Error(), "index 3") {
			t.Errorf("%v at %s[3]: error %v, want one naming the tensor, the file and the index", bad, name, err)
		}
	}

	// A checkpoint whose EMA diverged: its params still load.
	cfg := tinyConfig(t)
	c := makeCheckpoint(t, cfg, 250)
	const name = "stem.conv.weight"
	c.EMA[name].Data[0] = float32(math.NaN())
	path := saveTestCheckpoint(t, c)
	l, err := nfnet.NewLayout(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mustLoadInit(t, path, l, InitOptions{})
	if _, _, err := LoadInit(path, l, InitOptions{EMA: true}); err == nil || !strings.Contains(err.Error(), "ema/"+name) {
		t.Errorf("NaN in the EMA: error %v, want one naming ema/%s", err, name)
	}
}

func TestLoadInitCorruptFile(t *testing.T) {
	l := fixtureLayout(t, 10)
	full, err := os.ReadFile(fixtures.Path(t, "small_params.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"empty.safetensors":     nil,
		"short.safetensors":     full[:5],
		"header.safetensors":    full[:200],
		"truncated.safetensors": full[:len(full)-1],
		"garbage.safetensors":   []byte("this is not a safetensors file at all"),
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadInit(path, l, InitOptions{})
		if !errors.Is(err, safetensors.ErrMalformed) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want a malformed-file error naming it", name, err)
		}
	}
	missing := filepath.Join(dir, "absent.safetensors")
	if _, _, err := LoadInit(missing, l, InitOptions{}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: error %v, want fs.ErrNotExist naming it", err)
	}
}
