package train

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/nfvk/nfvk/internal/atomicfile"
)

// MetricsFile is the name of the metrics log inside a run directory.
const MetricsFile = "metrics.jsonl"

// EpochMetrics is one line of metrics.jsonl: the state of the run at the
// end of an epoch. Accuracies are fractions in [0, 1]. Losses may be NaN or
// infinite (a diverged run); such values are written as the JSON strings
// "NaN", "+Inf" and "-Inf", since JSON has no literal for them.
//
// The optional fields are omitted from the line when zero, which reads back
// as zero, so a round trip is lossless; zero there means "not measured".
type EpochMetrics struct {
	// Epoch counts from 1: the line written after the first epoch has
	// Epoch 1.
	Epoch int
	// Step is the number of optimizer steps taken so far.
	Step int64
	// TrainLoss is the mean training loss over the epoch.
	TrainLoss float64
	// TestAcc is the top-1 accuracy on the test split (with the EMA
	// weights).
	TestAcc float64
	// ImagesPerS is the epoch's training throughput.
	ImagesPerS float64
	// ElapsedS is the training time since the run began, in seconds,
	// continued across resumes.
	ElapsedS float64

	// Optional.
	TrainAcc      float64 // top-1 accuracy on the training batches
	TestLoss      float64 // mean loss on the test split
	LR            float64 // learning rate of the epoch's last step
	PeakDeviceMiB float64 // peak device memory in use
	PeakHostMiB   float64 // peak host memory (resident set)
	// LossScale is dynamic loss scaling's scale at the epoch's end and
	// SkippedSteps the steps it skipped so far (fp16 runs only: both are
	// written when LossScale is not 0).
	LossScale    float64
	SkippedSteps int64
}

// jsonFloat is a float64 that survives JSON when not finite.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"NaN"`:
		*f = jsonFloat(math.NaN())
		return nil
	case `"+Inf"`:
		*f = jsonFloat(math.Inf(1))
		return nil
	case `"-Inf"`:
		*f = jsonFloat(math.Inf(-1))
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("%s is not a number", b)
	}
	*f = jsonFloat(v)
	return nil
}

// epochJSON is the line format. Field order is the order on the line.
type epochJSON struct {
	Epoch         int       `json:"epoch"`
	Step          int64     `json:"step"`
	TrainLoss     jsonFloat `json:"train_loss"`
	TrainAcc      jsonFloat `json:"train_acc,omitempty"`
	TestLoss      jsonFloat `json:"test_loss,omitempty"`
	TestAcc       jsonFloat `json:"test_acc"`
	LR            jsonFloat `json:"lr,omitempty"`
	ImagesPerS    jsonFloat `json:"images_per_s"`
	ElapsedS      jsonFloat `json:"elapsed_s"`
	PeakDeviceMiB jsonFloat `json:"peak_device_MiB,omitempty"`
	PeakHostMiB   jsonFloat `json:"peak_host_MiB,omitempty"`
	LossScale     jsonFloat `json:"loss_scale,omitempty"`
	SkippedSteps  *int64    `json:"skipped_steps,omitempty"`
}

// requiredFields must be present on every line; a line lacking one is an
// error rather than a silent zero.
var requiredFields = []string{"epoch", "step", "train_loss", "test_acc", "images_per_s", "elapsed_s"}

// MarshalJSON writes the metrics.jsonl form of m.
func (m EpochMetrics) MarshalJSON() ([]byte, error) {
	var skipped *int64
	if m.LossScale != 0 {
		skipped = &m.SkippedSteps
	}
	return json.Marshal(epochJSON{
		m.Epoch, m.Step, jsonFloat(m.TrainLoss), jsonFloat(m.TrainAcc), jsonFloat(m.TestLoss),
		jsonFloat(m.TestAcc), jsonFloat(m.LR), jsonFloat(m.ImagesPerS), jsonFloat(m.ElapsedS),
		jsonFloat(m.PeakDeviceMiB), jsonFloat(m.PeakHostMiB), jsonFloat(m.LossScale), skipped,
	})
}

