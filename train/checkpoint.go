package train

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/safetensors"
)

// Checkpoint format identifiers, stored in the file's __metadata__.
const (
	// CheckpointFormat is the value of the "format" metadata key.
	CheckpointFormat = "nfvk.checkpoint"
	// CheckpointVersion is the value of "format_version" that this package
	// writes and the only one it reads. Bump it whenever the meaning of a
	// key or tensor changes, so that an old binary refuses a new file
	// instead of misreading it.
	CheckpointVersion = 1
)

// Tensor name prefixes of the three tensor families of a checkpoint.
const (
	prefixParam    = "param/"
	prefixEMA      = "ema/"
	prefixMomentum = "momentum/"
)

// Metadata keys. Every key is required except metaRun; any other key is
// rejected, because a key this version does not know means the file was
// written by a newer format that forgot to bump the version, or damaged.
const (
	metaFormat        = "format"
	metaVersion       = "format_version"
	metaStep          = "step"
	metaEpoch         = "epoch"
	metaStepsPerEpoch = "steps_per_epoch"
	metaPosition      = "position"
	metaRNG           = "rng"
	metaConfig        = "config"
	metaRun           = "run"
	metaSummary       = "summary"
	metaTensorCRC     = "tensor_crc32c"
	metaMetadataCRC   = "metadata_crc32c"
)

var knownMeta = map[string]bool{
	metaFormat: true, metaVersion: true, metaStep: true, metaEpoch: true,
	metaStepsPerEpoch: true, metaPosition: true, metaRNG: true, metaConfig: true,
	metaRun: true, metaSummary: true, metaTensorCRC: true, metaMetadataCRC: true,
}

// Sentinel errors of checkpoint loading and checking; test with errors.Is.
var (
	// ErrBadCheckpoint is wrapped by every error LoadCheckpoint returns for
	// a file that exists but is not a valid checkpoint (truncated, corrupt,
	// inconsistent, or another format or version), and by SaveCheckpoint's
	// errors for a Checkpoint that could not be loaded back.
	ErrBadCheckpoint = errors.New("invalid checkpoint")
	// ErrIncompatible is wrapped by CheckCompatible's errors: the
	// checkpoint belongs to another model.
	ErrIncompatible = errors.New("checkpoint does not match the model")
)

// Tensor is one float32 tensor of a checkpoint. Shape is nil or empty for
// a 0-d scalar (the skip gains); len(Data) must equal the product of Shape.
type Tensor struct {
	Shape []int
	Data  []float32
}

// RNGState is all the randomness a run needs to continue exactly. Every
// generator in nfvk is counter-based or keyed by coordinates: the data
// pipeline is a pure function of (DataSeed, Position), and the device's
// dropout and stochastic-depth bits come from Philox (kernels/ref
// RandomBits) keyed by (Seed, stream), where the loop must derive the
// stream from the step, never from a running counter of its own. No
// generator then has hidden state to save, so the seeds plus
// Checkpoint.Step and Position are the whole state.
type RNGState struct {
	// Seed keys parameter initialisation and the model's dropout and
	// stochastic-depth streams.
	Seed uint64 `json:"seed"`
	// DataSeed is data.Config.Seed: shuffling, augmentation and mixing.
	DataSeed uint64 `json:"data_seed"`
}

// Checkpoint is the complete state of a training run between two steps.
//
// Params, EMA and Momentum map the model's parameter names (nfnet
// ParamSpec.Name) to tensors; the three maps have the same keys and shapes,
// which are exactly those of nfnet.Params(Config).
type Checkpoint struct {
	// Path is the file LoadCheckpoint read this checkpoint from, for error
	// messages; it is not stored in the file, and SaveCheckpoint ignores it.
	Path string
	// Step is the number of optimizer steps taken since the run began.
	Step int64
	// Epoch is the number of completed epochs. It equals Position.Epoch
	// and is stored on its own for readers of the metadata.
	Epoch int
	// StepsPerEpoch is the data pipeline's batches per epoch. Step equals
	// Position.Epoch*StepsPerEpoch + Position.Step, so resuming with another
	// batch size or dataset, which would change it, is detectable.
	StepsPerEpoch int
	// Position is the next batch the data loader must emit on resume
	// (data.Config.Start).
	Position data.Position
	// RNG holds the seeds; see RNGState.
	RNG RNGState
	// Config is the model.
	Config nfnet.Config
	// Run holds the training options the run was started with (learning
	// rate, batch size, epochs, augmentation...), as JSON owned by the
	// training loop; nil when absent. This package only checks that it is
	// valid JSON.
	Run json.RawMessage
	// Summary summarises the metrics so far.
	Summary Summary
	// Params are the weights, EMA their exponential moving average (used
	// for evaluation) and Momentum the optimizer's momentum buffers.
	Params, EMA, Momentum map[string]Tensor
}

