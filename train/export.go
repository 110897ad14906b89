package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/safetensors"
)

// Metadata of an exported weight file. The keys are few and plain because
// the reader is PyTorch, not nfvk: timm ignores metadata, people read it.
const (
	// ExportProducer is the value of the export's "producer" key.
	ExportProducer = "nfvk export"
	// ExportEMA and ExportRaw are the values of the "weights" key.
	ExportEMA = "ema"
	ExportRaw = "raw"
)

// ErrDeepMindNames is wrapped by ExportWeights' error for a config with
// DeepMind's parameter naming (nfnet.NamesDeepMind).
//
// Such a model is refused rather than renamed: its names are haiku paths
// that no timm state_dict has, and the configs that use them (the
// dm_nfnet variants' DeepMind form) also compute what timm's NormFreeNet
// cannot (DeepMind's stem, weight standardisation and tanh GELU), so a
// renamed file would load into timm and then compute another function.
var ErrDeepMindNames = errors.New("DeepMind parameter names are not timm's state_dict")

// ExportWeights returns a checkpoint's weights as a timm state_dict:
// one F32 tensor per parameter of ck.Config (nfnet.Params: timm's names,
// order and shapes, so SE fc weights are (O,I,1,1) and skip gains 0-d), the
// EMA weights or, when raw, the raw ones, bit for bit. timm's
// NormFreeNet built from the same config accepts the result with
// load_state_dict(strict=True).
//
// The metadata says who wrote it ("producer"), "format" "pt" (the
// safetensors convention for PyTorch tensors), the config ("config_name",
// and "config" as nfvk's JSON, whose fields are timm's NfCfg names), the
// checkpoint's "step" and "epoch", the file it came from ("source", base
// name only), which "weights" ("ema" or "raw") and, when the config uses a
// switch timm does not implement, "not_in_timm" (see TimmDifferences).
//
// It refuses a config with DeepMind naming (ErrDeepMindNames), tensors
// missing or extra or of the wrong shape for the config, and any NaN or
// Inf value, naming the tensor: a diverged run is not worth shipping.
func ExportWeights(ck *Checkpoint, raw bool) ([]safetensors.Tensor, map[string]string, error) {
	src, which := ck.EMA, ExportEMA
	if raw {
		src, which = ck.Params, ExportRaw
	}
	if ck.Config.ParamNames == nfnet.NamesDeepMind {
		return nil, nil, fmt.Errorf("train: export %s: config %q: param_names %q: %w (and timm cannot build its stem, weight standardisation or tanh GELU)",
			exportSource(ck), ck.Config.Name, ck.Config.ParamNames, ErrDeepMindNames)
	}
	specs, err := nfnet.Params(ck.Config)
	if err != nil {
		return nil, nil, fmt.Errorf("train: export %s: config: %w", exportSource(ck), err)
	}
	tensors := make([]safetensors.Tensor, 0, len(specs))
	for _, sp := range specs {
		t, ok := src[sp.Name]
		if !ok {
			return nil, nil, fmt.Errorf("train: export %s: %s tensor %q (shape %v) of the model is missing", exportSource(ck), which, sp.Name, sp.Shape)
		}
		if !sameShape(t.Shape, sp.Shape) || len(t.Data) != sp.Numel() {
			return nil, nil, fmt.Errorf("train: export %s: %s tensor %q has shape %v and %d values, the model's is %v",
				exportSource(ck), which, sp.Name, t.Shape, len(t.Data), sp.Shape)
		}
		if i := nonFinite(t.Data); i >= 0 {
			return nil, nil, fmt.Errorf("train: export %s: %s tensor %q holds %v at index %d: refusing to export a diverged model",
				exportSource(ck), which, sp.Name, t.Data[i], i)
		}
		// Shapes from the spec: a 0-d skip gain is [] there, never nil.
		tensors = append(tensors, safetensors.F32(sp.Name, sp.Shape, t.Data))
	}
	if len(src) != len(specs) {
		known := make(map[string]bool, len(specs))
		for _, sp := range specs {
			known[sp.Name] = true
		}
		for _, name := range slices.Sorted(maps.Keys(src)) {
			if !known[name] {
				return nil, nil, fmt.Errorf("train: export %s: %s tensor %q is not a parameter of the model", exportSource(ck), which, name)
			}
		}
	}
	meta, err := exportMetadata(ck, which)
	if err != nil {
		return nil, nil, err
	}
	return tensors, meta, nil
}

func exportMetadata(ck *Checkpoint, which string) (map[string]string, error) {
	cfg, err := json.Marshal(ck.Config)
	if err != nil {
		return nil, fmt.Errorf("train: export %s: config: %w", exportSource(ck), err)
	}
	meta := map[string]string{
		"producer":    ExportProducer,
		"format":      "pt",
		"config_name": ck.Config.Name,
		"config":      string(cfg),
		"step":        strconv.FormatInt(ck.Step, 10),
		"epoch":       strconv.Itoa(ck.Epoch),
		"weights":     which,
	}
	if ck.Path != "" {
		meta["source"] = filepath.Base(ck.Path)
	}
	if d := TimmDifferences(ck.Config); len(d) > 0 {
		notes, _ := json.Marshal(d) // a []string always encodes
		meta["not_in_timm"] = string(notes)
	}
	return meta, nil
}

// WriteExport writes ExportWeights(ck, raw) to path atomically
// (safetensors.WriteFile: a temporary file in the same directory, fsync,
// rename, directory fsync), replacing any file there: whether replacing is
// wanted is the caller's decision.
func WriteExport(path string, ck *Checkpoint, raw bool) error {
	tensors, meta, err := ExportWeights(ck, raw)
	if err != nil {
		return err
	}
	if err := safetensors.WriteFile(path, tensors, meta); err != nil {
		return fmt.Errorf("train: export: %w", err)
	}
	return nil
}

// TimmDifferences lists the config's switches that timm's NormFreeNet has
// no equivalent for (nfvk's extensions for DeepMind's reference
// behaviour), one sentence each. With none, timm computes what nfvk does
// from the exported weights; with some, the weights still load into timm
// by name and shape, but its model is not the one they were trained in.
// Switches that only change training (drop_path_mode) are not listed:
// an exported model is for inference or fine-tuning in PyTorch.
func TimmDifferences(cfg nfnet.Config) []string {
	var d []string
	if cfg.StdConv == nfnet.StdConvDeepMind {
		d = append(d, `std_conv "deepmind": timm's ScaledStdConv2d computes the "timm" formula only`)
	}
	if cfg.GeluApproximate {
		d = append(d, "gelu_approximate: timm's gelu is the exact erf form")
	}
	if cfg.StemType == "deepmind" {
		d = append(d, `stem_type "deepmind" is not a timm stem (timm's "deep_quad" equals it only with stem_chs 128)`)
	}
	return d
}

// exportSource names the checkpoint in errors.
func exportSource(ck *Checkpoint) string {
	if ck.Path == "" {
		return "(checkpoint not loaded from a file)"
	}
	return ck.Path
}

// nonFinite returns the index of the first NaN or Inf in v, or -1.
func nonFinite(v []float32) int {
	for i, x := range v {
		if !finite(float64(x)) {
			return i
		}
	}
	return -1
}
