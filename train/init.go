package train

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/safetensors"
)

// InitOptions configure LoadInit.
type InitOptions struct {
	// EMA takes an nfvk checkpoint's EMA instead of its parameters. It is
	// an error for any other file, which has no EMA.
	EMA bool
	// ResetHead re-initialises the classifier even when the file's fits.
	ResetHead bool
	// Partial makes missing, extra and mis-shaped tensors other than the
	// classifier warnings instead of an error: those parameters keep their
	// fresh initialisation and extra tensors are ignored.
	Partial bool
	// Seed is the seed of the fresh initialisation (nfnet.Init) given to
	// the classifier and, with Partial, to the parameters the file lacks.
	Seed uint64
}

// MismatchKind says how a tensor of an initial-weights file fails to fit
// the model.
type MismatchKind int

const (
	// MissingTensor: a parameter of the model is not in the file.
	MissingTensor MismatchKind = iota + 1
	// ExtraTensor: a tensor of the file is not a parameter of the model.
	ExtraTensor
	// ShapeMismatch: the file's tensor has another shape than the model's.
	ShapeMismatch
	// DTypeMismatch: the file's tensor is not floating point.
	DTypeMismatch
)

// InitMismatch is one tensor of an initial-weights file that does not fit
// the model. Name is the parameter name (without a checkpoint's "param/"
// or "ema/" prefix).
type InitMismatch struct {
	Name string
	Kind MismatchKind
	// FileShape is the shape in the file (ExtraTensor, ShapeMismatch,
	// DTypeMismatch); ModelShape the one the model needs (MissingTensor,
	// ShapeMismatch, DTypeMismatch). A 0-d scalar's shape is empty.
	FileShape, ModelShape []int
	// DType is the file's dtype (DTypeMismatch).
	DType safetensors.DType
}

func (m InitMismatch) String() string { return m.Name + ": " + m.problem() }

// problem is String without the name, for a Reinit's reason.
func (m InitMismatch) problem() string {
	switch m.Kind {
	case MissingTensor:
		return fmt.Sprintf("missing (the model needs %v)", m.ModelShape)
	case ExtraTensor:
		return fmt.Sprintf("extra %v (not a parameter of the model)", m.FileShape)
	case ShapeMismatch:
		return fmt.Sprintf("shape %v in the file, the model needs %v", m.FileShape, m.ModelShape)
	case DTypeMismatch:
		return fmt.Sprintf("dtype %s in the file, the model needs floating point %v", m.DType, m.ModelShape)
	}
	return fmt.Sprintf("MismatchKind(%d)", int(m.Kind))
}

// MismatchError is LoadInit's error for a file that does not fit the
// model without Partial: every unfit tensor, parameters in the model's
// order, then extras in name order.
type MismatchError struct {
	// Path is the file; What says which tensors of it were compared
	// ("tensors", "checkpoint params", "checkpoint EMA").
	Path, What string
	Mismatches []InitMismatch
}