// UnmarshalJSON reads one metrics.jsonl line strictly: unknown fields,
// missing required fields and trailing data are errors, and the values are
// validated as by Validate.
func (m *EpochMetrics) UnmarshalJSON(b []byte) error {
	var present map[string]json.RawMessage
	if err := json.Unmarshal(b, &present); err != nil {
		return err
	}
	for _, k := range requiredFields {
		if _, ok := present[k]; !ok {
			return fmt.Errorf("field %q is missing", k)
		}
	}
	var j epochJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	*m = EpochMetrics{
		Epoch: j.Epoch, Step: j.Step, TrainLoss: float64(j.TrainLoss), TestAcc: float64(j.TestAcc),
		ImagesPerS: float64(j.ImagesPerS), ElapsedS: float64(j.ElapsedS), TrainAcc: float64(j.TrainAcc),
		TestLoss: float64(j.TestLoss), LR: float64(j.LR), PeakDeviceMiB: float64(j.PeakDeviceMiB),
		PeakHostMiB: float64(j.PeakHostMiB), LossScale: float64(j.LossScale),
	}
	if j.SkippedSteps != nil {
		m.SkippedSteps = *j.SkippedSteps
	}
	return m.Validate()
}

// Validate checks the ranges of m's fields. Losses may be anything, NaN
// included (a diverged run is still worth recording); everything else must
// be finite and in range.
func (m EpochMetrics) Validate() error {
	switch {
	case m.Epoch < 1:
		return fmt.Errorf("epoch %d, want >= 1", m.Epoch)
	case m.Step < 0:
		return fmt.Errorf("step %d is negative", m.Step)
	}
	for _, f := range []struct {
		name   string
		v      float64
		lo, hi float64
	}{
		{"test_acc", m.TestAcc, 0, 1},
		{"train_acc", m.TrainAcc, 0, 1},
		{"images_per_s", m.ImagesPerS, 0, math.MaxFloat64},
		{"elapsed_s", m.ElapsedS, 0, math.MaxFloat64},
		{"lr", m.LR, 0, math.MaxFloat64},
		{"peak_device_MiB", m.PeakDeviceMiB, 0, math.MaxFloat64},
		{"peak_host_MiB", m.PeakHostMiB, 0, math.MaxFloat64},
		{"loss_scale", m.LossScale, 0, math.MaxFloat64},
		{"skipped_steps", float64(m.SkippedSteps), 0, float64(max(m.Step, 0))},
	} {
		if !(f.v >= f.lo && f.v <= f.hi) { // also catches NaN
			return fmt.Errorf("%s %v outside [%v, %v]", f.name, f.v, f.lo, f.hi)
		}
	}
	return nil
}

// MetricsWriter appends EpochMetrics to a metrics.jsonl file, one JSON
// line per epoch, each written with a single write and fsynced before
// Append returns, so a crash loses at most the line being written and
// leaves at worst a torn last line, which ReadMetrics and ResumeMetrics
// tolerate. It is safe for concurrent use.
type MetricsWriter struct {
	mu   sync.Mutex
	path string
	f    *os.File
	last int // epoch of the last line, 0 if none
	buf  []byte
}

// CreateMetrics creates a new metrics file at path, failing if one exists
// (a new run must not append to an old run's metrics; use ResumeMetrics).
func CreateMetrics(path string) (*MetricsWriter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("train: create metrics: %w", err)
	}
	// Make the new directory entry durable, or a crash could lose the file
	// with every line fsynced into it.
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, fmt.Errorf("train: create metrics %s: %w", path, err)
	}
	return &MetricsWriter{path: path, f: f}, nil
}

