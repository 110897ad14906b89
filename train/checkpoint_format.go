package train

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/nfvk/nfvk/data"
	"github.com/nfvk/nfvk/nfnet"
	"github.com/nfvk/nfvk/safetensors"
)

// Tensor name prefixes of the three tensor families of a checkpoint.
const (
	prefixParam    = "param/"
	prefixEMA      = "ema/"
	prefixMomentum = "momentum/"
)

// Metadata keys. Every key is required except metaRun and metaLossScale
// (fp16 runs); any other key is rejected, because a key this version does
// not know means the file was written by a newer format that forgot to
// bump the version, or damaged.
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
	metaLossScale     = "loss_scale"
)

var knownMeta = map[string]bool{
	metaFormat: true, metaVersion: true, metaStep: true, metaEpoch: true,
	metaStepsPerEpoch: true, metaPosition: true, metaRNG: true, metaConfig: true,
	metaRun: true, metaSummary: true, metaTensorCRC: true, metaMetadataCRC: true,
	metaLossScale: true,
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
	if c.LossScale != nil {
		ls, _ := json.Marshal(c.LossScale)
		meta[metaLossScale] = string(ls)
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
	if c.LossScale, err = decodeLossScale(meta); err != nil {
		return nil, err
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