func (e *MismatchError) Error() string {
	var missing, extra, other int
	for _, m := range e.Mismatches {
		switch m.Kind {
		case MissingTensor:
			missing++
		case ExtraTensor:
			extra++
		default:
			other++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "train: init %s: the %s do not fit the model (%d missing, %d mis-shaped, %d extra; "+
		"a partial load keeps fresh values for them):", e.Path, e.What, missing, other, extra)
	for _, m := range e.Mismatches {
		b.WriteString("\n\t")
		b.WriteString(m.String())
	}
	return b.String()
}

// Reinit is a parameter LoadInit initialised afresh, and why.
type Reinit struct {
	Name, Reason string
}

// InitReport says what LoadInit did.
type InitReport struct {
	// Path is the file read.
	Path string
	// Checkpoint says the file is an nfvk checkpoint; EMA that its EMA
	// was taken rather than its parameters.
	Checkpoint, EMA bool
	// Loaded are the parameters taken from the file, in the model's order.
	Loaded []string
	// Reinit are the parameters given nfnet.Init's values, in the model's
	// order: the classifier when it was reset or the file's has another
	// class count or is absent, and with Partial every unfit parameter
	// (the whole classifier when part of it is unfit).
	Reinit []Reinit
	// Ignored are the file's tensors that are not parameters of the model
	// (Partial only; without it they are an error), in name order.
	Ignored []string
	// Warnings are, with Partial, the mismatches that would otherwise have
	// been LoadInit's error.
	Warnings []InitMismatch
}

// String summarises the report in a few lines for a log.
func (r InitReport) String() string {
	var b strings.Builder
	src := "safetensors file"
	if r.Checkpoint {
		src = "checkpoint params"
		if r.EMA {
			src = "checkpoint EMA"
		}
	}
	fmt.Fprintf(&b, "init from %s (%s): %d tensors loaded, %d initialised afresh, %d ignored",
		r.Path, src, len(r.Loaded), len(r.Reinit), len(r.Ignored))
	// Warnings need no lines of their own: each is a fresh or an ignored
	// tensor, listed with its reason.
	for _, ri := range r.Reinit {
		fmt.Fprintf(&b, "\n\tfresh %s: %s", ri.Name, ri.Reason)
	}
	for _, name := range r.Ignored {
		fmt.Fprintf(&b, "\n\tignored %s: not a parameter of the model", name)
	}
	return b.String()
}

// LoadInit returns the initial weights of a fine-tuning run of the model
// l, keyed by parameter name (as nfnet.LoadWeights, so nfnet.CheckWeights
// accepts them), read from path: an nfvk checkpoint (recognised by its
// format metadata; its parameters, or with o.EMA its EMA) or any other
// safetensors file of parameters by name, such as timm's state_dicts
// (F32, F16, BF16 or F64 tensors).
//
// The classifier is initialised afresh with nfnet.Init's values for
// o.Seed when o.ResetHead is set, when the file's has another class count
// (fine-tuning on another dataset) or when the file has none (a backbone).
// Every other parameter must be in the file with its shape, and the file
// must hold nothing else; otherwise the error is a *MismatchError listing
// every unfit tensor, unless o.Partial, when those parameters are
// initialised afresh too and the list comes back as warnings.
//
// The decision is taken from the safetensors header alone, before any
// tensor data is read, so that the wrong file fails at once and cheaply,
// even for an F6; a checkpoint is then loaded and verified in full by
// LoadCheckpoint (checksums included, so it briefly holds the params, EMA
// and momentum together: three times the model). A loaded tensor holding a NaN or an infinity is an error
// naming it. Every error names path.
func LoadInit(path string, l *nfnet.Layout, o InitOptions) (map[string][]float32, InitReport, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		// safetensors' message names path.
		return nil, InitReport{}, fmt.Errorf("train: init: %w", err)
	}
	defer f.Close()
	src := initSource{f: f, path: path, what: "tensors"}
	if f.Metadata()[metaFormat] == CheckpointFormat {
		src.prefix, src.what = prefixParam, "checkpoint params"
		if o.EMA {
			src.prefix, src.what = prefixEMA, "checkpoint EMA"
		}
	} else if o.EMA {
		return nil, InitReport{}, fmt.Errorf("train: init %s: the EMA was asked for, but the file is not an nfvk checkpoint "+
			"(no %q metadata %q), and only checkpoints hold an EMA", path, metaFormat, CheckpointFormat)
	}
	specs := l.Params()
	p, err := planInit(src, specs, l.Head, o)
	if err != nil {
		return nil, InitReport{}, err
	}
	vals, err := src.read(p.load)
	if err != nil {
		return nil, InitReport{}, err
	}
	if len(p.fresh) > 0 {
		// nfnet.Init draws each tensor from a stream keyed by the seed and
		// the tensor's name, so initialising only these gives exactly the
		// values a whole-model Init would, without drawing an F6's
		// hundreds of millions of normals for nothing.
		init, err := nfnet.Init(p.fresh, o.Seed)
		if err != nil {
			return nil, InitReport{}, fmt.Errorf("train: init %s: fresh initialisation: %w", path, err)
		}
		for i, sp := range p.fresh {
			vals[sp.Name] = init[i]
		}
	}
	if err := nfnet.CheckWeights(specs, vals); err != nil {
		return nil, InitReport{}, fmt.Errorf("train: init %s: %w", path, err)
	}
	p.report.Path = path
	p.report.Checkpoint = src.prefix != ""
	p.report.EMA = src.prefix == prefixEMA
	return vals, p.report, nil
}