// SaveCheckpoint validates c and writes it to path as one safetensors file,
// atomically: a temporary file in the same directory, fsync, rename over
// path, directory fsync (safetensors.WriteFile). A crash or SIGKILL at any
// moment leaves either the previous file or the new one at path, never a
// mixture. Temporary files left behind by an earlier writer of the same
// path that was killed are removed first, so at most one exists at a time;
// there must therefore be only one writer per path.
//
// The file holds the tensors param/NAME, ema/NAME and momentum/NAME (F32)
// and, in __metadata__, the format and version, the scalars, the position,
// the seeds, the model config, the run options, the metrics summary and
// CRC-32C checksums of every tensor and of the metadata itself, so that
// LoadCheckpoint detects corruption the safetensors structure cannot.
func SaveCheckpoint(path string, c *Checkpoint) error {
	tensors, meta, err := c.encode()
	if err != nil {
		return fmt.Errorf("train: save checkpoint %s: %w", path, err)
	}
	removeStaleTemps(path)
	if err := safetensors.WriteFile(path, tensors, meta); err != nil {
		return fmt.Errorf("train: save checkpoint: %w", err)
	}
	return nil
}

// encode validates c and returns its tensors and metadata.
func (c *Checkpoint) encode() ([]safetensors.Tensor, map[string]string, error) {
	if err := c.validate(); err != nil {
		return nil, nil, err
	}
	tensors := make([]safetensors.Tensor, 0, 3*len(c.Params))
	crcs := make(map[string]string, 3*len(c.Params))
	for _, fam := range c.families() {
		for _, name := range slices.Sorted(maps.Keys(fam.m)) {
			t := fam.m[name]
			st := safetensors.F32(fam.prefix+name, t.Shape, t.Data)
			crcs[st.Name] = tensorCRC(st.Name, st.DType, st.Shape, st.Data)
			tensors = append(tensors, st)
		}
	}
	meta, err := c.metadata(crcs)
	if err != nil {
		return nil, nil, err
	}
	return tensors, meta, nil
}

// removeStaleTemps deletes the temporary files safetensors.WriteFile
// creates for path ("." + base + ".tmp" + random digits) that a killed
// writer left behind. Failures are ignored: a leftover temporary file
// wastes space but never affects the checkpoint. The SIGKILL test catches
// a change of WriteFile's naming, which would make this a no-op.
func removeStaleTemps(path string) {
	prefix := "." + filepath.Base(path) + ".tmp"
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && e.Type().IsRegular() {
			os.Remove(filepath.Join(filepath.Dir(path), e.Name()))
		}
	}
}

type family struct {
	prefix string
	what   string
	m      map[string]Tensor
}

func (c *Checkpoint) families() []family {
	return []family{
		{prefixParam, "params", c.Params},
		{prefixEMA, "ema", c.EMA},
		{prefixMomentum, "momentum", c.Momentum},
	}
}

// positionJSON is the stored form of data.Position, with stable lower-case
// keys independent of the Go field names.
type positionJSON struct {
	Epoch int `json:"epoch"`
	Step  int `json:"step"`
}

func (c *Checkpoint) metadata(crcs map[string]string) (map[string]string, error) {
	cfg, err := json.Marshal(c.Config)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	pos, _ := json.Marshal(positionJSON{c.Position.Epoch, c.Position.Step})
	rng, _ := json.Marshal(c.RNG)
	sum, err := json.Marshal(c.Summary)
	if err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	crcJSON, _ := json.Marshal(crcs) // keys sorted
	meta := map[string]string{
		metaFormat:        CheckpointFormat,
		metaVersion:       strconv.Itoa(CheckpointVersion),
		metaStep:          strconv.FormatInt(c.Step, 10),
		metaEpoch:         strconv.Itoa(c.Epoch),
		metaStepsPerEpoch: strconv.Itoa(c.StepsPerEpoch),
		metaPosition:      string(pos),
		metaRNG:           string(rng),
		metaConfig:        string(cfg),
		metaSummary:       string(sum),
		metaTensorCRC:     string(crcJSON),
	}
	if c.Run != nil {
		var compact bytes.Buffer
		if err := json.Compact(&compact, c.Run); err != nil {
			return nil, fmt.Errorf("run options: %w", err)
		}
		meta[metaRun] = compact.String()
	}
	meta[metaMetadataCRC] = metadataCRC(meta)
	return meta, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// tensorCRC is the CRC-32C of a tensor's name, dtype, shape and bytes, so
// that a damaged header entry (a renamed tensor, a changed shape that
// still tiles) is caught as well as damaged data.
func tensorCRC(name string, dtype safetensors.DType, shape []int, raw []byte) string {
	h := crc32.New(castagnoli)
	var b []byte
	b = binary.LittleEndian.AppendUint64(b, uint64(len(name)))
	b = append(b, name...)
	b = append(b, dtype...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(shape)))
	for _, d := range shape {
		b = binary.LittleEndian.AppendUint64(b, uint64(d))
	}
	h.Write(b)
	h.Write(raw)
	return fmt.Sprintf("%08x", h.Sum32())
}