// ResumeMetrics reopens the metrics file of a run resumed after epochs
// completed epochs (Checkpoint.Epoch). It keeps the lines of epochs 1 to
// epochs, drops any later ones (written after the checkpoint the run
// resumes from, and about to be redone) and a torn last line, rewriting the
// file atomically when it drops anything, and returns the kept lines and a
// writer appending after them. A missing file is created empty.
func ResumeMetrics(path string, epochs int) (*MetricsWriter, []EpochMetrics, error) {
	kept, torn, err := readMetrics(path)
	if errors.Is(err, fs.ErrNotExist) {
		w, err := CreateMetrics(path)
		return w, nil, err
	}
	if err != nil {
		return nil, nil, err
	}
	n := len(kept)
	for n > 0 && kept[n-1].Epoch > epochs {
		n--
	}
	if n < len(kept) || torn {
		kept = kept[:n]
		var b []byte
		for _, m := range kept {
			line, _ := m.MarshalJSON() // validated when read
			b = append(append(b, line...), '\n')
		}
		if err := writeFileAtomic(path, b); err != nil {
			return nil, nil, fmt.Errorf("train: resume metrics: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("train: resume metrics: %w", err)
	}
	w := &MetricsWriter{path: path, f: f}
	if n > 0 {
		w.last = kept[n-1].Epoch
	}
	return w, kept, nil
}

// Path returns the file the writer appends to.
func (w *MetricsWriter) Path() string { return w.path }

// Append validates m, writes it as one line and fsyncs the file. Epochs
// must increase from line to line.
func (w *MetricsWriter) Append(m EpochMetrics) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("train: metrics %s: append after Close", w.path)
	}
	if err := m.Validate(); err != nil {
		return fmt.Errorf("train: metrics %s: epoch %d: %w", w.path, m.Epoch, err)
	}
	if m.Epoch <= w.last {
		return fmt.Errorf("train: metrics %s: epoch %d after epoch %d", w.path, m.Epoch, w.last)
	}
	line, err := m.MarshalJSON()
	if err != nil {
		return fmt.Errorf("train: metrics %s: epoch %d: %w", w.path, m.Epoch, err)
	}
	// One write of the whole line, so that a crash tears at most this line
	// and O_APPEND never interleaves it with another writer's.
	w.buf = append(append(w.buf[:0], line...), '\n')
	if _, err := w.f.Write(w.buf); err != nil {
		return fmt.Errorf("train: metrics %s: %w", w.path, err)
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("train: metrics %s: sync: %w", w.path, err)
	}
	w.last = m.Epoch
	return nil
}

// Close closes the file. It is idempotent.
func (w *MetricsWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("train: metrics %s: %w", w.path, err)
	}
	return nil
}

// ReadMetrics reads a metrics.jsonl file. A last line without its newline
// that does not parse is a write torn by a crash and is ignored; any other
// bad line (bad JSON, unknown or missing fields, out-of-range values,
// epochs not increasing, an empty line) is an error naming the file and the
// line number.
func ReadMetrics(path string) ([]EpochMetrics, error) {
	ms, _, err := readMetrics(path)
	return ms, err
}

// readMetrics is ReadMetrics that also reports whether the file does not
// end with a complete line (a torn last line, ignored, or a last line
// missing only its newline, kept), which ResumeMetrics must repair before
// appending.
func readMetrics(path string) (ms []EpochMetrics, torn bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("train: read metrics: %w", err)
	}
	last := 0
	for lineNo := 1; len(b) > 0; lineNo++ {
		line, rest, complete := bytes.Cut(b, []byte{'\n'})
		b = rest
		var m EpochMetrics
		err := json.Unmarshal(line, &m)
		if err != nil && !complete {
			// The final write was cut short; it was never acknowledged, so
			// dropping it loses nothing Append reported as saved.
			return ms, true, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("train: metrics %s: line %d: %w", path, lineNo, err)
		}
		if m.Epoch <= last {
			return nil, false, fmt.Errorf("train: metrics %s: line %d: epoch %d after epoch %d", path, lineNo, m.Epoch, last)
		}
		last = m.Epoch
		ms = append(ms, m)
		if !complete {
			// A whole line whose newline was not written: valid, but the
			// next append must not run into it.
			return ms, true, nil
		}
	}
	return ms, false, nil
}