// initSource is the family of tensors of an open file that LoadInit
// reads: all of a plain file's, or those under a checkpoint's prefix.
type initSource struct {
	f      *safetensors.File
	path   string
	prefix string // "" for a plain file
	what   string // for messages
}

// info looks up a parameter's tensor in the header.
func (s initSource) info(name string) (safetensors.TensorInfo, bool) {
	return s.f.Info(s.prefix + name)
}

// names returns the parameter names the file holds, sorted. A
// checkpoint's other families (its momentum, or its parameters when the
// EMA is read) are not candidates, so they are neither used nor extra.
func (s initSource) names() []string {
	var out []string
	for _, full := range s.f.Names() {
		if name, ok := strings.CutPrefix(full, s.prefix); ok {
			out = append(out, name)
		}
	}
	return out
}

// initPlan is what LoadInit decided from the header: the parameters to
// read from the file and those to initialise afresh, both in the model's
// order, and the report so far.
type initPlan struct {
	load, fresh []nfnet.ParamSpec
	report      InitReport
}

// planInit matches the file's header against specs and decides every
// parameter's source, or returns a *MismatchError.
func planInit(src initSource, specs []nfnet.ParamSpec, head nfnet.Head, o InitOptions) (initPlan, error) {
	var p initPlan
	resetHead, headReason, headBad := planHead(src, head, o)
	var bad []InitMismatch
	known := make(map[string]bool, len(specs))
	for _, sp := range specs {
		known[sp.Name] = true
		if sp.Name == head.Weight || sp.Name == head.Bias {
			if resetHead {
				p.fresh = append(p.fresh, sp)
				p.report.Reinit = append(p.report.Reinit, Reinit{sp.Name, headReason})
				continue
			}
			if len(headBad) > 0 {
				// A classifier half loaded, half fresh would be neither
				// the file's nor nfnet.Init's: both halves go fresh.
				reason := "partial load: the rest of the classifier does not fit"
				if m, ok := headBad[sp.Name]; ok {
					bad = append(bad, m)
					reason = "partial load: " + m.problem()
				}
				p.fresh = append(p.fresh, sp)
				p.report.Reinit = append(p.report.Reinit, Reinit{sp.Name, reason})
				continue
			}
		} else if m, ok := checkTensor(src, sp); !ok {
			bad = append(bad, m)
			p.fresh = append(p.fresh, sp)
			p.report.Reinit = append(p.report.Reinit, Reinit{sp.Name, "partial load: " + m.problem()})
			continue
		}
		p.load = append(p.load, sp)
		p.report.Loaded = append(p.report.Loaded, sp.Name)
	}
	for _, name := range src.names() {
		if known[name] {
			continue
		}
		info, _ := src.info(name)
		bad = append(bad, InitMismatch{Name: name, Kind: ExtraTensor, FileShape: info.Shape})
		p.report.Ignored = append(p.report.Ignored, name)
	}
	if len(bad) > 0 && !o.Partial {
		return initPlan{}, &MismatchError{Path: src.path, What: src.what, Mismatches: bad}
	}
	if o.Partial {
		p.report.Warnings = bad
	}
	return p, nil
}

// checkTensor compares the file's tensor for sp with sp.
func checkTensor(src initSource, sp nfnet.ParamSpec) (InitMismatch, bool) {
	info, ok := src.info(sp.Name)
	switch {
	case !ok:
		return InitMismatch{Name: sp.Name, Kind: MissingTensor, ModelShape: sp.Shape}, false
	case !slices.Equal(info.Shape, sp.Shape):
		return InitMismatch{Name: sp.Name, Kind: ShapeMismatch, FileShape: info.Shape, ModelShape: sp.Shape}, false
	case !floatDType(info.DType):
		return InitMismatch{Name: sp.Name, Kind: DTypeMismatch, FileShape: info.Shape, ModelShape: sp.Shape, DType: info.DType}, false
	}
	return InitMismatch{}, true
}