// metadataCRC is the CRC-32C of every metadata entry but its own, in key
// order, each key and value length-prefixed so that no two maps collide by
// concatenation.
func metadataCRC(meta map[string]string) string {
	h := crc32.New(castagnoli)
	var b []byte
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		if k == metaMetadataCRC {
			continue
		}
		b = b[:0]
		b = binary.LittleEndian.AppendUint64(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.LittleEndian.AppendUint64(b, uint64(len(meta[k])))
		b = append(b, meta[k]...)
		h.Write(b)
	}
	return fmt.Sprintf("%08x", h.Sum32())
}

// LoadCheckpoint reads and fully validates the checkpoint at path. Beyond
// the safetensors structure it checks the format and version, every
// metadata field, the checksums of the metadata and of every tensor, that
// every parameter has an ema and a momentum twin of the same shape, the
// step/position arithmetic, and that the tensors are exactly the parameters
// of the stored config. Any failure is an error naming path and the field or
// tensor at fault, wrapping ErrBadCheckpoint (and safetensors.ErrMalformed
// when the container itself is damaged); a missing file gives an error
// wrapping fs.ErrNotExist instead.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("train: load checkpoint: %w", err)
		}
		// safetensors' message already names path.
		return nil, fmt.Errorf("train: load checkpoint: %w: %w", err, ErrBadCheckpoint)
	}
	defer f.Close()
	c, err := decodeCheckpoint(f)
	if err != nil {
		return nil, fmt.Errorf("train: checkpoint %s: %w: %w", path, err, ErrBadCheckpoint)
	}
	c.Path = path
	return c, nil
}