// writeFileAtomic replaces path with b: temporary file, fsync, rename,
// directory fsync, as safetensors.WriteFile does for tensors.
func writeFileAtomic(path string, b []byte) error { return atomicfile.WriteFile(path, b) }

// syncDir makes directory entry changes in dir durable.
func syncDir(dir string) error { return atomicfile.SyncDir(dir) }

// Summary condenses a run's metrics for the checkpoint, so that a resumed
// run knows its best accuracy and elapsed time without its metrics file.
type Summary struct {
	// Epochs is the last epoch with metrics (epochs count from 1), 0 when
	// there are none yet.
	Epochs int
	// TrainLoss and TestAcc are the last epoch's.
	TrainLoss, TestAcc float64
	// BestTestAcc is the highest TestAcc so far, reached at BestEpoch
	// (0 when there are no metrics yet).
	BestTestAcc float64
	BestEpoch   int
	// ElapsedS is the training time so far in seconds.
	ElapsedS float64
}

type summaryJSON struct {
	Epochs      int       `json:"epochs"`
	TrainLoss   jsonFloat `json:"train_loss"`
	TestAcc     jsonFloat `json:"test_acc"`
	BestTestAcc jsonFloat `json:"best_test_acc"`
	BestEpoch   int       `json:"best_epoch"`
	ElapsedS    jsonFloat `json:"elapsed_s"`
}

// MarshalJSON writes s with snake_case keys and non-finite losses as
// strings.
func (s Summary) MarshalJSON() ([]byte, error) {
	return json.Marshal(summaryJSON{s.Epochs, jsonFloat(s.TrainLoss), jsonFloat(s.TestAcc),
		jsonFloat(s.BestTestAcc), s.BestEpoch, jsonFloat(s.ElapsedS)})
}

// UnmarshalJSON reads what MarshalJSON writes, rejecting unknown fields.
func (s *Summary) UnmarshalJSON(b []byte) error {
	var j summaryJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	*s = Summary{j.Epochs, float64(j.TrainLoss), float64(j.TestAcc), float64(j.BestTestAcc),
		j.BestEpoch, float64(j.ElapsedS)}
	return nil
}

func (s Summary) validate() error {
	switch {
	case s.Epochs < 0:
		return fmt.Errorf("epochs %d is negative", s.Epochs)
	case s.BestEpoch < 0 || s.BestEpoch > s.Epochs:
		return fmt.Errorf("best epoch %d outside [0, %d]", s.BestEpoch, s.Epochs)
	case !(s.TestAcc >= 0 && s.TestAcc <= 1) || !(s.BestTestAcc >= 0 && s.BestTestAcc <= 1):
		return fmt.Errorf("accuracy %v or best %v outside [0, 1]", s.TestAcc, s.BestTestAcc)
	case !(s.ElapsedS >= 0) || math.IsInf(s.ElapsedS, 0):
		return fmt.Errorf("elapsed %v s", s.ElapsedS)
	}
	return nil
}

// Summarize condenses metrics (in epoch order) into a Summary.
func Summarize(ms []EpochMetrics) Summary {
	var s Summary
	for _, m := range ms {
		s.Epochs = m.Epoch
		s.TrainLoss, s.TestAcc, s.ElapsedS = m.TrainLoss, m.TestAcc, m.ElapsedS
		if s.BestEpoch == 0 || m.TestAcc > s.BestTestAcc {
			s.BestTestAcc, s.BestEpoch = m.TestAcc, m.Epoch
		}
	}
	return s
}