// floatDType reports whether safetensors' Float32s converts d.
func floatDType(d safetensors.DType) bool {
	switch d {
	case safetensors.DTypeF32, safetensors.DTypeF16, safetensors.DTypeBF16, safetensors.DTypeF64:
		return true
	}
	return false
}

// planHead decides the classifier's fate. It is reset (with a reason)
// when asked, when the file has none, or when the file's is a classifier
// of the same features for another class count: that is fine-tuning on
// another dataset, not another model. Anything else unfit (another
// feature width, one tensor of the two, a non-float dtype) is a mismatch
// like any other parameter's, returned by name.
func planHead(src initSource, head nfnet.Head, o InitOptions) (reset bool, reason string, bad map[string]InitMismatch) {
	if o.ResetHead {
		return true, "classifier reset as asked", nil
	}
	w, wok := src.info(head.Weight)
	b, bok := src.info(head.Bias)
	if !wok && !bok {
		return true, "the file has no classifier", nil
	}
	if wok && bok && len(w.Shape) == 2 && w.Shape[1] == head.In && slices.Equal(b.Shape, w.Shape[:1]) &&
		w.Shape[0] != head.Classes && floatDType(w.DType) && floatDType(b.DType) {
		return true, fmt.Sprintf("the file's classifier has %d classes, the model %d", w.Shape[0], head.Classes), nil
	}
	bad = map[string]InitMismatch{}
	for _, sp := range []nfnet.ParamSpec{
		{Name: head.Weight, Shape: []int{head.Classes, head.In}},
		{Name: head.Bias, Shape: []int{head.Classes}},
	} {
		if m, ok := checkTensor(src, sp); !ok {
			bad[sp.Name] = m
		}
	}
	return false, "", bad
}

// read returns the values of specs from the file, each checked finite.
// A checkpoint is read by LoadCheckpoint, which verifies its checksums
// and structure; its tensors are then checked against specs again, in
// case the file changed since its header was read.
func (s initSource) read(specs []nfnet.ParamSpec) (map[string][]float32, error) {
	vals := make(map[string][]float32, len(specs))
	if s.prefix == "" {
		for _, sp := range specs {
			v, _, err := s.f.Float32s(sp.Name)
			if err != nil {
				return nil, fmt.Errorf("train: init %s: tensor %s: %w", s.path, sp.Name, err)
			}
			if err := checkFinite(v); err != nil {
				return nil, fmt.Errorf("train: init %s: tensor %s: %w", s.path, sp.Name, err)
			}
			vals[sp.Name] = v
		}
		return vals, nil
	}
	c, err := LoadCheckpoint(s.path)
	if err != nil {
		return nil, fmt.Errorf("train: init: %w", err)
	}
	fam := c.Params
	if s.prefix == prefixEMA {
		fam = c.EMA
	}
	for _, sp := range specs {
		t, ok := fam[sp.Name]
		if !ok || !slices.Equal(t.Shape, sp.Shape) {
			return nil, fmt.Errorf("train: init %s: tensor %s%s changed while the file was read", s.path, s.prefix, sp.Name)
		}
		if err := checkFinite(t.Data); err != nil {
			return nil, fmt.Errorf("train: init %s: tensor %s%s: %w", s.path, s.prefix, sp.Name, err)
		}
		vals[sp.Name] = t.Data
	}
	return vals, nil
}

// checkFinite rejects NaN and infinite values: training would carry them
// into every weight in one step, and a diverged run's checkpoint or a
// damaged download is better refused before it costs a device.
func checkFinite(v []float32) error {
	var nan, inf, first int
	for i, x := range v {
		switch {
		case math.IsNaN(float64(x)):
			nan++
		case math.IsInf(float64(x), 0):
			inf++
		default:
			continue
		}
		if nan+inf == 1 {
			first = i
		}
	}
	if nan+inf == 0 {
		return nil
	}
	return fmt.Errorf("%d NaN and %d infinite of %d values (the first at index %d)", nan, inf, len(v), first)
}