// decodeCheckpoint turns a parsed safetensors file into a validated
// Checkpoint. Its errors name the field or tensor; the caller adds the file.
func decodeCheckpoint(f *safetensors.File) (*Checkpoint, error) {
	meta := f.Metadata()
	if meta == nil {
		return nil, errors.New("no __metadata__ (not an nfvk checkpoint)")
	}
	if got := meta[metaFormat]; got != CheckpointFormat {
		return nil, fmt.Errorf("metadata %q is %q, want %q (not an nfvk checkpoint)", metaFormat, got, CheckpointFormat)
	}
	if got := meta[metaVersion]; got != strconv.Itoa(CheckpointVersion) {
		return nil, fmt.Errorf("metadata %q is %q; this nfvk reads version %d only", metaVersion, got, CheckpointVersion)
	}
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		if !knownMeta[k] {
			return nil, fmt.Errorf("unknown metadata key %q", k)
		}
	}
	// The metadata checksum comes before any parsing, so that a damaged
	// value is reported as damage rather than as a puzzling bad field.
	if got, want := metadataCRC(meta), meta[metaMetadataCRC]; got != want {
		return nil, fmt.Errorf("metadata checksum %q does not match its contents (%s): the header is corrupt", want, got)
	}

	c := &Checkpoint{}
	var err error
	if c.Step, err = parseInt(meta, metaStep); err != nil {
		return nil, err
	}
	epoch, err := parseInt(meta, metaEpoch)
	if err != nil {
		return nil, err
	}
	spe, err := parseInt(meta, metaStepsPerEpoch)
	if err != nil {
		return nil, err
	}
	if epoch > math.MaxInt32 || spe > math.MaxInt32 {
		return nil, fmt.Errorf("metadata %q or %q out of range", metaEpoch, metaStepsPerEpoch)
	}
	c.Epoch, c.StepsPerEpoch = int(epoch), int(spe)
	var pos positionJSON
	if err := strictJSON(meta, metaPosition, &pos); err != nil {
		return nil, err
	}
	c.Position = data.Position{Epoch: pos.Epoch, Step: pos.Step}
	if err := strictJSON(meta, metaRNG, &c.RNG); err != nil {
		return nil, err
	}
	if err := strictJSON(meta, metaSummary, &c.Summary); err != nil {
		return nil, err
	}
	if c.Config, err = nfnet.ParseConfig([]byte(meta[metaConfig])); err != nil {
		return nil, fmt.Errorf("metadata %q: %w", metaConfig, err)
	}
	if run, ok := meta[metaRun]; ok {
		if !json.Valid([]byte(run)) {
			return nil, fmt.Errorf("metadata %q is not valid JSON", metaRun)
		}
		c.Run = json.RawMessage(run)
	}
	var crcs map[string]string
	if err := strictJSON(meta, metaTensorCRC, &crcs); err != nil {
		return nil, err
	}

	c.Params, c.EMA, c.Momentum = map[string]Tensor{}, map[string]Tensor{}, map[string]Tensor{}
	for _, full := range f.Names() {
		info, _ := f.Info(full)
		var dst map[string]Tensor
		var name string
		for _, fam := range c.families() {
			if rest, ok := strings.CutPrefix(full, fam.prefix); ok {
				dst, name = fam.m, rest
				break
			}
		}
		switch {
		case dst == nil:
			return nil, fmt.Errorf("tensor %q is not under %s, %s or %s", full, prefixParam, prefixEMA, prefixMomentum)
		case name == "":
			return nil, fmt.Errorf("tensor %q has an empty parameter name", full)
		case info.DType != safetensors.DTypeF32:
			return nil, fmt.Errorf("tensor %q has dtype %s, want F32", full, info.DType)
		}
		want, ok := crcs[full]
		if !ok {
			return nil, fmt.Errorf("tensor %q has no checksum in metadata %q", full, metaTensorCRC)
		}
		raw, err := f.Bytes(full)
		if err != nil {
			return nil, err
		}
		if got := tensorCRC(full, info.DType, info.Shape, raw); got != want {
			return nil, fmt.Errorf("tensor %q: checksum %s, want %s: the data is corrupt", full, got, want)
		}
		v, shape, err := f.Float32s(full)
		if err != nil {
			return nil, err
		}
		dst[name] = Tensor{Shape: shape, Data: v}
	}
	if len(crcs) != f.Len() {
		for _, name := range slices.Sorted(maps.Keys(crcs)) {
			if _, ok := f.Info(name); !ok {
				return nil, fmt.Errorf("tensor %q is listed in metadata %q but missing", name, metaTensorCRC)
			}
		}
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func parseInt(meta map[string]string, key string) (int64, error) {
	s, ok := meta[key]
	if !ok {
		return 0, fmt.Errorf("metadata %q is missing", key)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("metadata %q: %q is not an integer", key, s)
	}
	if v < 0 {
		return 0, fmt.Errorf("metadata %q is negative (%d)", key, v)
	}
	return v, nil
}

// strictJSON decodes meta[key] into v, rejecting unknown fields and
// trailing data.
func strictJSON(meta map[string]string, key string, v any) error {
	s, ok := meta[key]
	if !ok {
		return fmt.Errorf("metadata %q is missing", key)
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("metadata %q: %w", key, err)
	}
	if dec.More() {
		return fmt.Errorf("metadata %q: data after the JSON value", key)
	}
	return nil
}

// validate checks everything about c that does not depend on where it is
// stored. Save and Load share it, so nothing Save accepts fails to load.
func (c *Checkpoint) validate() error {
	switch {
	case c.Step < 0:
		return fmt.Errorf("step %d is negative", c.Step)
	case c.StepsPerEpoch <= 0:
		return fmt.Errorf("steps_per_epoch %d, want > 0", c.StepsPerEpoch)
	case c.Position.Epoch < 0 || c.Position.Step < 0 || c.Position.Step >= c.StepsPerEpoch:
		return fmt.Errorf("position %+v out of range for %d steps per epoch", c.Position, c.StepsPerEpoch)
	case c.Epoch != c.Position.Epoch:
		return fmt.Errorf("epoch %d differs from position's epoch %d", c.Epoch, c.Position.Epoch)
	case c.Step != int64(c.Position.Epoch)*int64(c.StepsPerEpoch)+int64(c.Position.Step):
		return fmt.Errorf("step %d is not position %+v at %d steps per epoch", c.Step, c.Position, c.StepsPerEpoch)
	case c.Run != nil && !json.Valid(c.Run):
		return errors.New("run options are not valid JSON")
	}
	if err := c.Summary.validate(); err != nil {
		return fmt.Errorf("summary: %w", err)
	}
	if len(c.Params) == 0 {
		return errors.New("no parameters")
	}
	for _, fam := range c.families() {
		for _, name := range slices.Sorted(maps.Keys(fam.m)) {
			t := fam.m[name]
			if err := t.check(); err != nil {
				return fmt.Errorf("tensor %q: %w", fam.prefix+name, err)
			}
			if fam.prefix == prefixParam {
				continue
			}
			p, ok := c.Params[name]
			if !ok {
				return fmt.Errorf("tensor %q has no parameter %q", fam.prefix+name, prefixParam+name)
			}
			if !slices.Equal(p.Shape, t.Shape) {
				return fmt.Errorf("tensor %q has shape %v, but %q has %v", fam.prefix+name, t.Shape, prefixParam+name, p.Shape)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Params)) {
		for _, fam := range c.families()[1:] {
			if _, ok := fam.m[name]; !ok {
				return fmt.Errorf("parameter %q has no %s twin %q", prefixParam+name, fam.what, fam.prefix+name)
			}
		}
	}
	specs, err := nfnet.Params(c.Config)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := c.compareSpecs(specs); err != nil {
		return fmt.Errorf("tensors do not match the stored config: %w", err)
	}
	return nil
}

func (t Tensor) check() error {
	n := 1
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("shape %v has a negative dimension", t.Shape)
		}
		if d > 0 && n > math.MaxInt/d {
			return fmt.Errorf("shape %v overflows", t.Shape)
		}
		n *= d
	}
	if len(t.Data) != n {
		return fmt.Errorf("%d values for shape %v (%d)", len(t.Data), t.Shape, n)
	}
	return nil
}

