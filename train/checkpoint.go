package train

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
	// LossScale is dynamic loss scaling's state (fp16 runs; else nil).
	LossScale *LossScaleState
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
	// A run's files are found by the step in their names: one whose name
	// and content disagree (renamed, or copied over another) would be
	// resumed as the wrong step.
	if step, ok := stepOfName(filepath.Base(path)); ok && step != c.Step {
		return nil, fmt.Errorf("train: checkpoint %s: the file name says step %d, the checkpoint holds step %d (renamed or copied over?): %w", path, step, c.Step, ErrBadCheckpoint)
	}
	c.Path = path
	return c, nil
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
