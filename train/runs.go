package train

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Names inside a run directory.
const (
	// DefaultRunsRoot is where runs go unless the user says otherwise.
	DefaultRunsRoot = "runs"
	// PlotFile is the loss/accuracy plot.
	PlotFile = "metrics.png"

	ckptPrefix = "ckpt-"
	ckptSuffix = ".safetensors"
	// ckptDigits zero-pads the step so that names also sort by step in a
	// directory listing.
	ckptDigits = 12
)

// ErrNoCheckpoint is wrapped by LatestCheckpoint's error for a directory
// without checkpoints. It also matches fs.ErrNotExist.
var ErrNoCheckpoint = fmt.Errorf("no checkpoint: %w", fs.ErrNotExist)

// Run is a run directory: runs/<name>/ holding metrics.jsonl, metrics.png
// and checkpoints named ckpt-<step>.safetensors.
type Run struct {
	// Dir is the run's directory.
	Dir string
}

// NewRun creates the directory of a new run under root (created if
// needed). A non-empty name must be a plain directory name (ValidRunName)
// and must not exist yet, so a new run never mixes its files with an old
// one's; an empty name becomes now's UTC time as 20060102-150405, with -2,
// -3... appended if runs started within the same second.
func NewRun(root, name string, now time.Time) (*Run, error) {
	if name != "" {
		if err := ValidRunName(name); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("train: runs directory: %w", err)
	}
	if name != "" {
		dir := filepath.Join(root, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("train: run %s already exists (resume it, or choose another name)", dir)
			}
			return nil, fmt.Errorf("train: new run: %w", err)
		}
		return newRun(root, dir)
	}
	base := now.UTC().Format("20060102-150405")
	for i := 1; ; i++ {
		n := base
		if i > 1 {
			n += "-" + strconv.Itoa(i)
		}
		dir := filepath.Join(root, n)
		err := os.Mkdir(dir, 0o755) // atomic: two processes never get the same one
		if err == nil {
			return newRun(root, dir)
		}
		if !errors.Is(err, fs.ErrExist) || i >= 1000 {
			return nil, fmt.Errorf("train: new run: %w", err)
		}
	}
}

// newRun makes the new directory dir's entry in root durable.
func newRun(root, dir string) (*Run, error) {
	if err := syncDir(root); err != nil {
		return nil, fmt.Errorf("train: new run %s: syncing %s: %w", dir, root, err)
	}
	return &Run{Dir: dir}, nil
}

// OpenRun returns the existing run directory dir (to resume or evaluate).
func OpenRun(dir string) (*Run, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("train: open run: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("train: open run: %s is not a directory", dir)
	}
	return &Run{Dir: dir}, nil
}

// ValidRunName checks that name can name a run directory on any system:
// non-empty, at most 100 bytes, of letters, digits, '-', '_' and '.', not
// starting with '.' (hidden, or "." and "..").
func ValidRunName(name string) error {
	if name == "" || len(name) > 100 || name[0] == '.' {
		return fmt.Errorf("train: run name %q: want 1 to 100 characters, not starting with '.'", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("train: run name %q: character %q not allowed (letters, digits, '-', '_', '.')", name, r)
		}
	}
	return nil
}

// MetricsPath is the run's metrics.jsonl.
func (r *Run) MetricsPath() string { return filepath.Join(r.Dir, MetricsFile) }

// PlotPath is the run's metrics.png.
func (r *Run) PlotPath() string { return filepath.Join(r.Dir, PlotFile) }

// CheckpointPath is where the checkpoint after step steps lives.
func (r *Run) CheckpointPath(step int64) string {
	return filepath.Join(r.Dir, fmt.Sprintf("%s%0*d%s", ckptPrefix, ckptDigits, step, ckptSuffix))
}

// SaveCheckpoint writes c atomically to CheckpointPath(c.Step) and then,
// when keep > 0, deletes the oldest checkpoints (by step) beyond the newest
// keep, never the one just written. Temporary files of checkpoint writes
// killed earlier are removed first. It returns the path written. One
// process at a time may save into a run.
func (r *Run) SaveCheckpoint(c *Checkpoint, keep int) (string, error) {
	r.removeStaleTemps()
	path := r.CheckpointPath(c.Step)
	if err := SaveCheckpoint(path, c); err != nil {
		return "", err
	}
	if keep <= 0 {
		return path, nil
	}
	all, err := Checkpoints(r.Dir)
	if err != nil {
		return path, err
	}
	var errs []error
	for _, old := range all[:max(0, len(all)-keep)] {
		if old.Path == path {
			continue
		}
		if err := os.Remove(old.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return path, fmt.Errorf("train: pruning old checkpoints: %w", err)
	}
	return path, nil
}

// removeStaleTemps deletes leftovers of killed checkpoint writes to any
// step's file (SaveCheckpoint alone only knows its own path's).
func (r *Run) removeStaleTemps() {
	entries, err := os.ReadDir(r.Dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "."+ckptPrefix) && strings.Contains(n, ckptSuffix+".tmp") && e.Type().IsRegular() {
			os.Remove(filepath.Join(r.Dir, n))
		}
	}
}

// CheckpointFile is a checkpoint found in a run directory.
type CheckpointFile struct {
	Path string
	Step int64
}

// Checkpoints lists the checkpoints in dir (ckpt-<step>.safetensors), in
// increasing step order. It does not open them.
func Checkpoints(dir string) ([]CheckpointFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("train: checkpoints: %w", err)
	}
	var out []CheckpointFile
	for _, e := range entries {
		step, ok := stepOfName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue // not ours: ckpt-best.safetensors, say
		}
		out = append(out, CheckpointFile{filepath.Join(dir, e.Name()), step})
	}
	slices.SortFunc(out, func(a, b CheckpointFile) int {
		return cmp.Or(cmp.Compare(a.Step, b.Step), strings.Compare(a.Path, b.Path))
	})
	return out, nil
}

// stepOfName returns the step of a checkpoint file name
// (ckpt-<step>.safetensors); ok is false for other names.
func stepOfName(name string) (step int64, ok bool) {
	digits, ok := strings.CutPrefix(name, ckptPrefix)
	if !ok {
		return 0, false
	}
	if digits, ok = strings.CutSuffix(digits, ckptSuffix); !ok || digits == "" || digits[0] == '+' {
		return 0, false
	}
	step, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || step < 0 {
		return 0, false
	}
	return step, true
}

// LatestCheckpoint returns the path of the checkpoint with the highest step
// in the run directory dir, or an error wrapping ErrNoCheckpoint when there
// is none. Since every checkpoint is written atomically, the latest one is
// complete; LoadCheckpoint still verifies it.
func LatestCheckpoint(dir string) (string, error) {
	all, err := Checkpoints(dir)
	if err != nil {
		return "", err
	}
	if len(all) == 0 {
		return "", fmt.Errorf("train: %s: %w", dir, ErrNoCheckpoint)
	}
	return all[len(all)-1].Path, nil
}