// compareSpecs reports the first difference between the parameters and
// specs: specs in their order (the model's), then any extra parameter in
// name order.
func (c *Checkpoint) compareSpecs(specs []nfnet.ParamSpec) error {
	seen := make(map[string]bool, len(specs))
	for _, s := range specs {
		seen[s.Name] = true
		t, ok := c.Params[s.Name]
		if !ok {
			return fmt.Errorf("tensor %q (shape %v) of the model is missing", prefixParam+s.Name, s.Shape)
		}
		if !sameShape(t.Shape, s.Shape) {
			return fmt.Errorf("tensor %q has shape %v, the model's has %v", prefixParam+s.Name, t.Shape, s.Shape)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Params)) {
		if !seen[name] {
			return fmt.Errorf("tensor %q is not a parameter of the model", prefixParam+name)
		}
	}
	return nil
}

// sameShape treats nil and empty shapes alike: both are 0-d scalars.
func sameShape(a, b []int) bool { return len(a) == len(b) && slices.Equal(a, b) }

// CheckCompatible reports whether c can be loaded into the model given by
// cfg and its parameter specs (nfnet.Params(cfg)): the same parameter names
// with the same shapes, and the same config apart from its free-form name.
// The error names the checkpoint's file (c.Path) and the first mismatching
// tensor, in the model's parameter order, or config field, and wraps
// ErrIncompatible.
//
// Config fields that change no shape (the activation, alpha, drop rates)
// are compared too, because resuming or evaluating with them changed would
// silently train or test another function than the checkpoint's.
func (c *Checkpoint) CheckCompatible(cfg nfnet.Config, specs []nfnet.ParamSpec) error {
	where := c.Path
	if where == "" {
		where = "(not loaded from a file)"
	}
	if err := c.compareSpecs(specs); err != nil {
		return fmt.Errorf("train: checkpoint %s: %w: %w", where, err, ErrIncompatible)
	}
	if field, ck, model, ok := configDiff(c.Config, cfg); !ok {
		return fmt.Errorf("train: checkpoint %s: config field %q is %s in the checkpoint, %s in the model: %w",
			where, field, ck, model, ErrIncompatible)
	}
	return nil
}

// configDiff returns the first JSON field (in name order) where a and b
// differ, ignoring "name", and both values as JSON.
func configDiff(a, b nfnet.Config) (field, va, vb string, same bool) {
	ma, mb := configMap(a), configMap(b)
	keys := slices.Sorted(maps.Keys(ma))
	for k := range mb {
		if _, ok := ma[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if k == "name" || reflect.DeepEqual(ma[k], mb[k]) {
			continue
		}
		ja, _ := json.Marshal(ma[k])
		jb, _ := json.Marshal(mb[k])
		return k, string(ja), string(jb), false
	}
	return "", "", "", true
}

func configMap(c nfnet.Config) map[string]any {
	raw, _ := json.Marshal(c) // a Config holds no unencodable values
	var m map[string]any
	json.Unmarshal(raw, &m)
	return m
}
