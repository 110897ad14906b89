package kernels

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/nfvk/nfvk/internal/atomicfile"
)

// TuneCachePath is where the tuning table of k's device is cached: next
// to the pipeline cache, one file per vendor, device, driver version and
// pipelineCacheUUID; "" when the device has no pipeline cache file.
func (k *Kernels) TuneCachePath() string {
	pc := k.dev.PipelineCachePath()
	if pc == "" {
		return ""
	}
	key := KeyOf(k.dev.Info())
	return filepath.Join(filepath.Dir(pc), fmt.Sprintf("tune-%04x-%04x-%x-%s.json", key.VendorID, key.DeviceID, key.DriverVersion, key.PipelineCacheUUID))
}

// LoadTuneTable reads a cached table for the device key. A missing file
// is (nil, nil); a corrupt file, or one measured on another device or
// driver, is (nil, error saying why): callers warn and tune again.
func LoadTuneTable(path string, key TuneKey) (*TuneTable, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tuning cache %s: %w", path, err)
	}
	var t TuneTable
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("tuning cache %s is corrupt: %w", path, err)
	}
	if t.Device != key {
		return nil, fmt.Errorf("tuning cache %s was measured on %v, not this device (%v)", path, t.Device, key)
	}
	for i, e := range t.Entries {
		n := 0
		for _, set := range []bool{e.GEMM != nil, e.Conv != nil, e.Reduce != nil} {
			if set {
				n++
			}
		}
		if n != 1 || e.Chosen < -1 || e.Chosen >= len(e.Candidates) {
			return nil, fmt.Errorf("tuning cache %s is corrupt: entry %d (%s)", path, i, e.Name())
		}
	}
	return &t, nil
}

// SaveTuneTable writes t to path atomically.
func SaveTuneTable(path string, t *TuneTable) error {
	b, err := json.MarshalIndent(t, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("tuning cache: %w", err)
	}
	if err := atomicfile.WriteFile(path, append(b, '\n')); err != nil {
		return fmt.Errorf("tuning cache: %w", err)
	}
	return nil
}

// TuneSetup is how Tuned tunes.
type TuneSetup struct {
	TuneOptions
	// Force tunes on CPU devices too (lavapipe keeps its CPU-specific
	// kernels otherwise); $NFVK_TUNE=1 sets it for Tuned's callers.
	Force bool
	// Retune measures the shapes again (the cache keeps other shapes).
	Retune bool
	// Warn receives why a cache file was ignored.
	Warn func(string)
}

// TuneApplies reports whether Tuned tunes on k's device: not on CPU
// devices unless forced.
func (k *Kernels) TuneApplies(force bool) bool { return force || k.tune.Class != "cpu" }

// Tuned returns kernels tuned for shapes on k's device, and their table:
// the cached table where it covers the shapes, else the missing shapes
// measured (Tune) and added to the table, which is cached again. On CPU
// devices, unless forced, it returns k and a nil table.
func (k *Kernels) Tuned(ctx context.Context, shapes Shapes, o TuneSetup) (*Kernels, *TuneTable, error) {
	if !k.TuneApplies(o.Force) {
		return k, nil, nil
	}
	path, key := k.TuneCachePath(), KeyOf(k.dev.Info())
	var have *TuneTable
	if path != "" {
		t, err := LoadTuneTable(path, key)
		if err != nil && o.Warn != nil {
			o.Warn(err.Error() + ": tuning again")
		}
		have = t
	}
	if have == nil || have.Class != k.tune.Class {
		have = &TuneTable{Device: key, Class: k.tune.Class}
	}
	// Entries the budget skipped are measured again, and with Retune
	// those of these shapes.
	have.Entries = slices.DeleteFunc(have.Entries, func(e TuneEntry) bool { return !e.measured() || (o.Retune && shapes.has(e)) })
	missing := have.missing(shapes)
	if missing.empty() {
		return k.WithTable(have), have, nil
	}
	t, err := k.Tune(ctx, missing, o.TuneOptions)
	if err != nil {
		return nil, nil, err
	}
	have.Entries = append(have.Entries, t.Entries...)
	if path != "" {
		if err := SaveTuneTable(path, have); err != nil {
			return nil, nil, err
		}
	}
	return k.WithTable(have), have, nil
}

// missing is the shapes of s without an entry in t.
func (t *TuneTable) missing(s Shapes) Shapes {
	var m Shapes
	has := func(f func(TuneEntry) bool) bool { return slices.ContainsFunc(t.Entries, f) }
	for _, g := range s.GEMM {
		if !has(func(e TuneEntry) bool { return e.GEMM != nil && *e.GEMM == g }) {
			m.GEMM = append(m.GEMM, g)
		}
	}
	for _, c := range s.Conv {
		if !has(func(e TuneEntry) bool { return e.Conv != nil && *e.Conv == c.Shape && e.Pass == c.Pass }) {
			m.Conv = append(m.Conv, c)
		}
	}
	for _, r := range s.Reduce {
		if !has(func(e TuneEntry) bool { return e.Reduce != nil && *e.Reduce == r }) {
			m.Reduce = append(m.Reduce, r)
		}
	}
	return m
}

func (s Shapes) empty() bool { return len(s.GEMM)+len(s.Conv)+len(s.Reduce) == 0 }

// has reports whether e is the entry of one of s's shapes.
func (s Shapes) has(e TuneEntry) bool {
	switch {
	case e.GEMM != nil:
		return slices.Contains(s.GEMM, *e.GEMM)
	case e.Conv != nil:
		return slices.Contains(s.Conv, ConvUse{*e.Conv, e.Pass})
	case e.Reduce != nil:
		return slices.Contains(s.Reduce, *e.Reduce)
	}
	return false
}
